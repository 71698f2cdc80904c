import { createHash } from 'node:crypto';
import { OID, ctx, integer, nullDer, octetString, oid, seq, type ParsedCertificate } from '@evpki/x509';
import { CERT_ID_HASHES, HASH_OIDS, type CertIdHash } from './hashes.js';
import type { RequestedCertId } from './request.js';

/** CertID DER as OpenSSL and charge points send it (hash parameters NULL). */
export function encodeCertId(hash: CertIdHash, issuerNameHash: Buffer, issuerKeyHash: Buffer, serial: Buffer): Buffer {
  return seq(seq(oid(HASH_OIDS[hash]), nullDer()), octetString(issuerNameHash), octetString(issuerKeyHash), integer(serial));
}

/** Hashes of an issuer's name and key for every CertID hash algorithm. */
export function issuerHashes(issuer: ParsedCertificate): Record<CertIdHash, { name: Buffer; key: Buffer }> {
  const h = (alg: CertIdHash, b: Buffer): Buffer => createHash(alg).update(b).digest();
  return Object.fromEntries(CERT_ID_HASHES.map((alg) => [alg, { name: h(alg, issuer.subject.der), key: h(alg, issuer.publicKey) }])) as Record<
    CertIdHash,
    { name: Buffer; key: Buffer }
  >;
}

/** Finds which served issuer a CertID names, whatever its hash algorithm. */
export class IssuerIndex<T> {
  private readonly byHashes = new Map<string, T>();

  add(issuer: ParsedCertificate, value: T): void {
    const all = issuerHashes(issuer);
    for (const alg of CERT_ID_HASHES) this.byHashes.set(IssuerIndex.key(alg, all[alg].name, all[alg].key), value);
  }

  match(certId: RequestedCertId): T | undefined {
    return this.byHashes.get(IssuerIndex.key(certId.hash, certId.issuerNameHash, certId.issuerKeyHash));
  }

  private static key(alg: CertIdHash, name: Buffer, key: Buffer): string {
    return alg + name.toString('latin1') + key.toString('latin1');
  }
}

/** An OCSPRequest for the given CertIDs, optionally with a nonce (RFC 8954). */
export function buildOcspRequest(certIds: readonly Buffer[], nonce?: Buffer): Buffer {
  const list = seq(...certIds.map((c) => seq(c)));
  if (!nonce) return seq(seq(list));
  const ext = seq(oid(OID.ocspNonce), octetString(octetString(nonce)));
  return seq(seq(list, ctx(2, seq(ext))));
}

