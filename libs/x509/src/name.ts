import { DerError, Tag, children, decodeOid, expectTag, oid, readTlv, seq, set, tlv, type Tlv } from './der.js';
import { OID } from './oids.js';

/** One AttributeTypeAndValue of a distinguished name: its string type as encoded, and its value. */
export interface NameAttribute {
  readonly oid: string;
  readonly tag: number;
  readonly value: string;
}

export interface ParsedName {
  readonly der: Buffer;
  /** RDNs in encoding order; each holds one or more attributes. */
  readonly rdns: readonly (readonly NameAttribute[])[];
}

export const MAX_NAME_ATTRIBUTES = 64;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function decodeString(t: Tlv): string {
  switch (t.tag) {
    case Tag.UTF8String:
      try {
        return UTF8.decode(t.value);
      } catch {
        // Regression (fuzz): TextDecoder's TypeError escaped parseCsr/parseCertificate untyped.
        throw new DerError('invalid UTF-8 in UTF8String');
      }
    case Tag.PrintableString:
    case Tag.IA5String:
      if (!/^[\x20-\x7e]*$/.test(t.value.toString('latin1'))) throw new DerError('non-ASCII in string');
      return t.value.toString('latin1');
    case Tag.TeletexString:
      return t.value.toString('latin1');
    case Tag.BMPString: {
      if (t.value.length % 2) throw new DerError('bad BMPString');
      const b = Buffer.from(t.value);
      return b.swap16().toString('utf16le');
    }
    case Tag.UniversalString: {
      if (t.value.length % 4) throw new DerError('bad UniversalString');
      const points: number[] = [];
      for (let i = 0; i < t.value.length; i += 4) {
        const cp = t.value.readUInt32BE(i);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new DerError('UniversalString holds no Unicode character');
        points.push(cp);
      }
      return String.fromCodePoint(...points);
    }
    default:
      throw new DerError(`unsupported string type 0x${t.tag.toString(16)} in name`);
  }
}

/** Parses a Name (SEQUENCE OF RDN). `t` must be the SEQUENCE element; `whole` its bytes. */
export function parseName(whole: Buffer): ParsedName {
  const t = readTlv(whole, 0);
  expectTag(t, Tag.SEQUENCE, 'Name');
  const rdns: NameAttribute[][] = [];
  let count = 0;
  for (const rdn of children(t, MAX_NAME_ATTRIBUTES)) {
    expectTag(rdn, Tag.SET, 'RelativeDistinguishedName');
    const atvs = children(rdn, MAX_NAME_ATTRIBUTES);
    if (atvs.length === 0) throw new DerError('empty RDN');
    count += atvs.length;
    if (count > MAX_NAME_ATTRIBUTES) throw new DerError(`more than ${MAX_NAME_ATTRIBUTES} name attributes`);
    rdns.push(
      atvs.map((atv) => {
        expectTag(atv, Tag.SEQUENCE, 'AttributeTypeAndValue');
        const [type, value, extra] = children(atv, 3);
        if (extra) throw new DerError('AttributeTypeAndValue has extra elements');
        const oid = decodeOid(expectTag(type, Tag.OID, 'attribute type').value);
        if (!value) throw new DerError('attribute value missing');
        return { oid, tag: value.tag, value: decodeString(value) };
      }),
    );
  }
  return { der: whole.subarray(t.start, t.end), rdns };
}

/** Values of one attribute type, in order. */
export function attributeValues(name: ParsedName, oid: string): string[] {
  return name.rdns.flat().filter((a) => a.oid === oid).map((a) => a.value);
}

const SHORT: Record<string, string> = {
  [OID.commonName]: 'CN',
  [OID.organizationName]: 'O',
  [OID.organizationalUnitName]: 'OU',
  [OID.countryName]: 'C',
  [OID.domainComponent]: 'DC',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.5': 'serialNumber',
};

/** A value RFC 4514 section 2.4 escapes something in (most have nothing: skipped on the issuance path). */
const NEEDS_ESCAPE = /[\\,+"<>;=]|^[ #]| $/;
const esc = (v: string): string =>
  NEEDS_ESCAPE.test(v) ? v.replace(/[\\,+"<>;=]/g, (c) => '\\' + c).replace(/^[ #]/, (c) => '\\' + c).replace(/ $/, '\\ ') : v;

/** RFC 4514 string form (most specific RDN first). */
export function nameToString(name: ParsedName): string {
  return [...name.rdns]
    .reverse()
    .map((rdn) => rdn.map((a) => `${SHORT[a.oid] ?? a.oid}=${esc(a.value)}`).join('+'))
    .join(',');
}

/** Attributes written as PrintableString (RFC 5280 appendix A): countryName, serialNumber, dnQualifier. */
const PRINTABLE_ATTRIBUTES: ReadonlySet<string> = new Set([OID.countryName, '2.5.4.5', '2.5.4.46']);
/** X.680 41.4 PrintableString characters. */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
/** Attributes written as IA5String (RFC 4519 2.4): domainComponent. */
const IA5_ATTRIBUTES: ReadonlySet<string> = new Set([OID.domainComponent]);
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why an attribute value cannot be written into a certificate as UTF8String (PrintableString for
 * PRINTABLE_ATTRIBUTES) without changing it, or undefined when it can (issue 14.10). `tag`: the
 * string type it was read from, when it was read.
 */
export function unencodableReason(a: { readonly oid: string; readonly value: string; readonly tag?: number }): string | undefined {
  // Teletex (T.61) is read as Latin-1, which it is only for ASCII: anything else has no one reading.
  if (a.tag === Tag.TeletexString && /[^\x20-\x7e]/.test(a.value)) return 'is a TeletexString with characters beyond ASCII';
  if (UNPAIRED_SURROGATE.test(a.value)) return 'is not Unicode text (an unpaired UTF-16 surrogate)';
  if (PRINTABLE_ATTRIBUTES.has(a.oid) && !PRINTABLE.test(a.value)) return 'has characters a PrintableString cannot hold';
  // eslint-disable-next-line no-control-regex
  if (IA5_ATTRIBUTES.has(a.oid) && /[^\x00-\x7f]/.test(a.value)) return 'has characters an IA5String cannot hold';
  return undefined;
}

/**
 * Encodes a Name from attributes, one per RDN, in the given order: UTF8String values, PrintableString
 * for PRINTABLE_ATTRIBUTES, IA5String for IA5_ATTRIBUTES (DC), whatever string type a value was read from (a certificate subject never
 * copies a CSR's BMPString, T61String or UniversalString). Throws DerError for a value that
 * unencodableReason refuses.
 */
export function buildName(attrs: readonly { oid: string; value: string; tag?: number }[]): Buffer {
  return seq(
    ...attrs.map((a) => {
      const why = unencodableReason(a);
      if (why) throw new DerError(`name attribute ${a.oid} ${why}`);
      const tag = PRINTABLE_ATTRIBUTES.has(a.oid) ? Tag.PrintableString : IA5_ATTRIBUTES.has(a.oid) ? Tag.IA5String : Tag.UTF8String;
      return set(seq(oid(a.oid), tlv(tag, Buffer.from(a.value, 'utf8'))));
    }),
  );
}
