import { createHash } from 'node:crypto';

/** What an Idempotency-Key is bound to: the same key with another request is a conflict. */
export function idempotencyRequestHash(stationId: string, certificateType: string, csrDer: Buffer): string {
  return createHash('sha256').update(`${stationId}\n${certificateType}\n`).update(csrDer).digest('hex');
}
