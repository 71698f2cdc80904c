/**
 * Shared pieces of the property-based ("fuzz") tests: the run budget, DER mutations and PEM armour
 * (broken or not). `make test` runs a small bounded number of cases; `make fuzz` sets FUZZ_RUNS
 * high. A failure prints fast-check's seed and path: rerun with FUZZ_SEED=<seed> (and FUZZ_PATH).
 */
import fc from 'fast-check';
import { readTlv, toPem } from '@evpki/x509';

function envInt(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

/** Cases per property: small by default (the whole fuzz part of `make test` stays well under a minute). */
export const FUZZ_RUNS = envInt('FUZZ_RUNS', 150);

/** A suite's time limit: generous, and growing with the budget (`make fuzz`), so only a hang trips it. */
export const FUZZ_TIMEOUT_MS = Math.max(300_000, FUZZ_RUNS * 200);

/** fast-check parameters for one property; `scale` shrinks or grows the budget of a costly one. */
export function fuzzParams<T>(scale = 1): fc.Parameters<T> {
  const seed = process.env.FUZZ_SEED;
  const path = process.env.FUZZ_PATH;
  return {
    numRuns: Math.max(1, Math.round(FUZZ_RUNS * scale)),
    ...(seed ? { seed: Number(seed) } : {}),
    ...(path ? { path } : {}),
    verbose: 0,
    includeErrorInReport: true,
  };
}

/** Where each TLV of `der` starts, and the size of its header, walking into constructed elements (iteratively). */
export function tlvHeaders(der: Buffer): { tagPos: number; lenPos: number; valuePos: number; end: number }[] {
  const out: { tagPos: number; lenPos: number; valuePos: number; end: number }[] = [];
  const stack: [number, number][] = [[0, der.length]];
  while (stack.length && out.length < 4096) {
    const [start, limit] = stack.pop()!;
    let off = start;
    while (off < limit) {
      let t;
      try {
        t = readTlv(der, off, limit);
      } catch {
        break;
      }
      const valuePos = t.end - t.value.length;
      out.push({ tagPos: off, lenPos: off + 1, valuePos, end: t.end });
      // Constructed, or a BIT/OCTET STRING that may hold DER (extensions, keys).
      if (t.tag & 0x20) stack.push([valuePos, t.end]);
      else if ((t.tag === 0x04 || t.tag === 0x03) && t.value.length > 2) stack.push([t.tag === 0x03 ? valuePos + 1 : valuePos, t.end]);
      off = t.end;
    }
  }
  return out;
}

const INTERESTING_TAGS = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0a, 0x0c, 0x13, 0x16, 0x17, 0x18, 0x1e, 0x1f, 0x30, 0x31, 0x80, 0x81, 0x82, 0xa0, 0xa1, 0xa2, 0xa3, 0xbf, 0xff];
/** Length fields that lie: indefinite, too many octets, gigabytes, non-minimal, off by one. */
const LYING_LENGTHS: ((len: number) => number[])[] = [
  () => [0x80],
  () => [0x84, 0xff, 0xff, 0xff, 0xff],
  () => [0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
  () => [0x83, 0x40, 0x00, 0x00],
  () => [0xff],
  (len) => [0x82, (len >> 8) & 0xff, len & 0xff],
  (len) => (len < 0x80 ? [0x81, len] : [len & 0x7f]),
  (len) => [Math.min(0x7f, len + 1)],
  (len) => [Math.max(0, Math.min(0x7f, len - 1))],
  () => [0x00],
];

/** One edit of a DER buffer; positions are taken modulo the buffer's length when applied. */
export type Mutation =
  | { op: 'flip'; pos: number; bit: number }
  | { op: 'set'; pos: number; value: number }
  | { op: 'truncate'; pos: number }
  | { op: 'insert'; pos: number; bytes: Uint8Array }
  | { op: 'remove'; pos: number; count: number }
  | { op: 'length'; which: number; kind: number }
  | { op: 'tag'; which: number; tag: number }
  | { op: 'duplicate'; which: number }
  | { op: 'drop'; which: number }
  | { op: 'wrap'; which: number; depth: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), pos: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('truncate' as const), pos: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('remove' as const), pos: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('length' as const), which: fc.nat(), kind: fc.nat({ max: LYING_LENGTHS.length - 1 }) }),
  fc.record({ op: fc.constant('tag' as const), which: fc.nat(), tag: fc.constantFrom(...INTERESTING_TAGS) }),
  fc.record({ op: fc.constant('duplicate' as const), which: fc.nat() }),
  fc.record({ op: fc.constant('drop' as const), which: fc.nat() }),
  fc.record({ op: fc.constant('wrap' as const), which: fc.nat(), depth: fc.integer({ min: 1, max: 64 }) }),
);

function derLength(len: number): number[] {
  if (len < 0x80) return [len];
  if (len < 0x100) return [0x81, len];
  if (len < 0x10000) return [0x82, len >> 8, len & 0xff];
  return [0x83, len >> 16, (len >> 8) & 0xff, len & 0xff];
}

export function applyMutation(input: Buffer, m: Mutation): Buffer {
  const b = Buffer.from(input);
  const at = (pos: number, extra = 0): number => (b.length + extra === 0 ? 0 : pos % (b.length + extra));
  switch (m.op) {
    case 'flip':
      if (b.length) b[at(m.pos)]! ^= 1 << m.bit;
      return b;
    case 'set':
      if (b.length) b[at(m.pos)] = m.value;
      return b;
    case 'truncate':
      return b.subarray(0, at(m.pos));
    case 'insert': {
      const p = at(m.pos, 1);
      return Buffer.concat([b.subarray(0, p), m.bytes, b.subarray(p)]);
    }
    case 'remove': {
      const p = at(m.pos);
      return Buffer.concat([b.subarray(0, p), b.subarray(p + m.count)]);
    }
  }
  const headers = tlvHeaders(b);
  if (!headers.length) return b;
  const h = headers[m.which % headers.length]!;
  switch (m.op) {
    case 'length':
      return Buffer.concat([b.subarray(0, h.lenPos), Buffer.from(LYING_LENGTHS[m.kind]!(h.end - h.valuePos)), b.subarray(h.valuePos)]);
    case 'tag':
      b[h.tagPos] = m.tag;
      return b;
    case 'duplicate':
      return Buffer.concat([b.subarray(0, h.end), b.subarray(h.tagPos, h.end), b.subarray(h.end)]);
    case 'drop':
      return Buffer.concat([b.subarray(0, h.tagPos), b.subarray(h.end)]);
    case 'wrap': {
      // The element inside `depth` well-formed SEQUENCEs (the parents' lengths are left as they were).
      let el = b.subarray(h.tagPos, h.end);
      for (let i = 0; i < m.depth; i++) el = Buffer.concat([Buffer.from([0x30, ...derLength(el.length)]), el]);
      return Buffer.concat([b.subarray(0, h.tagPos), el, b.subarray(h.end)]);
    }
  }
}

/** A seed with 1 to `max` mutations applied. */
export function mutatedArb(seeds: readonly Buffer[], max = 4): fc.Arbitrary<Buffer> {
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(mutationArb, { minLength: 1, maxLength: max }))
    .map(([seed, ms]) => ms.reduce(applyMutation, seed));
}

/** Bytes that are anything: random, a mutated seed, or a seed as it is. */
export function derInputArb(seeds: readonly Buffer[]): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.from(u)) },
    { weight: 6, arbitrary: mutatedArb(seeds) },
    { weight: 1, arbitrary: fc.constantFrom(...seeds) },
  );
}

/** PEM armour, intact or broken in one of many ways. */
export type Armour =
  | 'intact' | 'crlf' | 'one-line' | 'no-end' | 'no-begin' | 'other-label' | 'lowercase-label' | 'mismatched-end'
  | 'bad-base64' | 'no-padding' | 'extra-padding' | 'text-before' | 'text-after' | 'two-blocks' | 'spaces-in-body'
  | 'tabs' | 'nul' | 'unicode' | 'long-line' | 'empty-body' | 'dashes' | 'new-label';

export const ARMOURS: readonly Armour[] = [
  'intact', 'crlf', 'one-line', 'no-end', 'no-begin', 'other-label', 'lowercase-label', 'mismatched-end', 'bad-base64', 'no-padding',
  'extra-padding', 'text-before', 'text-after', 'two-blocks', 'spaces-in-body', 'tabs', 'nul', 'unicode', 'long-line', 'empty-body', 'dashes', 'new-label',
];

export function armour(der: Buffer, how: Armour, label = 'CERTIFICATE REQUEST'): string {
  const pem = toPem(label, der);
  const b64 = der.toString('base64');
  switch (how) {
    case 'intact': return pem;
    case 'crlf': return pem.replace(/\n/g, '\r\n');
    case 'one-line': return `-----BEGIN ${label}-----${b64}-----END ${label}-----`;
    case 'no-end': return pem.replace(/-----END[^\n]*\n$/, '');
    case 'no-begin': return pem.replace(/^-----BEGIN[^\n]*\n/, '');
    case 'other-label': return toPem('CERTIFICATE', der);
    case 'lowercase-label': return toPem(label.toLowerCase(), der);
    case 'mismatched-end': return pem.replace(/-----END [^-]*-----/, '-----END X509 CRL-----');
    case 'bad-base64': return pem.replace(/[A-Za-z0-9]/, '*');
    case 'no-padding': return pem.replace(/=+\n/, '\n');
    case 'extra-padding': return pem.replace(/\n-----END/, '====\n-----END');
    case 'text-before': return 'Subject: CN=x\n' + pem;
    case 'text-after': return pem + 'trailing words\n';
    case 'two-blocks': return pem + pem;
    case 'spaces-in-body': return pem.replace(/(.{10})/, '$1 ');
    case 'tabs': return pem.replace(/\n/g, '\t\n');
    case 'nul': return pem.replace(/\n/, '\n\u0000');
    case 'unicode': return pem.replace(/([A-Z])/, '\u00c4');
    case 'long-line': return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
    case 'empty-body': return `-----BEGIN ${label}-----\n-----END ${label}-----\n`;
    case 'dashes': return pem.replace(/-----/g, '----');
    case 'new-label': return toPem('NEW CERTIFICATE REQUEST', der);
  }
}

/** A deep nest of `depth` constructed elements (definite lengths), innermost `inner`. */
export function deeplyNested(depth: number, tag = 0x30, inner: Buffer = Buffer.from([0x05, 0x00])): Buffer {
  // Built from the inside out in one buffer, without recursion.
  const headers: number[][] = [];
  let len = inner.length;
  for (let i = 0; i < depth; i++) {
    const h = [tag, ...derLength(len)];
    headers.push(h);
    len += h.length;
  }
  const out = Buffer.alloc(len);
  let pos = 0;
  for (let i = headers.length - 1; i >= 0; i--) {
    for (const byte of headers[i]!) out[pos++] = byte;
  }
  inner.copy(out, pos);
  return out;
}

/** `depth` nested constructed elements with indefinite lengths (BER, never DER) and their end-of-contents. */
export function indefiniteNested(depth: number): Buffer {
  return Buffer.concat([Buffer.alloc(depth * 2, Buffer.from([0x30, 0x80])), Buffer.from([0x05, 0x00]), Buffer.alloc(depth * 2, 0)]);
}
