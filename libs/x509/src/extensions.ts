import { isIPv4, isIPv6 } from 'node:net';
import { Tag, bool, integer, octetString, oid, seq, tlv } from './der.js';
import { OID } from './oids.js';

/** Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING } */
export function extension(extOid: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(extOid), bool(true), octetString(value)) : seq(oid(extOid), octetString(value));
}

export function basicConstraints(ca: boolean, pathLen?: number): Buffer {
  const parts = ca ? [bool(true), ...(pathLen === undefined ? [] : [integer(pathLen)])] : [];
  return extension(OID.basicConstraints, true, seq(...parts));
}

const KU_BITS = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;
export type KeyUsageName = keyof typeof KU_BITS;

/** Key Usage, always critical (RFC 5280 4.2.1.3; A00.FR.512). Named bits, DER-minimal. */
export function keyUsage(names: readonly KeyUsageName[]): Buffer {
  let bits = 0;
  for (const n of names) bits |= 0x80 >> KU_BITS[n];
  const trailing = bits === 0 ? 0 : Math.min(7, Math.log2(bits & -bits));
  return extension(OID.keyUsage, true, tlv(Tag.BIT_STRING, Buffer.from([trailing, bits])));
}

export function extKeyUsage(purposes: readonly string[]): Buffer {
  return extension(OID.extKeyUsage, false, seq(...purposes.map(oid)));
}

export function subjectKeyIdentifier(keyId: Buffer): Buffer {
  return extension(OID.subjectKeyIdentifier, false, octetString(keyId));
}

export function authorityKeyIdentifier(keyId: Buffer): Buffer {
  return extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, keyId)));
}

const uri = (u: string): Buffer => tlv(0x86, Buffer.from(u, 'ascii'));

/** Authority Information Access: OCSP responder and issuer certificate URLs (RFC 5280 4.2.2.1). */
export function authorityInfoAccess(urls: { ocsp?: string; caIssuers?: string }): Buffer {
  const ads: Buffer[] = [];
  if (urls.ocsp) ads.push(seq(oid(OID.ocsp), uri(urls.ocsp)));
  if (urls.caIssuers) ads.push(seq(oid(OID.caIssuers), uri(urls.caIssuers)));
  return extension(OID.authorityInfoAccess, false, seq(...ads));
}

/** CRL Distribution Points with one fullName URI. */
export function crlDistributionPoints(url: string): Buffer {
  return extension(OID.crlDistributionPoints, false, seq(seq(tlv(0xa0, tlv(0xa0, uri(url))))));
}


/** The iPAddress octets of an IPv4 (4) or IPv6 (16) address in text form (RFC 5280 4.2.1.6). */
export function ipAddressOctets(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  // (IPv6 with an embedded IPv4 part, ::ffff:1.2.3.4, is not needed here.)
  if (!isIPv6(ip) || ip.includes('.')) throw new Error(`not an IPv4 or plain IPv6 address: ${ip}`);
  const [head = '', tail] = ip.split('::');
  const groups = (part: string): number[] => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const before = groups(head);
  const after = tail === undefined ? [] : groups(tail);
  const all = [...before, ...Array<number>(8 - before.length - after.length).fill(0), ...after];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** subjectAltName with dNSName and iPAddress entries (RFC 5280 4.2.1.6); server certificates only. */
export function subjectAltName(names: { dns: readonly string[]; ipOctets?: readonly Buffer[] }): Buffer {
  const entries = [...names.dns.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))), ...(names.ipOctets ?? []).map((ip) => tlv(0x87, ip))];
  return extension(OID.subjectAltName, false, seq(...entries));
}
