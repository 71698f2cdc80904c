import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import type { CrlRecord } from '@evpki/store';
import {
  buildCrl,
  buildName,
  buildTbs,
  crossCertificateExtensions,
  inspectSpki,
  keyIdentifier,
  OID,
  parseCertificate,
  randomSerial,
  rootExtensions,
  serviceTlsExtensions,
  signTbs,
  signerFor,
  subCaExtensions,
  type ParsedCertificate,
} from '@evpki/x509';

const YEAR = 365 * 86400_000;

export interface CaSubject {
  readonly organization: string;
  readonly commonName: string;
}

function spkiOf(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

/** A self-signed root CA certificate. */
export function makeRoot(key: KeyObject, subject: CaSubject, now: Date, years: number): ParsedCertificate {
  const name = buildName([
    { oid: OID.organizationName, value: subject.organization },
    { oid: OID.commonName, value: subject.commonName },
  ]);
  const spki = spkiOf(key);
  const publicKey = parseSpkiPublicKey(spki);
  const signer = signerFor(key);
  const tbs = buildTbs(signer.algorithmDer, name, {
    serial: randomSerial(),
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + years * YEAR),
    subject: name,
    spki,
    extensions: rootExtensions(publicKey),
  });
  return parseCertificate(signTbs(tbs, signer));
}

/** A certificate for `key` signed by `parentKey`: O and CN, backdated an hour, never outliving its parent. */
function issueUnder(
  key: KeyObject,
  subject: CaSubject,
  parent: ParsedCertificate,
  parentKey: KeyObject,
  now: Date,
  lifetimeMs: number,
  extensions: (publicKey: Buffer, authorityKeyId: Buffer) => readonly Buffer[],
): ParsedCertificate {
  const name = buildName([
    { oid: OID.organizationName, value: subject.organization },
    { oid: OID.commonName, value: subject.commonName },
  ]);
  const spki = spkiOf(key);
  const signer = signerFor(parentKey);
  const wanted = new Date(now.getTime() + lifetimeMs);
  const tbs = buildTbs(signer.algorithmDer, parent.subject.der, {
    serial: randomSerial(),
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: wanted > parent.notAfter ? parent.notAfter : wanted,
    subject: name,
    spki,
    extensions: extensions(parseSpkiPublicKey(spki), keyIdentifier(parent.publicKey)),
  });
  return parseCertificate(signTbs(tbs, signer));
}

/** An issuing sub-CA certificate (pathLen 0) signed by `parentKey`, never outliving its parent. */
export function makeSubCa(
  key: KeyObject,
  subject: CaSubject,
  parent: ParsedCertificate,
  parentKey: KeyObject,
  now: Date,
  years: number,
  urls: { crl: string; caIssuers: string },
): ParsedCertificate {
  return issueUnder(key, subject, parent, parentKey, now, years * YEAR, (publicKey, aki) => subCaExtensions(publicKey, aki, urls));
}

/**
 * A service TLS certificate (issue 7) signed by the internal service CA, never outliving it: the
 * CA's server certificate with its names, or a client identity (RA, OCSP) named by its CN.
 */
export function makeServiceCert(
  key: KeyObject,
  subject: CaSubject,
  parent: ParsedCertificate,
  parentKey: KeyObject,
  now: Date,
  days: number,
  use: Parameters<typeof serviceTlsExtensions>[2],
): ParsedCertificate {
  return issueUnder(key, subject, parent, parentKey, now, days * 86400_000, (publicKey, aki) => serviceTlsExtensions(publicKey, aki, use));
}

/**
 * A cross-certificate: `subject`'s name and public key, signed by `signerKey` of root `signer`
 * (RFC 4949 cross-certificate; RFC 5280 6.1 path building through it). Never outlives either root.
 */
export function makeCrossCertificate(subject: ParsedCertificate, signer: ParsedCertificate, signerKey: KeyObject, now: Date): ParsedCertificate {
  const sig = signerFor(signerKey);
  const notAfter = subject.notAfter < signer.notAfter ? subject.notAfter : signer.notAfter;
  const tbs = buildTbs(sig.algorithmDer, signer.subject.der, {
    serial: randomSerial(),
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter,
    subject: subject.subject.der,
    spki: subject.spki,
    extensions: crossCertificateExtensions(subject.publicKey, keyIdentifier(signer.publicKey)),
  });
  return parseCertificate(signTbs(tbs, sig));
}

/**
 * An empty CRL signed by `issuerKey` (RFC 5280 section 5), nextUpdate `days` ahead but never past
 * the issuer's notAfter. Used for the root, whose key only the CLI holds.
 */
export function makeEmptyCrl(issuerKey: KeyObject, issuer: ParsedCertificate, number: number, now: Date, days: number): Omit<CrlRecord, 'issuerId'> {
  const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const wanted = new Date(thisUpdate.getTime() + days * 86400_000);
  const nextUpdate = wanted > issuer.notAfter ? issuer.notAfter : wanted;
  const der = buildCrl({
    signer: signerFor(issuerKey),
    issuerName: issuer.subject.der,
    issuerKeyId: keyIdentifier(issuer.publicKey),
    number,
    thisUpdate,
    nextUpdate,
    entries: [],
  });
  return { number, der, thisUpdate: thisUpdate.toISOString(), nextUpdate: nextUpdate.toISOString() };
}

function parseSpkiPublicKey(spki: Buffer): Buffer {
  return inspectSpki(spki).common.publicKey;
}

/** Short stable id of an issuer: role prefix and the start of its key identifier. */
export function issuerIdFor(prefix: string, cert: ParsedCertificate): string {
  return `${prefix}-${keyIdentifier(cert.publicKey).subarray(0, 6).toString('hex')}`;
}
