/**
 * Strict reading of one certificate for path validation: the fields section 6 needs, decoded
 * extensions, and the RFC 5280 section 4 profile problems found on the way. A problem in an
 * extension does not throw: it is recorded in `profile` and refuses the certificate only when it is
 * part of a candidate path (a broken unrelated intermediate must not spoil a good path).
 */
import { createHash } from 'node:crypto';
import { DerError, Tag, bitStringBytes, children, decodeOid, decodeSmallInt, expectTag, raw, readOnly, readTlv, type Tlv } from '@evpki/x509';
import { parseName, type ParsedName } from '@evpki/x509';
import { nameKey } from './names.js';
import { parseGeneralNames, parseNameConstraints, type GeneralName, type NameConstraints } from './general-names.js';
import type { Refusal } from './refusal.js';

export const EXT = {
  subjectDirectoryAttributes: '2.5.29.9',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  issuerAltName: '2.5.29.18',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  crlDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  policyMappings: '2.5.29.33',
  authorityKeyIdentifier: '2.5.29.35',
  policyConstraints: '2.5.29.36',
  extKeyUsage: '2.5.29.37',
  freshestCrl: '2.5.29.46',
  inhibitAnyPolicy: '2.5.29.54',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  subjectInfoAccess: '1.3.6.1.5.5.7.1.11',
} as const;

/** Extensions this library processes (a critical one of any other type refuses the path: 6.1.4(o), 6.1.5(f)). */
const PROCESSED: ReadonlySet<string> = new Set([
  EXT.subjectKeyIdentifier, EXT.keyUsage, EXT.subjectAltName, EXT.basicConstraints, EXT.nameConstraints,
  EXT.certificatePolicies, EXT.policyMappings, EXT.authorityKeyIdentifier, EXT.policyConstraints, EXT.extKeyUsage, EXT.inhibitAnyPolicy,
]);

export const ANY_POLICY = '2.5.29.32.0';
export const ANY_EKU = '2.5.29.37.0';

/** KeyUsage bit numbers (RFC 5280 4.2.1.3). */
export const KU = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

export interface Extension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Buffer;
}

export interface PathCert {
  readonly der: Buffer;
  /** sha256 of the DER, hex: the certificate's identity in caches and loop detection. */
  readonly hash: string;
  readonly tbs: Buffer;
  /** 1, 2 or 3. */
  readonly version: number;
  readonly serial: Buffer;
  readonly tbsSignatureAlgorithm: Buffer;
  readonly signatureAlgorithm: Buffer;
  readonly signature: Buffer;
  readonly issuer: ParsedName;
  readonly subject: ParsedName;
  readonly issuerKey: string;
  readonly subjectKey: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Buffer;
  /** sha256 of the SubjectPublicKeyInfo, hex: the key's identity. */
  readonly keyHash: string;
  readonly extensions: readonly Extension[];
  readonly basicConstraints?: { readonly ca: boolean; readonly pathLen?: number; readonly critical: boolean };
  /** KeyUsage bits, when the extension is present. */
  readonly keyUsage?: ReadonlySet<number>;
  readonly ski?: Buffer;
  readonly akiKeyId?: Buffer;
  readonly san?: readonly GeneralName[];
  readonly nameConstraints?: NameConstraints;
  readonly policies?: readonly string[];
  readonly policyMappings?: readonly (readonly [string, string])[];
  readonly requireExplicitPolicy?: number;
  readonly inhibitPolicyMapping?: number;
  readonly inhibitAnyPolicy?: number;
  readonly eku?: readonly string[];
  readonly unknownCritical: readonly string[];
  readonly selfIssued: boolean;
  /** RFC 5280 section 4 problems (rules 4.x), applied when the certificate is in a candidate path. */
  readonly profile: readonly Refusal[];
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function decodeValidityTime(t: Tlv | undefined): Date {
  if (!t) throw new DerError('validity time missing');
  const s = t.value.toString('latin1');
  let m: RegExpExecArray | null;
  if (t.tag === Tag.UTCTime && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    return utc(yy < 50 ? 2000 + yy : 1900 + yy, m);
  }
  if (t.tag === Tag.GeneralizedTime && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) return utc(Number(m[1]), m);
  throw new DerError('validity time is neither UTCTime nor GeneralizedTime in seconds and Z (RFC 5280 4.1.2.5)');
}

function utc(year: number, m: RegExpExecArray): Date {
  const [mo, d, h, mi, s] = [2, 3, 4, 5, 6].map((i) => Number(m[i]));
  const date = new Date(Date.UTC(year, mo! - 1, d, h, mi, s));
  if (date.getUTCMonth() !== mo! - 1 || date.getUTCDate() !== d || h! > 23 || mi! > 59 || s! > 59) throw new DerError('invalid calendar date');
  return date;
}

/** Reads a certificate; throws DerError when it is not a certificate at all (structure). */
export function readCertificate(der: Buffer): PathCert {
  const top = readOnly(der, Tag.SEQUENCE);
  const [tbsT, algT, sigT, extra] = children(top, 4);
  if (extra) throw new DerError('Certificate has extra elements');
  expectTag(tbsT, Tag.SEQUENCE, 'tbsCertificate');
  expectTag(algT, Tag.SEQUENCE, 'signatureAlgorithm');
  const signature = bitStringBytes(expectTag(sigT, Tag.BIT_STRING, 'signatureValue').value);
  const t = children(tbsT!, 10);
  const profile: Refusal[] = [];
  const bad = (rule: string, message: string): void => void profile.push({ rule, message });
  let i = 0;
  let version = 1;
  if (t[0]?.tag === 0xa0) {
    const v = decodeSmallInt(expectTag(children(t[0], 1)[0], Tag.INTEGER, 'version').value);
    if (v === 0) bad('RFC5280-4.1.2.1', 'version v1 must be omitted, not encoded (DER default)');
    if (v > 2) throw new DerError(`unknown certificate version ${v + 1}`);
    version = v + 1;
    i++;
  }
  const serialT = expectTag(t[i++], Tag.INTEGER, 'serialNumber');
  const tbsAlgT = expectTag(t[i++], Tag.SEQUENCE, 'signature');
  const issuerT = expectTag(t[i++], Tag.SEQUENCE, 'issuer');
  const [nb, na, vExtra] = children(expectTag(t[i++], Tag.SEQUENCE, 'validity'), 3);
  if (vExtra) throw new DerError('validity has extra elements');
  const subjectT = expectTag(t[i++], Tag.SEQUENCE, 'subject');
  const spkiT = expectTag(t[i++], Tag.SEQUENCE, 'subjectPublicKeyInfo');
  let extensions: Extension[] = [];
  for (; i < t.length; i++) {
    const f = t[i]!;
    if (f.tag === 0x81 || f.tag === 0x82) {
      if (version < 2) bad('RFC5280-4.1.2.8', 'unique identifiers need version 2 or 3');
    } else if (f.tag === 0xa3) {
      if (version !== 3) bad('RFC5280-4.1.2.9', 'extensions need version 3');
      extensions = readExtensions(expectTag(children(f, 1)[0], Tag.SEQUENCE, 'Extensions'), bad);
    } else throw new DerError(`unexpected field 0x${f.tag.toString(16)} in tbsCertificate`);
  }
  const issuer = parseName(raw(tbsT!.value, issuerT));
  const subject = parseName(raw(tbsT!.value, subjectT));
  const serial = serialT.value;
  if (serial.length === 0) throw new DerError('empty serialNumber');
  if (serial[0]! & 0x80) bad('RFC5280-4.1.2.2', 'serialNumber is negative');
  else if (serial.every((b) => b === 0)) bad('RFC5280-4.1.2.2', 'serialNumber is zero');
  const magnitude = serial[0] === 0 && serial.length > 1 ? serial.subarray(1) : serial;
  if (magnitude.length > 20) bad('RFC5280-4.1.2.2', `serialNumber is ${magnitude.length} octets (at most 20)`);
  if (issuer.rdns.length === 0) bad('RFC5280-4.1.2.4', 'issuer is an empty name');

  const cert = {
    der,
    hash: sha256(der),
    tbs: raw(top.value, tbsT!),
    version,
    serial,
    tbsSignatureAlgorithm: raw(tbsT!.value, tbsAlgT),
    signatureAlgorithm: raw(top.value, algT!),
    signature,
    issuer,
    subject,
    issuerKey: nameKey(issuer),
    subjectKey: nameKey(subject),
    notBefore: decodeValidityTime(nb),
    notAfter: decodeValidityTime(na),
    spki: raw(tbsT!.value, spkiT),
    keyHash: sha256(raw(tbsT!.value, spkiT)),
    extensions,
    unknownCritical: extensions.filter((e) => e.critical && !PROCESSED.has(e.oid)).map((e) => e.oid),
    selfIssued: false,
    profile,
  };
  cert.selfIssued = cert.issuerKey === cert.subjectKey;
  if (!cert.tbsSignatureAlgorithm.equals(cert.signatureAlgorithm))
    bad('RFC5280-4.1.1.2', 'signatureAlgorithm differs from the signature field of tbsCertificate');
  return { ...cert, ...readKnownExtensions(extensions, bad) };
}

function readExtensions(seqT: Tlv, bad: (rule: string, message: string) => void): Extension[] {
  const out: Extension[] = [];
  const list = children(seqT, 64);
  if (list.length === 0) bad('RFC5280-4.1', 'Extensions is an empty SEQUENCE (SIZE (1..MAX))');
  for (const e of list) {
    const parts = children(expectTag(e, Tag.SEQUENCE, 'Extension'), 3);
    const oid = decodeOid(expectTag(parts[0], Tag.OID, 'extnID').value);
    let critical = false;
    if (parts.length === 3) {
      const b = expectTag(parts[1], Tag.BOOLEAN, 'critical');
      if (b.value.length !== 1 || (b.value[0] !== 0xff && b.value[0] !== 0)) throw new DerError('BOOLEAN not DER');
      if (b.value[0] === 0) bad('RFC5280-4.1', `extension ${oid}: critical FALSE must be omitted (DER default)`);
      critical = b.value[0] === 0xff;
    } else if (parts.length !== 2) throw new DerError('Extension has a wrong number of elements');
    const value = expectTag(parts[parts.length - 1], Tag.OCTET_STRING, 'extnValue').value;
    if (out.some((x) => x.oid === oid)) bad('RFC5280-4.2', `extension ${oid} appears more than once`);
    else out.push({ oid, critical, value });
  }
  return out;
}

type Known = Pick<
  PathCert,
  | 'basicConstraints' | 'keyUsage' | 'ski' | 'akiKeyId' | 'san' | 'nameConstraints' | 'policies' | 'policyMappings'
  | 'requireExplicitPolicy' | 'inhibitPolicyMapping' | 'inhibitAnyPolicy' | 'eku'
>;

/** Decodes the processed extensions; a malformed one is a profile problem naming its section. */
function readKnownExtensions(exts: readonly Extension[], bad: (rule: string, message: string) => void): Known {
  const out: { -readonly [K in keyof Known]?: Known[K] } = {};
  const section: Record<string, string> = {
    [EXT.authorityKeyIdentifier]: '4.2.1.1', [EXT.subjectKeyIdentifier]: '4.2.1.2', [EXT.keyUsage]: '4.2.1.3',
    [EXT.certificatePolicies]: '4.2.1.4', [EXT.policyMappings]: '4.2.1.5', [EXT.subjectAltName]: '4.2.1.6',
    [EXT.basicConstraints]: '4.2.1.9', [EXT.nameConstraints]: '4.2.1.10', [EXT.policyConstraints]: '4.2.1.11',
    [EXT.extKeyUsage]: '4.2.1.12', [EXT.inhibitAnyPolicy]: '4.2.1.14', [EXT.authorityInfoAccess]: '4.2.2.1',
  };
  for (const e of exts) {
    const rule = `RFC5280-${section[e.oid] ?? '4.2'}`;
    try {
      switch (e.oid) {
        case EXT.basicConstraints: {
          const f = children(readOnly(e.value, Tag.SEQUENCE), 2);
          let ca = false;
          let k = 0;
          if (f[0]?.tag === Tag.BOOLEAN) {
            if (f[0].value[0] !== 0xff) bad(rule, 'cA FALSE must be omitted (DER default)');
            ca = f[0].value[0] === 0xff;
            k++;
          }
          const pathLen = f[k] ? decodeSmallInt(expectTag(f[k], Tag.INTEGER, 'pathLenConstraint').value) : undefined;
          out.basicConstraints = pathLen === undefined ? { ca, critical: e.critical } : { ca, pathLen, critical: e.critical };
          break;
        }
        case EXT.keyUsage: {
          const bs = readOnly(e.value, Tag.BIT_STRING).value;
          const bits = new Set<number>();
          for (let i = 0; i < (bs.length - 1) * 8; i++) if (bs[1 + (i >> 3)]! & (0x80 >> (i & 7))) bits.add(i);
          if (bits.size === 0) bad(rule, 'keyUsage with no bit set');
          out.keyUsage = bits;
          break;
        }
        case EXT.subjectKeyIdentifier:
          if (e.critical) bad(rule, 'subjectKeyIdentifier must be non-critical');
          out.ski = readOnly(e.value, Tag.OCTET_STRING).value;
          break;
        case EXT.authorityKeyIdentifier: {
          if (e.critical) bad(rule, 'authorityKeyIdentifier must be non-critical');
          const kid = children(readOnly(e.value, Tag.SEQUENCE), 3).find((x) => x.tag === 0x80);
          if (kid) out.akiKeyId = kid.value;
          break;
        }
        case EXT.subjectAltName:
          out.san = parseGeneralNames(readOnly(e.value, Tag.SEQUENCE));
          if (out.san.length === 0) bad(rule, 'subjectAltName holds no name');
          break;
        case EXT.nameConstraints:
          if (!e.critical) bad(rule, 'nameConstraints must be critical');
          out.nameConstraints = parseNameConstraints(e.value);
          break;
        case EXT.extKeyUsage:
          out.eku = children(readOnly(e.value, Tag.SEQUENCE), 64).map((x) => decodeOid(expectTag(x, Tag.OID, 'KeyPurposeId').value));
          if (out.eku.length === 0) bad(rule, 'extKeyUsage holds no purpose');
          break;
        case EXT.certificatePolicies: {
          const ps = children(readOnly(e.value, Tag.SEQUENCE), 64).map((pi) => decodeOid(expectTag(children(expectTag(pi, Tag.SEQUENCE, 'PolicyInformation'), 2)[0], Tag.OID, 'policyIdentifier').value));
          if (ps.length === 0) bad(rule, 'certificatePolicies holds no policy');
          if (new Set(ps).size !== ps.length) bad(rule, 'a policy appears more than once in certificatePolicies');
          out.policies = ps;
          break;
        }
        case EXT.policyMappings:
          out.policyMappings = children(readOnly(e.value, Tag.SEQUENCE), 64).map((m) => {
            const [a, b] = children(expectTag(m, Tag.SEQUENCE, 'mapping'), 2);
            return [decodeOid(expectTag(a, Tag.OID, 'issuerDomainPolicy').value), decodeOid(expectTag(b, Tag.OID, 'subjectDomainPolicy').value)] as const;
          });
          break;
        case EXT.policyConstraints: {
          if (!e.critical) bad(rule, 'policyConstraints must be critical');
          const f = children(readOnly(e.value, Tag.SEQUENCE), 2);
          if (f.length === 0) bad(rule, 'policyConstraints holds neither field');
          for (const x of f) {
            if (x.tag === 0x80) out.requireExplicitPolicy = decodeSmallInt(x.value);
            else if (x.tag === 0x81) out.inhibitPolicyMapping = decodeSmallInt(x.value);
            else throw new DerError('unexpected field');
          }
          break;
        }
        case EXT.inhibitAnyPolicy:
          if (!e.critical) bad(rule, 'inhibitAnyPolicy must be critical');
          out.inhibitAnyPolicy = decodeSmallInt(readOnly(e.value, Tag.INTEGER).value);
          break;
        case EXT.authorityInfoAccess:
          if (e.critical) bad(rule, 'authorityInfoAccess must be non-critical');
          readOnly(e.value, Tag.SEQUENCE);
          break;
        default:
          if (e.value.length) readTlv(e.value, 0); // at least one well-formed element
      }
    } catch (err) {
      bad(rule, `malformed extension ${e.oid}: ${(err as Error).message}`);
    }
  }
  return out;
}
