import { createHash } from 'node:crypto';
import { DerError, Tag, bitStringBytes, children, decodeTime, expectTag, raw, readOnly } from './der.js';
import { parseExtensions, type Extension } from './csr.js';
import { parseName, type ParsedName } from './name.js';
import { OID } from './oids.js';
import { fromPem } from './pem.js';

/** The parts of an X.509 certificate the product reads back (issuers, stored leaves, tests). */
export interface ParsedCertificate {
  readonly der: Buffer;
  readonly tbs: Buffer;
  readonly serial: Buffer;
  readonly serialHex: string;
  readonly issuer: ParsedName;
  readonly subject: ParsedName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Buffer;
  readonly publicKey: Buffer;
  readonly extensions: readonly Extension[];
  readonly signatureAlgorithm: Buffer;
  readonly signature: Buffer;
}

export function certificateFromPem(pem: string): ParsedCertificate {
  return parseCertificate(fromPem(pem, ['CERTIFICATE']).der);
}

export function parseCertificate(der: Buffer): ParsedCertificate {
  const top = readOnly(der, Tag.SEQUENCE);
  const [tbsT, algT, sigT, extra] = children(top, 4);
  if (extra) throw new DerError('Certificate has extra elements');
  const t = children(expectTag(tbsT, Tag.SEQUENCE, 'tbsCertificate'), 10);
  let i = 0;
  if (t[0]?.tag === 0xa0) i++; // version
  const serialT = expectTag(t[i++], Tag.INTEGER, 'serialNumber');
  i++; // signature AlgorithmIdentifier
  const issuer = parseName(raw(tbsT!.value, expectTag(t[i++], Tag.SEQUENCE, 'issuer')));
  const [nb, na] = children(expectTag(t[i++], Tag.SEQUENCE, 'validity'), 2);
  const subject = parseName(raw(tbsT!.value, expectTag(t[i++], Tag.SEQUENCE, 'subject')));
  const spkiT = expectTag(t[i++], Tag.SEQUENCE, 'subjectPublicKeyInfo');
  const spki = raw(tbsT!.value, spkiT);
  const publicKey = bitStringBytes(children(spkiT, 2)[1]!.value);
  const extT = t.slice(i).find((x) => x.tag === 0xa3);
  const extensions = extT ? parseExtensions(expectTag(children(extT, 1)[0], Tag.SEQUENCE, 'Extensions').value, 32) : [];
  return {
    der,
    tbs: raw(top.value, tbsT!),
    serial: serialT.value,
    serialHex: serialToHex(serialT.value),
    issuer,
    subject,
    notBefore: decodeTime(nb!),
    notAfter: decodeTime(na!),
    spki,
    publicKey,
    extensions,
    signatureAlgorithm: raw(top.value, algT!),
    signature: bitStringBytes(expectTag(sigT, Tag.BIT_STRING, 'signature').value),
  };
}

/** Lowercase hex without leading zeros, the OCPP CertificateHashData form. */
export function serialToHex(serial: Buffer): string {
  return serial.toString('hex').replace(/^0+(?=.)/, '');
}

/** The serial's octets from its hex form (serialToHex's inverse; odd-length hex gets its leading zero back). */
export function serialFromHex(hex: string): Buffer {
  return Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex');
}

export function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export function subjectKeyIdentifierOf(cert: ParsedCertificate): Buffer | undefined {
  const ext = cert.extensions.find((e) => e.oid === OID.subjectKeyIdentifier);
  return ext ? readOnly(ext.value, Tag.OCTET_STRING).value : undefined;
}


/** OCPP CertificateHashData of a certificate: hashes of its issuer's name and key, and its serial. */
export interface CertificateHashData {
  readonly hashAlgorithm: 'SHA256' | 'SHA384' | 'SHA512';
  readonly issuerNameHash: string;
  readonly issuerKeyHash: string;
  readonly serialNumber: string;
}

export function certificateHashData(cert: ParsedCertificate, issuer: ParsedCertificate, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256'): CertificateHashData {
  const h = (b: Buffer): string => createHash(hash).update(b).digest('hex');
  return {
    hashAlgorithm: hash.toUpperCase() as CertificateHashData['hashAlgorithm'],
    issuerNameHash: h(cert.issuer.der),
    issuerKeyHash: h(issuer.publicKey),
    serialNumber: cert.serialHex,
  };
}
