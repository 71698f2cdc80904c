import { DerError, Tag, bitStringBytes, children, decodeOid, decodeSmallInt, expectTag, raw, readOnly } from './der.js';
import { parseName, type ParsedName } from './name.js';
import { OID } from './oids.js';
import { fromPem } from './pem.js';

export interface Extension {
  readonly oid: string;
  readonly critical: boolean;
  /** Contents of extnValue (the DER inside the OCTET STRING). */
  readonly value: Buffer;
}

/** A PKCS#10 request (RFC 2986) read with the strict DER reader; nothing is verified yet. */
export interface ParsedCsr {
  readonly der: Buffer;
  /** certificationRequestInfo, the signed bytes. */
  readonly info: Buffer;
  readonly subject: ParsedName;
  readonly spki: Buffer;
  readonly attributeOids: readonly string[];
  readonly extensions: readonly Extension[];
  readonly signatureAlgorithm: { readonly oid: string; readonly params: Buffer | undefined };
  readonly signature: Buffer;
}

/** Hard parse limits: anything larger is refused before it costs much. */
export const CSR_LIMITS = { maxDerBytes: 8192, maxAttributes: 8, maxExtensions: 16 } as const;

export const CSR_PEM_LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'] as const;

/** The longest PEM text that can hold CSR_LIMITS.maxDerBytes of DER (base64, 64-column lines, CRLF, armour). */
export const MAX_CSR_PEM_TEXT = Math.ceil(((Math.ceil(CSR_LIMITS.maxDerBytes / 3) * 4) / 64) * 66) + 256;

export function csrFromPem(pem: string): ParsedCsr {
  // Refused before the PEM regex and base64 decoding see it (e.g. a megabyte of "PEM").
  if (pem.length > MAX_CSR_PEM_TEXT) throw new DerError(`CSR PEM longer than ${MAX_CSR_PEM_TEXT} characters`);
  return parseCsr(fromPem(pem, CSR_PEM_LABELS).der);
}

export function parseCsr(der: Buffer): ParsedCsr {
  if (der.length > CSR_LIMITS.maxDerBytes) throw new DerError(`CSR larger than ${CSR_LIMITS.maxDerBytes} bytes`);
  const top = readOnly(der, Tag.SEQUENCE);
  const [infoT, algT, sigT, extra] = children(top, 4);
  if (extra) throw new DerError('CertificationRequest has extra elements');
  const info = raw(top.value, expectTag(infoT, Tag.SEQUENCE, 'certificationRequestInfo'));
  const [version, subjectT, spkiT, attrsT, more] = children(infoT!, 5);
  if (more) throw new DerError('certificationRequestInfo has extra elements');
  if (decodeSmallInt(expectTag(version, Tag.INTEGER, 'version').value) !== 0) throw new DerError('CSR version must be 1 (0)');
  const subject = parseName(raw(infoT!.value, expectTag(subjectT, Tag.SEQUENCE, 'subject')));
  const spki = raw(infoT!.value, expectTag(spkiT, Tag.SEQUENCE, 'subjectPKInfo'));

  const attributeOids: string[] = [];
  let extensions: Extension[] = [];
  for (const attr of children(expectTag(attrsT, 0xa0, 'attributes'), CSR_LIMITS.maxAttributes)) {
    const [typeT, valuesT] = children(expectTag(attr, Tag.SEQUENCE, 'Attribute'), 2);
    const type = decodeOid(expectTag(typeT, Tag.OID, 'attribute type').value);
    // Regression (fuzz): values of other attributes were not read at all. RFC 2986: SET SIZE(1..MAX) OF.
    if (expectTag(valuesT, Tag.SET, 'attribute values').value.length === 0) throw new DerError('attribute without values');
    if (attributeOids.includes(type)) throw new DerError('duplicate CSR attribute');
    attributeOids.push(type);
    if (type === OID.extensionRequest) {
      const [exts, second] = children(expectTag(valuesT, Tag.SET, 'attribute values'), 2);
      if (second) throw new DerError('extensionRequest with several values');
      extensions = parseExtensions(expectTag(exts, Tag.SEQUENCE, 'Extensions').value, CSR_LIMITS.maxExtensions);
    }
  }

  const [algOid, params] = children(expectTag(algT, Tag.SEQUENCE, 'signatureAlgorithm'), 2);
  return {
    der,
    info,
    subject,
    spki,
    attributeOids,
    extensions,
    signatureAlgorithm: {
      oid: decodeOid(expectTag(algOid, Tag.OID, 'signature algorithm').value),
      params: params && params.tag !== Tag.NULL ? raw(algT!.value, params) : undefined,
    },
    signature: bitStringBytes(expectTag(sigT, Tag.BIT_STRING, 'signature').value),
  };
}

/** Extensions ::= SEQUENCE OF Extension; `value` is the SEQUENCE contents. */
export function parseExtensions(value: Buffer, max: number): Extension[] {
  const out: Extension[] = [];
  for (const e of children(value, max)) {
    const parts = children(expectTag(e, Tag.SEQUENCE, 'Extension'), 3);
    const extOid = decodeOid(expectTag(parts[0], Tag.OID, 'extnID').value);
    const critical = parts.length === 3 && parts[1]!.tag === Tag.BOOLEAN && parts[1]!.value[0] === 0xff;
    const octets = expectTag(parts[parts.length - 1], Tag.OCTET_STRING, 'extnValue').value;
    if (out.some((x) => x.oid === extOid)) throw new DerError(`duplicate extension ${extOid}`);
    out.push({ oid: extOid, critical, value: octets });
  }
  return out;
}

/** GeneralNames in a subjectAltName, by kind. Unknown kinds are reported as `other`. */
export interface SubjectAltNames {
  readonly dns: string[];
  readonly ip: string[];
  /** The iPAddress octets as encoded (4 or 16), in the same order as `ip`. */
  readonly ipOctets: Buffer[];
  readonly uri: string[];
  readonly email: string[];
  other: number;
}

/** otherName, rfc822Name, dNSName, x400Address, directoryName, ediPartyName, URI, iPAddress, registeredID. */
const GENERAL_NAME_TAGS = new Set([0xa0, 0x81, 0x82, 0xa3, 0xa4, 0xa5, 0x86, 0x87, 0x88]);

export function parseSubjectAltNames(extValue: Buffer): SubjectAltNames {
  const out: SubjectAltNames = { dns: [], ip: [], ipOctets: [], uri: [], email: [], other: 0 };
  for (const gn of children(readOnly(extValue, Tag.SEQUENCE), 64)) {
    const text = (): string => gn.value.toString('latin1');
    // Regression (fuzz): any tag was counted as `other`, and iPAddress octets of any length were
    // copied into server certificates. RFC 5280 4.2.1.6: GeneralName is [0]..[8]; an address is 4 or 16 octets.
    if (!GENERAL_NAME_TAGS.has(gn.tag)) throw new DerError(`tag 0x${gn.tag.toString(16)} is not a GeneralName`);
    if (gn.tag === 0x82) out.dns.push(text());
    else if (gn.tag === 0x87) {
      if (gn.value.length !== 4 && gn.value.length !== 16) throw new DerError('iPAddress must be 4 or 16 octets');
      out.ip.push(formatIp(gn.value));
      out.ipOctets.push(gn.value);
    }
    else if (gn.tag === 0x86) out.uri.push(text());
    else if (gn.tag === 0x81) out.email.push(text());
    else out.other++;
  }
  return out;
}

function formatIp(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  if (b.length === 16) return (b.toString('hex').match(/.{4}/g) ?? []).join(':');
  return b.toString('hex');
}

