import { createPublicKey, type KeyObject } from 'node:crypto';
import { certify, crossCertificate, issuerFacts, issuingCa, rootCa, serviceTlsClient, serviceTlsServer, signCrl, type SubjectFacts } from '@evpki/issuance';
import { fileSigner, type Signer } from '@evpki/keys';
import type { CrlRecord, RevokedEntry } from '@evpki/store';
import { buildName, inspectSpki, keyIdentifier, OID, parseCertificate, type ParsedCertificate } from '@evpki/x509';

const YEAR_SECONDS = 365 * 86400;

export interface CaSubject {
  readonly organization: string;
  readonly commonName: string;
}

/** An issuer key held in memory (KeyObject) or anywhere a Signer reaches (a PKCS#11 token). */
export type SigningKey = KeyObject | Signer;

export function asSigner(k: SigningKey): Signer {
  return 'backend' in k ? k : fileSigner(k);
}

/** The certified key as the profiles read it: from a private or public KeyObject, or a Signer's public key. */
export function subjectKey(k: SigningKey): SubjectFacts['publicKey'] {
  const key = 'backend' in k ? k.publicKey : k;
  // createPublicKey takes a private KeyObject only: a public one (a Signer's) is exported as it is.
  const spki = (key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' });
  const info = inspectSpki(spki);
  if (info.type === 'unsupported') throw new Error(`a CA key must be EC or RSA, not ${info.algorithm}`);
  return info;
}

/** A self-signed root CA certificate (root profile). */
export async function makeRoot(key: SigningKey, subject: CaSubject, now: Date, years: number): Promise<ParsedCertificate> {
  const publicKey = subjectKey(key);
  const name = buildName([
    { oid: OID.organizationName, value: subject.organization },
    { oid: OID.commonName, value: subject.commonName },
  ]);
  const self = { id: 'self', name, organization: subject.organization, keyIdentifier: keyIdentifier(publicKey.common.publicKey) };
  const c = await certify(rootCa, self, asSigner(key), { subject: { publicKey, names: subject, subjectName: name }, lifetimeSeconds: years * YEAR_SECONDS, now });
  return parseCertificate(c.der);
}

/** An issuing sub-CA certificate (pathLen 0) signed by `parentKey`, never outliving its parent. */
export async function makeSubCa(
  key: SigningKey,
  subject: CaSubject,
  parent: ParsedCertificate,
  parentKey: SigningKey,
  now: Date,
  years: number,
  urls: { crl: string; caIssuers: string; ocsp: string },
): Promise<ParsedCertificate> {
  const c = await certify(issuingCa, issuerFacts('parent', parent, urls), asSigner(parentKey), { subject: { publicKey: subjectKey(key), names: subject }, lifetimeSeconds: years * YEAR_SECONDS, now });
  return parseCertificate(c.der);
}

/**
 * A service TLS certificate (issue 7) signed by the internal service CA, never outliving it: the
 * CA's server certificate with its names, or a client identity (RA, OCSP) named by its CN.
 */
export async function makeServiceCert(
  key: SigningKey,
  subject: CaSubject,
  parent: ParsedCertificate,
  parentKey: SigningKey,
  now: Date,
  days: number,
  use: { readonly server: { readonly dns: readonly string[]; readonly ipOctets: readonly Buffer[] } } | { readonly client: true },
): Promise<ParsedCertificate> {
  const profile = 'server' in use ? serviceTlsServer : serviceTlsClient;
  const c = await certify(profile, issuerFacts('service-ca', parent), asSigner(parentKey), {
    subject: { publicKey: subjectKey(key), names: subject, ...('server' in use ? { altNames: use.server } : {}) },
    lifetimeSeconds: days * 86400,
    now,
  });
  return parseCertificate(c.der);
}

/**
 * A cross-certificate: `subject`'s name and public key, signed by `signerKey` of root `signer`
 * (RFC 4949 cross-certificate; RFC 5280 6.1 path building through it). Never outlives either root.
 */
export async function makeCrossCertificate(subject: ParsedCertificate, signer: ParsedCertificate, signerKey: SigningKey, now: Date): Promise<ParsedCertificate> {
  const publicKey = inspectSpki(subject.spki);
  if (publicKey.type === 'unsupported') throw new Error('a root key must be EC or RSA');
  const c = await certify(crossCertificate, issuerFacts('cross', signer), asSigner(signerKey), {
    subject: { publicKey, subjectName: subject.subject.der },
    lifetimeSeconds: Math.ceil((subject.notAfter.getTime() - now.getTime()) / 1000) + 3600,
    notAfterCap: subject.notAfter,
    now,
  });
  return parseCertificate(c.der);
}

/**
 * An empty CRL signed by `issuerKey` (RFC 5280 section 5), nextUpdate `days` ahead but never past
 * the issuer's notAfter. Used for the root, whose key only the CLI holds.
 */
export const makeEmptyCrl = (issuerKey: SigningKey, issuer: ParsedCertificate, number: number, now: Date, days: number): Promise<Omit<CrlRecord, 'issuerId'>> =>
  makeCrlOf(issuerKey, issuer, number, now, days, []);

/** A root's CRL listing `revoked` (the CAs under it that were revoked), as makeEmptyCrl; `pki crl sign --root`. */
export async function makeCrlOf(issuerKey: SigningKey, issuer: ParsedCertificate, number: number, now: Date, days: number, revoked: readonly RevokedEntry[]): Promise<Omit<CrlRecord, 'issuerId'>> {
  const entries = revoked.map((r) => ({ serial: r.serial, revokedAt: new Date(r.revokedAt), reason: r.reason }));
  const crl = await signCrl(issuerFacts('root', issuer), asSigner(issuerKey), { number, entries, now, lifetimeSeconds: days * 86400 });
  return { number, der: crl.der, thisUpdate: crl.thisUpdate.toISOString(), nextUpdate: crl.nextUpdate.toISOString() };
}

/** Short stable id of an issuer: role prefix and the start of its key identifier. */
export function issuerIdFor(prefix: string, cert: ParsedCertificate): string {
  return `${prefix}-${keyIdentifier(cert.publicKey).subarray(0, 6).toString('hex')}`;
}
