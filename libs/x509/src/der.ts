/**
 * A strict, small DER reader and writer. Hot paths (CSR parsing, certificate assembly) use this
 * instead of a schema library: see docs/architecture.md "Hot paths". Only definite, minimal lengths
 * are accepted; every read is bounds-checked; nesting depth is bounded by the callers' shape.
 *
 * Hostile input: the reader never recurses (readTlv reads one element, children one level), so a
 * deeply nested input costs one step per level the caller's fixed shape asks for, never stack; a
 * length field of more than MAX_LENGTH_OCTETS octets (16 MiB) or longer than the bytes at hand is
 * refused before anything is copied; high tag numbers and indefinite lengths are refused. Callers
 * bound the whole input first (CSR_LIMITS, OCSP_LIMITS) and the number of children they read.
 */

/** Length fields of at most 3 octets (elements below 16 MiB): anything claiming more is refused. */
export const MAX_LENGTH_OCTETS = 3;

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8String: 0x0c,
  PrintableString: 0x13,
  TeletexString: 0x14,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  UniversalString: 0x1c,
  BMPString: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

export class DerError extends Error {
  override readonly name = 'DerError';
}

/** One decoded TLV: `der.subarray(start, end)` is the whole element, `value` its contents. */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
  readonly value: Buffer;
}

/** Reads the TLV at `offset` of `buf`, refusing anything that is not strict DER. */
export function readTlv(buf: Buffer, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw new DerError('truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not supported');
  let len = buf[offset + 1]!;
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError('indefinite length is not DER');
    if (n > MAX_LENGTH_OCTETS) throw new DerError('element too long');
    if (pos + n > limit) throw new DerError('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | buf[pos + i]!;
    if (len < 0x80 || buf[pos] === 0) throw new DerError('length not minimally encoded');
    pos += n;
  }
  const end = pos + len;
  if (end > limit) throw new DerError('truncated value');
  return { tag, start: offset, end, value: buf.subarray(pos, end) };
}

/** Reads exactly one element spanning all of `buf`, with the expected tag. */
export function readOnly(buf: Buffer, tag: number): Tlv {
  const t = readTlv(buf, 0);
  if (t.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  if (t.end !== buf.length) throw new DerError('trailing data');
  return t;
}

/** The children of a constructed element, at most `max` of them. */
export function children(parent: Tlv | Buffer, max = 64): Tlv[] {
  const value = Buffer.isBuffer(parent) ? parent : parent.value;
  const out: Tlv[] = [];
  let off = 0;
  while (off < value.length) {
    if (out.length >= max) throw new DerError(`more than ${max} elements`);
    const t = readTlv(value, off);
    out.push(t);
    off = t.end;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t) throw new DerError(`${what} missing`);
  if (t.tag !== tag) throw new DerError(`${what}: unexpected tag 0x${t.tag.toString(16)}`);
  return t;
}

/** Whole-element bytes of a child TLV read from `parent.value`. */
export function raw(parentValue: Buffer, t: Tlv): Buffer {
  return parentValue.subarray(t.start, t.end);
}

export function decodeOid(value: Buffer): string {
  if (value.length === 0 || value.length > 64) throw new DerError('bad OID length');
  const parts: number[] = [];
  let acc = 0;
  for (let i = 0; i < value.length; i++) {
    const b = value[i]!;
    if (acc === 0 && b === 0x80) throw new DerError('OID not minimally encoded');
    acc = acc * 128 + (b & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER) throw new DerError('OID arc too large');
    if (!(b & 0x80)) {
      parts.push(acc);
      acc = 0;
    } else if (i === value.length - 1) throw new DerError('truncated OID');
  }
  const first = parts[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...parts.slice(1)].join('.');
}

/** Unsigned big-endian magnitude of a DER INTEGER, refusing non-minimal encodings. */
export function integerBytes(value: Buffer): Buffer {
  if (value.length === 0) throw new DerError('empty INTEGER');
  if (value.length > 1 && ((value[0] === 0 && !(value[1]! & 0x80)) || (value[0] === 0xff && value[1]! & 0x80)))
    throw new DerError('INTEGER not minimally encoded');
  return value;
}

export function decodeSmallInt(value: Buffer): number {
  integerBytes(value);
  if (value.length > 4 || value[0]! & 0x80) throw new DerError('INTEGER out of range');
  return value.reduce((acc, b) => acc * 256 + b, 0);
}

/** Content of a BIT STRING with no unused bits (keys, signatures). */
export function bitStringBytes(value: Buffer): Buffer {
  if (value.length === 0 || value[0] !== 0) throw new DerError('BIT STRING with unused bits');
  return value.subarray(1);
}

// ---- writer -------------------------------------------------------------------------------

/** One allocation per element: the header written in place, each part copied once (hot: OCSP answers signed live). */
export function tlv(tag: number, ...parts: Buffer[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const lenBytes = len < 0x80 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : len < 0x1000000 ? 4 : 0;
  if (lenBytes === 0) throw new DerError('element too long');
  const out = Buffer.allocUnsafe(1 + lenBytes + len);
  out[0] = tag;
  if (lenBytes === 1) out[1] = len;
  else {
    out[1] = 0x80 | (lenBytes - 1);
    for (let i = lenBytes, v = len; i >= 2; i--, v >>>= 8) out[i] = v & 0xff;
  }
  let at = 1 + lenBytes;
  for (const p of parts) at += p.copy(out, at);
  return out;
}

export const seq = (...parts: Buffer[]): Buffer => tlv(Tag.SEQUENCE, ...parts);
export const set = (...parts: Buffer[]): Buffer => tlv(Tag.SET, ...parts);
export const octetString = (b: Buffer): Buffer => tlv(Tag.OCTET_STRING, b);
export const bitString = (b: Buffer): Buffer => tlv(Tag.BIT_STRING, Buffer.from([0]), b);
export const utf8 = (s: string): Buffer => tlv(Tag.UTF8String, Buffer.from(s, 'utf8'));
export const nullDer = (): Buffer => Buffer.from([Tag.NULL, 0]);
export const bool = (v: boolean): Buffer => Buffer.from([Tag.BOOLEAN, 1, v ? 0xff : 0]);
/** Context-specific tag: constructed `[n]` by default. */
export const ctx = (n: number, body: Buffer, constructed = true): Buffer => tlv((constructed ? 0xa0 : 0x80) | n, body);

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [];
  const push = (n: number): void => {
    const stack = [n & 0x7f];
    for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) stack.unshift((n & 0x7f) | 0x80);
    out.push(...stack);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  arcs.slice(2).forEach(push);
  return tlv(Tag.OID, Buffer.from(out));
}

/** DER INTEGER from an unsigned big-endian magnitude. */
export function integer(magnitude: Buffer | number): Buffer {
  let b = magnitude;
  if (typeof b === 'number') {
    const hex = b.toString(16);
    b = Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex');
  }
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && !(b[i + 1]! & 0x80)) i++;
  b = b.subarray(i);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(Tag.INTEGER, b);
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always seconds and Z. */
export function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:mm:ss.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '') + 'Z';
  const year = d.getUTCFullYear();
  return year < 2050 && year >= 1950
    ? tlv(Tag.UTCTime, Buffer.from(digits.slice(2), 'ascii'))
    : tlv(Tag.GeneralizedTime, Buffer.from(digits, 'ascii'));
}

/** GeneralizedTime in seconds and Z, whatever the year (OCSP times, RFC 6960 4.2.2.1). */
/** YYYYMMDDHHMMSSZ (RFC 5280 4.1.2.5.2: seconds, no fraction); digits written directly (three per OCSP answer signed live). */
export function generalizedTime(d: Date): Buffer {
  const y = d.getUTCFullYear();
  if (!(y >= 0 && y <= 9999)) return tlv(Tag.GeneralizedTime, Buffer.from(d.toISOString().slice(0, 19).replace(/[-:T]/g, '') + 'Z', 'ascii'));
  const out = Buffer.allocUnsafe(17);
  out[0] = Tag.GeneralizedTime;
  out[1] = 15;
  const put = (at: number, n: number, digits: number): void => {
    for (let i = digits - 1; i >= 0; i--, n = Math.floor(n / 10)) out[at + i] = 0x30 + (n % 10);
  };
  put(2, y, 4);
  put(6, d.getUTCMonth() + 1, 2);
  put(8, d.getUTCDate(), 2);
  put(10, d.getUTCHours(), 2);
  put(12, d.getUTCMinutes(), 2);
  put(14, d.getUTCSeconds(), 2);
  out[16] = 0x5a; // Z
  return out;
}

export const enumerated = (n: number): Buffer => tlv(Tag.ENUMERATED, integer(n).subarray(2));

export function decodeTime(t: Tlv): Date {
  const s = t.value.toString('ascii');
  let m: RegExpExecArray | null;
  if (t.tag === Tag.UTCTime && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy < 50 ? 2000 + yy : 1900 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  if (t.tag === Tag.GeneralizedTime && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)))
    return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  throw new DerError('bad time encoding');
}
