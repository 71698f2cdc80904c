/**
 * Just enough DER to show a certificate's fields in the console (the RA already verified and
 * stored it): subject, issuer, validity, key, signature algorithm and the extensions it carries.
 */
interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
  readonly bytes: Uint8Array;
}

function read(b: Uint8Array, at: number): Tlv {
  const tag = b[at]!;
  let len = b[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    start += n;
  }
  if (start + len > b.length) throw new Error('truncated DER');
  return { tag, start, end: start + len, bytes: b };
}

function children(t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = t.start; at < t.end; ) {
    const c = read(t.bytes, at);
    out.push(c);
    at = c.end;
  }
  return out;
}

const hex = (t: Tlv): string => [...t.bytes.subarray(t.start, t.end)].map((x) => x.toString(16).padStart(2, '0')).join('');
const text = (t: Tlv): string => new TextDecoder().decode(t.bytes.subarray(t.start, t.end));

function oid(t: Tlv): string {
  const b = t.bytes.subarray(t.start, t.end);
  const parts = [Math.floor(b[0]! / 40), b[0]! % 40];
  let v = 0;
  for (const x of b.subarray(1)) {
    v = v * 128 + (x & 0x7f);
    if (!(x & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

const NAMES: Record<string, string> = {
  '2.5.4.3': 'CN', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.5': 'serialNumber', '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.10045.2.1': 'EC', '1.2.840.113549.1.1.1': 'RSA', '1.2.840.113549.1.1.10': 'RSA-PSS',
  '1.2.840.10045.3.1.7': 'P-256', '1.3.132.0.34': 'P-384', '1.3.132.0.35': 'P-521',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256', '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384', '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption', '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '2.5.29.14': 'Subject Key Identifier', '2.5.29.15': 'Key Usage', '2.5.29.17': 'Subject Alternative Name', '2.5.29.19': 'Basic Constraints',
  '2.5.29.31': 'CRL Distribution Points', '2.5.29.32': 'Certificate Policies', '2.5.29.35': 'Authority Key Identifier', '2.5.29.37': 'Extended Key Usage',
  '1.3.6.1.5.5.7.1.1': 'Authority Information Access', '1.3.6.1.5.5.7.3.1': 'serverAuth', '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.48.1': 'OCSP', '1.3.6.1.5.5.7.48.2': 'caIssuers',
};
const named = (o: string): string => NAMES[o] ?? o;

function dn(t: Tlv): string {
  return children(t)
    .flatMap((rdn) => children(rdn).map((atv) => {
      const [type, value] = children(atv);
      return `${named(oid(type!))}=${text(value!)}`;
    }))
    .join(', ');
}

function time(t: Tlv): string {
  const s = text(t);
  const full = t.tag === 0x17 ? `${Number(s.slice(0, 2)) >= 50 ? '19' : '20'}${s}` : s;
  return `${full.slice(0, 4)}-${full.slice(4, 6)}-${full.slice(6, 8)} ${full.slice(8, 10)}:${full.slice(10, 12)}:${full.slice(12, 14)} UTC`;
}

const KEY_USAGE = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

/** A readable value for the extensions the PKI sets; others show their OID only. */
function extensionValue(id: string, v: Tlv): string {
  const inner = read(v.bytes, v.start);
  if (id === '2.5.29.15') {
    const b = inner.bytes.subarray(inner.start + 1, inner.end);
    return KEY_USAGE.filter((_, i) => (b[i >> 3] ?? 0) & (0x80 >> (i & 7))).join(', ');
  }
  if (id === '2.5.29.37') return children(inner).map((o) => named(oid(o))).join(', ');
  if (id === '2.5.29.19') {
    const c = children(inner);
    return c[0]?.tag === 0x01 && c[0].bytes[c[0].start] ? 'CA:true' : 'CA:false';
  }
  if (id === '2.5.29.14') return hex(inner);
  if (id === '2.5.29.35') return children(inner).filter((c) => c.tag === 0x80).map(hex).join('');
  if (id === '1.3.6.1.5.5.7.1.1')
    return children(inner).map((ad) => {
      const [m, loc] = children(ad);
      return `${named(oid(m!))}: ${text(loc!)}`;
    }).join('; ');
  if (id === '2.5.29.31') return [...new TextDecoder().decode(inner.bytes.subarray(inner.start, inner.end)).matchAll(/https?:\/\/[\x21-\x7e]+/g)].map((m) => m[0]).join(' ');
  return '';
}

export interface DecodedCertificate {
  readonly version: number;
  readonly serial: string;
  readonly signatureAlgorithm: string;
  readonly issuer: string;
  readonly subject: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly key: string;
  readonly extensions: readonly { name: string; critical: boolean; value: string }[];
}

export function pemToDer(pem: string): Uint8Array {
  const b64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

export function decodeCertificate(der: Uint8Array): DecodedCertificate {
  const [tbs, sigAlg] = children(read(der, 0));
  const f = children(tbs!);
  const versioned = f[0]!.tag === 0xa0;
  const [serial, , issuer, validity, subject, spki, ...rest] = versioned ? f.slice(1) : f;
  const [nb, na] = children(validity!);
  const [keyAlg] = children(spki!);
  const [algOid, param] = children(keyAlg!);
  const exts = rest.find((t) => t.tag === 0xa3);
  return {
    version: versioned ? children(f[0]!)[0]!.bytes[children(f[0]!)[0]!.start]! + 1 : 1,
    serial: hex(serial!).replace(/^00(?=.)/, ''),
    signatureAlgorithm: named(oid(children(sigAlg!)[0]!)),
    issuer: dn(issuer!),
    subject: dn(subject!),
    notBefore: time(nb!),
    notAfter: time(na!),
    key: `${named(oid(algOid!))}${param?.tag === 0x06 ? ` ${named(oid(param))}` : ''}`,
    extensions: exts
      ? children(children(exts)[0]!).map((e) => {
          const c = children(e);
          const id = oid(c[0]!);
          const critical = c.length === 3 && c[1]!.bytes[c[1]!.start] !== 0;
          return { name: named(id), critical, value: extensionValue(id, c[c.length - 1]!) };
        })
      : [],
  };
}
