import { DerError, Tag, children, decodeOid, expectTag, oid, raw, readTlv, seq, set, tlv, type Tlv } from './der.js';
import { OID } from './oids.js';

/** One AttributeTypeAndValue of a distinguished name, with its original encoding. */
export interface NameAttribute {
  readonly oid: string;
  readonly tag: number;
  readonly value: string;
  /** The whole AttributeTypeAndValue DER, reused as is when a subject is copied. */
  readonly der: Buffer;
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
        return { oid, tag: value.tag, value: decodeString(value), der: raw(rdn.value, atv) };
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
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.5': 'serialNumber',
};

/** RFC 4514 string form (most specific RDN first). */
export function nameToString(name: ParsedName): string {
  const esc = (v: string): string =>
    v.replace(/[\\,+"<>;=]/g, (c) => '\\' + c).replace(/^[ #]/, (c) => '\\' + c).replace(/ $/, '\\ ');
  return [...name.rdns]
    .reverse()
    .map((rdn) => rdn.map((a) => `${SHORT[a.oid] ?? a.oid}=${esc(a.value)}`).join('+'))
    .join(',');
}

/** Encodes a Name from attributes, one per RDN, in the given order (UTF8String values). */
export function buildName(attrs: readonly { oid: string; value: string }[]): Buffer {
  return seq(...attrs.map((a) => set(seqAtv(a.oid, a.value))));
}

function seqAtv(oidStr: string, value: string): Buffer {
  // countryName is PrintableString by definition (RFC 5280 appendix A).
  const tag = oidStr === OID.countryName ? Tag.PrintableString : Tag.UTF8String;
  return seq(oid(oidStr), tlv(tag, Buffer.from(value, 'utf8')));
}

/** A Name made of existing AttributeTypeAndValue encodings, one per RDN, in the given order. */
export function nameFromAttributes(attrs: readonly NameAttribute[]): Buffer {
  return seq(...attrs.map((a) => set(a.der)));
}
