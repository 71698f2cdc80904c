/**
 * The Redis backend's compact encodings (store schema 6, docs/architecture.md "Data"): what a
 * certificate costs in Redis is mostly its record and its two pre-signed OCSP responses, so both
 * are kept in binary forms without field names or duplicated bytes. Readers take what older
 * versions wrote as well (MessagePack maps), so nothing has to be rewritten.
 */
import { pack, unpack } from 'msgpackr';
import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { Tag, children, decodeTime, readOnly, type Tlv } from '@evpki/x509';
import type { CertificateRecord, OcspHash, OcspResponseRecord } from './records.js';

/** A certificate record as the `rec` field holds it: without the status fields (they are hash fields of their own). */
export type IssuedRecord = Omit<CertificateRecord, 'status' | 'revokedAt' | 'revocationReason'>;

// ---- certificate records ----

/** The first element of a compact record (an array); older records are maps. */
const RECORD_V1 = 1;
/**
 * As RECORD_V1, with the DER deflated against its dictionary (schema 7): [ref, deflated] in its
 * place, and notBefore, notAfter null when they are the DER's.
 */
const RECORD_V2 = 2;

// ---- a certificate's DER ----

/** The DER start of a subject key identifier extension: OID 2.5.29.14. */
const SKI = Buffer.from('0603551d0e', 'hex');

/**
 * What a certificate has in common with the others of its issuer and profile, each element whole:
 * the signature algorithm, the issuer's name, the key's algorithm and the extensions but the
 * subject key identifier (serial, validity, subject, key, key identifier and signature are its
 * own). The dictionary its DER is deflated with (a charging station certificate: 663 B to about
 * 240), kept once in der-dict under derDictRefOf. Undefined for a DER this cannot take apart.
 */
export function derDictionaryOf(der: Buffer): Buffer | undefined {
  try {
    const [tbs] = children(readOnly(der, Tag.SEQUENCE), 3);
    if (tbs?.tag !== Tag.SEQUENCE) return undefined;
    const parts = children(tbs, 10);
    const whole = (parent: Tlv, t: Tlv): Buffer => parent.value.subarray(t.start, t.end);
    const [, sigAlg, issuer, , , spki] = parts[0]?.tag === 0xa0 ? parts.slice(1) : parts;
    if (!sigAlg || !issuer || spki?.tag !== Tag.SEQUENCE) return undefined;
    const keyAlg = children(spki, 2)[0]!;
    const extensions = parts.find((p) => p.tag === 0xa3);
    const list = extensions ? children(extensions, 1)[0] : undefined;
    const kept = list ? children(list, 64).filter((e) => !e.value.subarray(0, SKI.length).equals(SKI)).map((e) => whole(list, e)) : [];
    return Buffer.concat([whole(tbs, sigAlg), whole(tbs, issuer), whole(spki, keyAlg), ...kept]);
  } catch {
    return undefined;
  }
}

/** notBefore and notAfter of a certificate's DER as ISO times; undefined when it is not one this can read. */
function derValidity(der: Buffer): [string, string] | undefined {
  try {
    const [tbs] = children(readOnly(der, Tag.SEQUENCE), 3);
    const parts = children(tbs!, 10);
    const validity = parts[parts[0]?.tag === 0xa0 ? 4 : 3];
    const [from, to] = children(validity!, 2);
    return [decodeTime(from!).toISOString(), decodeTime(to!).toISOString()];
  } catch {
    return undefined;
  }
}

/** What names a DER dictionary in der-dict: the first 8 bytes of its SHA-256 (a few per issuer ever). */
export const derDictRefOf = (dictionary: Buffer): Buffer => createHash('sha256').update(dictionary).digest().subarray(0, 8);

/** A DER dictionary as a record refers to it. */
export interface DerDictionary {
  readonly ref: Buffer;
  readonly dictionary: Buffer;
}

/** A record's dictionary is not at hand: the caller reads it from der-dict and decodes again. */
export class MissingDerDictionary extends Error {
  override readonly name = 'MissingDerDictionary';
  constructor(readonly ref: Buffer) {
    super(`certificate DER dictionary ${ref.toString('hex')} not loaded`);
  }
}

/**
 * zlib settings for a record's DER, part of the stored form: a 4 KB window (dictionary and
 * certificate fit; the default 32 KB window and memory level make each call a few times slower),
 * and output chunks of 1 KB (a certificate fits in one or two; the default, 16 KB, would be
 * allocated for every record read, and the DER would be a slice of it).
 */
const DER_ZLIB = { windowBits: 12, chunkSize: 1024 } as const;
const inflateDer = (z: Uint8Array, dictionary: Buffer): Buffer => inflateRawSync(z, { ...DER_ZLIB, dictionary });

/** The DER deflated against the dictionary; undefined when that is not shorter (or does not read back). */
function deflateDer(der: Buffer, d: DerDictionary): Buffer | undefined {
  const z = deflateRawSync(der, { ...DER_ZLIB, dictionary: d.dictionary, level: 9, memLevel: 4 });
  return z.length < der.length && inflateDer(z, d.dictionary).equals(der) ? z : undefined;
}

/** An ISO time that Date prints back identically is kept as epoch ms (9 bytes instead of 25). */
const packTime = (iso: string): string | number => {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) && new Date(ms).toISOString() === iso ? ms : iso;
};
const unpackTime = (v: string | number): string => (typeof v === 'number' ? new Date(v).toISOString() : v);
/** Lowercase hex of whole bytes (key hashes, fingerprints) is kept as its bytes. */
const HEX = /^(?:[0-9a-f]{2})+$/;
const packHex = (hex: string): string | Buffer => (HEX.test(hex) ? Buffer.from(hex, 'hex') : hex);
const unpackHex = (v: string | Uint8Array): string => (typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex'));
const asBuffer = (v: Uint8Array): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength));

/**
 * The kinds the product signs (libs/issuance registry) as small numbers: the kind of nearly every
 * record is one of these. Append only: a record holds the index. Another kind is kept as its name.
 */
const KIND_CODES: readonly string[] = ['ChargingStationCertificate', 'V2GCertificate', 'CSMSServerCertificate', 'OcspSigningCertificate', 'ServiceTlsServerCertificate', 'ServiceTlsClientCertificate'];
const packKind = (kind: string): string | number => {
  const i = KIND_CODES.indexOf(kind);
  return i < 0 ? kind : i;
};
const unpackKind = (v: string | number): string => {
  if (typeof v === 'string') return v;
  const kind = KIND_CODES[v];
  if (kind === undefined) throw new Error(`unknown certificate kind code ${v}`);
  return kind;
};

/**
 * The record as an array in a fixed order, without its serial (the key names it), the kind as a
 * code, times as epoch ms and hex digests as bytes where that reads back exactly.
 */
export function encodeIssuedRecord(r: IssuedRecord, dictionary?: DerDictionary): Buffer {
  const deflated = dictionary && deflateDer(r.der, dictionary);
  // With a deflated DER (RECORD_V2), a validity time that the DER gives back is null.
  const validity = deflated ? derValidity(r.der) : undefined;
  const row: unknown[] = [
    deflated ? RECORD_V2 : RECORD_V1,
    r.issuerId,
    deflated ? [dictionary.ref, deflated] : r.der,
    packKind(r.kind),
    r.tenant,
    r.stationId,
    r.subject,
    validity?.[0] === r.notBefore ? null : packTime(r.notBefore),
    validity?.[1] === r.notAfter ? null : packTime(r.notAfter),
    packTime(r.issuedAt),
    packHex(r.spkiSha256),
    packHex(r.sha256Fingerprint),
  ];
  if (r.requestHash !== undefined) row.push(packHex(r.requestHash));
  return pack(row);
}

/**
 * A stored `rec` field: deflated against a DER dictionary (schema 7; `dictionary` gives it by ref,
 * else MissingDerDictionary), compact (schema 6) or as versions before wrote it (a MessagePack map
 * with its serial).
 */
export function decodeIssuedRecord(serial: string, b: Buffer | null | undefined, dictionary?: (ref: Buffer) => Buffer | undefined): IssuedRecord | undefined {
  if (b == null || b.length === 0) return undefined;
  const v = unpack(b) as unknown;
  if (!Array.isArray(v)) return v as IssuedRecord | undefined;
  if (v[0] !== RECORD_V1 && v[0] !== RECORD_V2) throw new Error(`certificate ${serial}: unknown record encoding ${String(v[0])}`);
  const [, issuerId, stored, kind, tenant, stationId, subject, notBefore, notAfter, issuedAt, spki, fingerprint, requestHash] = v as [
    number, string, Uint8Array | [Uint8Array, Uint8Array], string | number, string, string, string, string | number | null, string | number | null, string | number, string | Uint8Array, string | Uint8Array, (string | Uint8Array)?,
  ];
  let der: Buffer;
  if (Array.isArray(stored)) {
    const ref = asBuffer(stored[0]);
    const d = dictionary?.(ref);
    if (!d) throw new MissingDerDictionary(ref);
    der = inflateDer(stored[1], d);
  } else der = asBuffer(stored);
  const validity = notBefore === null || notAfter === null ? derValidity(der) : undefined;
  if ((notBefore === null || notAfter === null) && !validity) throw new Error(`certificate ${serial}: no validity in its DER`);
  return {
    serial,
    issuerId,
    der,
    kind: unpackKind(kind),
    tenant,
    stationId,
    subject,
    notBefore: notBefore === null ? validity![0] : unpackTime(notBefore),
    notAfter: notAfter === null ? validity![1] : unpackTime(notAfter),
    issuedAt: unpackTime(issuedAt),
    spkiSha256: unpackHex(spki),
    sha256Fingerprint: unpackHex(fingerprint),
    ...(requestHash !== undefined ? { requestHash: unpackHex(requestHash) } : {}),
  };
}

// ---- pre-signed OCSP responses ----

/**
 * The `[0] certs` at the end of a BasicOCSPResponse (RFC 6960 4.2.1): the delegated signer's
 * certificate, the same bytes in every response it signs. It is the last element of every
 * element enclosing it, so the response is `body ‖ tail` with the enclosing lengths already in
 * `body`: the tail is kept once per signer (ocsp-tail) and put back by concatenation, never by
 * re-encoding. Undefined when the response has no such tail (then it is kept whole).
 */
export function splitOcspTail(der: Buffer): { body: Buffer; tail: Buffer } | undefined {
  try {
    const response = readOnly(der, Tag.SEQUENCE);
    const [status, bytes] = children(response, 2);
    if (status?.tag !== Tag.ENUMERATED || bytes?.tag !== 0xa0 || bytes.end !== response.value.length) return undefined;
    const responseBytes = readOnly(bytes.value, Tag.SEQUENCE);
    const [, octets] = children(responseBytes, 2);
    if (octets?.tag !== Tag.OCTET_STRING || octets.end !== responseBytes.value.length) return undefined;
    const basic = readOnly(octets.value, Tag.SEQUENCE);
    const parts = children(basic, 4);
    const certs = parts[3];
    if (parts.length !== 4 || certs?.tag !== 0xa0 || certs.end !== basic.value.length) return undefined;
    const at = basic.value.byteOffset - der.byteOffset + certs.start;
    if (at + (certs.end - certs.start) !== der.length) return undefined;
    return { body: der.subarray(0, at), tail: der.subarray(at) };
  } catch {
    return undefined;
  }
}

/** What names a tail in ocsp-tail: the first 16 bytes of its SHA-256 (a few signer certificates ever). */
export const tailRefOf = (tail: Buffer): Buffer => createHash('sha256').update(tail).digest().subarray(0, 16);

/** One hash's entry in the o: value: a one-byte hash code, a two-byte length, the packed entry. */
const HASH_CODE: Record<OcspHash, number> = { sha1: 1, sha256: 2, sha384: 3, sha512: 5 };
const RESPONSE_V1 = 1;

/**
 * One response as it goes into the o: value: [version, body (the DER without its tail, or all of
 * it), tail ref (null: none), CertID (its offset and length in the DER, or its bytes when it is not
 * in there), thisUpdate, nextUpdate, etag, tenant (when known)], framed by hash code and length so that the
 * putOcspResponses script can replace one hash's entry and keep the others.
 */
export function frameOcspResponse(r: OcspResponseRecord, split: { body: Buffer; ref: Buffer } | undefined): Buffer {
  const body = split ? split.body : r.der;
  const at = r.der.indexOf(r.certId);
  const certId = r.certId.length > 0 && at >= 0 && at + r.certId.length <= body.length ? [at, r.certId.length] : r.certId;
  // The tenant last and only when known (responses pre-signed before it was recorded have none).
  const packed = pack([RESPONSE_V1, body, split ? split.ref : null, certId, r.thisUpdate, r.nextUpdate, r.etag, ...(r.tenant === undefined ? [] : [r.tenant])]);
  if (packed.length > 0xffff) throw new Error('a pre-signed OCSP response over 64 KiB');
  const head = Buffer.from([HASH_CODE[r.hash], packed.length >> 8, packed.length & 0xff]);
  return Buffer.concat([head, packed]);
}

/** The entry of `hash` in an o: value (undefined: none), with the tail ref it needs. */
export function findOcspEntry(value: Buffer, hash: OcspHash): { body: Buffer; ref: Buffer | null; certId: Buffer | [number, number]; thisUpdate: number; nextUpdate: number; etag: string; tenant?: string } | undefined {
  const code = HASH_CODE[hash];
  for (let p = 0; p + 3 <= value.length; ) {
    const n = (value[p + 1]! << 8) | value[p + 2]!;
    if (value[p] === code) {
      const fast = readEntry(value, p + 3, p + 3 + n);
      if (fast) return fast;
      const v = unpack(value.subarray(p + 3, p + 3 + n)) as [number, Uint8Array, Uint8Array | null, Uint8Array | [number, number], number, number, string, string?];
      if (v[0] !== RESPONSE_V1) throw new Error(`unknown pre-signed response encoding ${String(v[0])}`);
      return { body: asBuffer(v[1]), ref: v[2] && asBuffer(v[2]), certId: Array.isArray(v[3]) ? v[3] : asBuffer(v[3]), thisUpdate: v[4], nextUpdate: v[5], etag: v[6], ...(typeof v[7] === 'string' ? { tenant: v[7] } : {}) };
    }
    p += 3 + n;
  }
  return undefined;
}

// ---- certificate list index members ----

/** 7 bytes big-endian (Buffer's writeUIntBE stops at 6): list index times are below 10^15. */
const writeTime = (b: Buffer, ms: number, at: number): void => {
  b[at] = Math.floor(ms / 2 ** 48);
  b.writeUIntBE(ms % 2 ** 48, at + 1, 6);
};
const readTime = (b: Buffer): number => b[0]! * 2 ** 48 + b.readUIntBE(1, 6);

/**
 * A member of a certificate list index ordered by time as Redis keeps it (cl:, schema 7;
 * list-index.ts has it as `<15-digit time> <serial>`): the time as 7 bytes big-endian, the serial's
 * hex digits two to a byte (an odd count padded with a 0 digit) and their count last. 24 bytes for
 * a 32-digit serial instead of 48, which puts each member of the big sorted sets in a smaller
 * allocation (32 B less each). Byte order is time order, then the serials' order as strings (but
 * for a serial that is another's prefix padded with zeros, both issued in the same millisecond).
 * An id that is not lowercase hex is kept as its UTF-8 bytes and a 0xff. Undefined: not such a
 * member (the serial index keeps its members as they are: they are ordered as strings for prefixes).
 */
export function packListMember(member: string): Buffer | undefined {
  const m = /^(\d{15}) (.+)$/.exec(member);
  if (!m) return undefined;
  const id = m[2]!;
  const hex = /^[0-9a-f]{1,254}$/.test(id);
  const tail = hex ? Buffer.from(id.length % 2 ? id + '0' : id, 'hex') : Buffer.from(id);
  const b = Buffer.alloc(7 + tail.length + 1);
  writeTime(b, Number(m[1]), 0);
  tail.copy(b, 7);
  b[b.length - 1] = hex ? id.length : 0xff;
  return b;
}

/** A member packListMember wrote, as list-index.ts has it. */
export function unpackListMember(b: Buffer): string {
  const n = b[b.length - 1]!;
  const tail = b.subarray(7, b.length - 1);
  return `${String(readTime(b)).padStart(15, '0')} ${n === 0xff ? tail.toString() : tail.toString('hex').slice(0, n)}`;
}

/** Times of list index members are below this (15 digits). */
const TIME_END = 10 ** 15;

/**
 * A bound of a range of such an index (list-index.ts: '' the start, a time, a member, '\uffff'
 * above every member, or any position a caller gives) as ZRANGEBYLEX takes it, so that the packed
 * members it takes in are those whose unpacked form it would: a string that is no member or time
 * falls between two times, and is the lower one of them.
 */
export function packListBound(bound: string, inclusive: boolean): string | Buffer {
  if (bound === '') return '-';
  const at = (ms: number, tail?: Buffer): string | Buffer => {
    if (ms >= TIME_END) return '+';
    const b = Buffer.alloc(8 + (tail?.length ?? 0));
    b.write(inclusive ? '[' : '(', 'latin1');
    writeTime(b, ms, 1);
    tail?.copy(b, 8);
    return b;
  };
  const digits = /^\d*/.exec(bound)![0];
  if (digits.length < 15) {
    // Below every time with these leading digits, or (a character above the digits) above them.
    const next = bound[digits.length];
    return next === undefined || next < '0' ? at(Number(digits.padEnd(15, '0'))) : at(Number(digits.padEnd(15, '9')) + 1);
  }
  const time = Number(bound.slice(0, 15));
  const rest = bound.slice(15);
  if (rest === '' || rest === ' ') return at(time);
  if (rest[0] !== ' ') return at(time + 1);
  return at(time, packListMember(bound)!.subarray(7));
}

// ---- findOcspEntry's fast path (every OCSP request the responder does not hold reads one) ----

/** Where readEntry's helpers read next (one module-level cursor: no allocation per read). */
let pos = 0;
let limit = 0;

/**
 * The entry as frameOcspResponse writes it ([1, bin, bin | nil, [uint, uint] | bin, float64 |
 * uint, float64 | uint, str, str?]), read in place without msgpackr's generic decoding; undefined
 * for anything else (then msgpackr reads it).
 */
function readEntry(v: Buffer, from: number, to: number): OcspEntry | undefined {
  pos = from;
  limit = to;
  const head = v[pos++];
  if ((head !== 0x97 && head !== 0x98) || v[pos++] !== RESPONSE_V1) return undefined;
  const body = readBin(v);
  const ref = readBin(v);
  if (!body || ref === undefined) return undefined;
  let certId: Buffer | [number, number] | null | undefined;
  if (v[pos] === 0x92) {
    pos++;
    const offset = readNumber(v);
    const length = readNumber(v);
    if (offset === undefined || length === undefined) return undefined;
    certId = [offset, length];
  } else certId = readBin(v);
  if (!certId) return undefined;
  const thisUpdate = readNumber(v);
  const nextUpdate = readNumber(v);
  const etag = readStr(v);
  const tenant = head === 0x98 ? readStr(v) : undefined;
  if (thisUpdate === undefined || nextUpdate === undefined || etag === undefined || (head === 0x98 && tenant === undefined) || pos !== limit) return undefined;
  return { body, ref, certId, thisUpdate, nextUpdate, etag, ...(tenant === undefined ? {} : { tenant }) };
}

type OcspEntry = NonNullable<ReturnType<typeof findOcspEntry>>;

/** bin 8/16 as a view of `v`, nil as null; undefined for anything else or past the end. */
function readBin(v: Buffer): Buffer | null | undefined {
  const t = v[pos];
  if (t === 0xc0) {
    pos++;
    return null;
  }
  const h = t === 0xc4 ? 2 : t === 0xc5 ? 3 : 0;
  if (h === 0 || pos + h > limit) return undefined;
  const n = h === 2 ? v[pos + 1]! : v.readUInt16BE(pos + 1);
  if (pos + h + n > limit) return undefined;
  pos += h + n;
  return v.subarray(pos - n, pos);
}

/** A non-negative integer or a float64 (msgpackr writes epoch ms as float64). */
function readNumber(v: Buffer): number | undefined {
  const t = v[pos];
  if (t === undefined) return undefined;
  if (t < 0x80) {
    pos++;
    return t;
  }
  const size = t === 0xcc ? 1 : t === 0xcd ? 2 : t === 0xce ? 4 : t === 0xcb ? 8 : 0;
  if (size === 0 || pos + 1 + size > limit) return undefined;
  const r = size === 1 ? v[pos + 1]! : size === 2 ? v.readUInt16BE(pos + 1) : size === 4 ? v.readUInt32BE(pos + 1) : v.readDoubleBE(pos + 1);
  pos += 1 + size;
  return r;
}

/** fixstr, str 8 or str 16 (UTF-8). */
function readStr(v: Buffer): string | undefined {
  const t = v[pos];
  if (t === undefined) return undefined;
  const h = t >= 0xa0 && t <= 0xbf ? 1 : t === 0xd9 ? 2 : t === 0xda ? 3 : 0;
  if (h === 0 || pos + h > limit) return undefined;
  const n = h === 1 ? t & 0x1f : h === 2 ? v[pos + 1]! : v.readUInt16BE(pos + 1);
  if (pos + h + n > limit) return undefined;
  pos += h + n;
  return v.toString('utf8', pos - n, pos);
}
