import { randomFillSync } from 'node:crypto';
import { bitString, ctx, integer, seq, time } from './der.js';

/**
 * Certificate assembly from DER pieces: the issuer-fixed parts (signature algorithm, issuer name,
 * profile extensions) are encoded once, and each issuance adds only its variable fields.
 * Prepare, record, sign once: see docs/architecture.md "Hot paths".
 */
export interface TbsFields {
  readonly serial: Buffer;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subject: Buffer;
  readonly spki: Buffer;
  readonly extensions: readonly Buffer[];
}

const VERSION_3 = ctx(0, integer(2));

export function buildTbs(signatureAlgorithm: Buffer, issuerName: Buffer, f: TbsFields): Buffer {
  return seq(
    VERSION_3,
    integer(f.serial),
    signatureAlgorithm,
    issuerName,
    seq(time(f.notBefore), time(f.notAfter)),
    f.subject,
    f.spki,
    ctx(3, seq(...f.extensions)),
  );
}

/** Anything that signs: a synchronous in-memory key (signerFor) or an issuer's async Signer (@evpki/keys). */
export interface TbsSigner {
  readonly algorithmDer: Buffer;
  sign(data: Buffer): Buffer | Promise<Buffer>;
}

/** The signed structure (certificate, CRL): TBS, algorithm, signature BIT STRING. */
export async function signTbs(tbs: Buffer, signer: TbsSigner): Promise<Buffer> {
  return seq(tbs, signer.algorithmDer, bitString(await signer.sign(tbs)));
}

/**
 * A serial number (A00.FR.508): 128 random bits, positive, 16 octets, first octet never zero so the
 * DER length is fixed. Uniqueness is enforced by the store, not by luck.
 */
export function randomSerial(): Buffer {
  if (serialPoolAt + 16 > serialPool.length) {
    randomFillSync(serialPool);
    serialPoolAt = 0;
  }
  const b = Buffer.from(serialPool.subarray(serialPoolAt, serialPoolAt + 16));
  // Each pool byte is used once.
  serialPool.fill(0, serialPoolAt, serialPoolAt + 16);
  serialPoolAt += 16;
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b;
}

/**
 * CSPRNG bytes drawn 4 KB at a time: one `randomBytes(16)` call costs tens of microseconds (the
 * call into OpenSSL, not the randomness), 256 serials from one fill cost one call.
 */
const serialPool = Buffer.alloc(4096);
let serialPoolAt = serialPool.length;
