import { Tag, ctx, enumerated, integer, seq, time, tlv } from './der.js';
import { authorityKeyIdentifier, extension } from './extensions.js';
import { OID } from './oids.js';
import { REVOCATION_REASONS, type RevocationReasonName } from './revocation.js';
import { signTbs, type TbsSigner } from './builder.js';

/** One revoked certificate as listed in a CRL (RFC 5280 5.1.2.6). */
export interface CrlEntry {
  /** The certificate serial: magnitude bytes, or hex (any case, leading zeros allowed). */
  readonly serial: Buffer | string;
  readonly revokedAt: Date;
  readonly reason: RevocationReasonName;
}

export interface CrlFields {
  /** Signs the CRL; its AlgorithmIdentifier goes into both signature fields (RFC 5280 5.1.1.2, 5.1.2.2). */
  readonly signer: TbsSigner;
  /** DER of the issuing CA's subject Name (RFC 5280 5.1.2.3). */
  readonly issuerName: Buffer;
  /** The issuing CA's key identifier, for the Authority Key Identifier (RFC 5280 5.2.1). */
  readonly issuerKeyId: Buffer;
  /** CRL Number (RFC 5280 5.2.3): non-negative, strictly increasing per issuer. */
  readonly number: number;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly entries: readonly CrlEntry[];
}

const VERSION_2 = integer(1);

/**
 * reasonCode entry extensions (RFC 5280 5.3.1), non-critical, encoded once per reason. `unspecified`
 * has none: the extension SHOULD be absent rather than carry that value.
 */
const REASON_EXTENSIONS = new Map<RevocationReasonName, Buffer>(
  (Object.entries(REVOCATION_REASONS) as [RevocationReasonName, number][])
    .filter(([name]) => name !== 'unspecified')
    .map(([name, code]) => [name, seq(extension(OID.crlReason, false, enumerated(code)))]),
);

/** Serial magnitude without leading zero octets (the DER INTEGER adds its own sign octet). */
function serialBytes(serial: Buffer | string): Buffer {
  let b: Buffer;
  if (typeof serial === 'string') {
    if (!/^[0-9a-fA-F]+$/.test(serial)) throw new Error(`CRL entry serial is not hex: ${serial}`);
    b = Buffer.from(serial.length % 2 ? '0' + serial : serial, 'hex');
  } else b = serial;
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  if (b.length === 0) throw new Error('empty CRL entry serial');
  return b.subarray(i);
}

/** Numeric order of unsigned magnitudes without leading zeros. */
const bySerial = (a: { s: Buffer }, b: { s: Buffer }): number => a.s.length - b.s.length || Buffer.compare(a.s, b.s);

const two = (out: Buffer, off: number, n: number): number => {
  out[off] = 0x30 + Math.floor(n / 10);
  out[off + 1] = 0x30 + (n % 10);
  return off + 2;
};

/**
 * Writes the bytes of `time(d)` at `off` without building strings (the hot part of a large CRL);
 * years 1000..9999 only. Returns the new offset.
 */
function writeTime(out: Buffer, off: number, d: Date): number {
  const y = d.getUTCFullYear();
  const utc = y >= 1950 && y < 2050; // RFC 5280 5.1.2.4 / 4.1.2.5
  out[off++] = utc ? Tag.UTCTime : Tag.GeneralizedTime;
  out[off++] = utc ? 13 : 15;
  if (!utc) off = two(out, off, Math.floor(y / 100));
  off = two(out, off, y % 100);
  off = two(out, off, d.getUTCMonth() + 1);
  off = two(out, off, d.getUTCDate());
  off = two(out, off, d.getUTCHours());
  off = two(out, off, d.getUTCMinutes());
  off = two(out, off, d.getUTCSeconds());
  out[off++] = 0x5a; // Z
  return off;
}

/**
 * The revokedCertificates list in serial order (RFC 5280 5.1.2.6), each entry
 * `SEQUENCE { userCertificate, revocationDate, crlEntryExtensions OPTIONAL }`, written in place
 * into one buffer: a list of 100 000 entries costs a few small allocations per entry.
 */
function revokedCertificates(list: readonly CrlEntry[]): Buffer {
  const sorted = list.map((e) => ({ s: serialBytes(e.serial), e })).sort(bySerial);
  let cap = 0;
  for (const { s } of sorted) cap += 26 + s.length + 14; // headers ≤ 4+5, time ≤ 17, reasonCode 14
  const out = Buffer.allocUnsafe(cap);
  let off = 0;
  for (const { s, e } of sorted) {
    const ext = REASON_EXTENSIONS.get(e.reason);
    if (ext === undefined && e.reason !== 'unspecified') throw new Error(`unknown revocation reason ${String(e.reason)}`);
    const pad = s[0]! & 0x80 ? 1 : 0; // DER INTEGER: a positive value whose top bit is set gets a 00 octet
    const year = e.revokedAt.getUTCFullYear();
    const body = 2 + pad + s.length + (year >= 1950 && year < 2050 ? 15 : 17) + (ext ? ext.length : 0);
    if (body > 0x7f || !(year >= 1000 && year <= 9999)) {
      // Long serials, odd years and invalid dates (time() throws) take the general path.
      const entry = ext ? seq(integer(s), time(e.revokedAt), ext) : seq(integer(s), time(e.revokedAt));
      off += entry.copy(out, off);
      continue;
    }
    out[off++] = Tag.SEQUENCE;
    out[off++] = body;
    out[off++] = Tag.INTEGER;
    out[off++] = pad + s.length;
    if (pad) out[off++] = 0;
    off += s.copy(out, off);
    off = writeTime(out, off, e.revokedAt);
    if (ext) off += ext.copy(out, off);
  }
  return tlv(Tag.SEQUENCE, out.subarray(0, off));
}

/**
 * A DER CertificateList v2 (RFC 5280 section 5), signed by the issuing CA. Entries are written in
 * serial order, so the same inputs give the same TBS.
 */
export async function buildCrl(f: CrlFields): Promise<Buffer> {
  if (!Number.isSafeInteger(f.number) || f.number < 0) throw new Error(`bad CRL number ${f.number}`);
  if (!(f.nextUpdate.getTime() > f.thisUpdate.getTime())) throw new Error('CRL nextUpdate must be after thisUpdate');

  const tbs = seq(
    VERSION_2,
    f.signer.algorithmDer,
    f.issuerName,
    time(f.thisUpdate),
    time(f.nextUpdate),
    // RFC 5280 5.1.2.6: with no revoked certificates the list is absent, not an empty SEQUENCE.
    ...(f.entries.length ? [revokedCertificates(f.entries)] : []),
    ctx(0, seq(authorityKeyIdentifier(f.issuerKeyId), extension(OID.crlNumber, false, integer(f.number)))),
  );
  return signTbs(tbs, f.signer);
}
