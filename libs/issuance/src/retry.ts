import { createHash } from 'node:crypto';
import type { CertificateRecord } from '@evpki/store';

/**
 * What an Idempotency-Key and a retry are bound to: the station, what was asked (the OCPP
 * certificate type, or a server certificate's kind and lifetime) and the CSR DER. Recorded with
 * the certificate (issue 14.13).
 */
export function requestHash(stationId: string, requestLabel: string, csrDer: Buffer): string {
  return createHash('sha256').update(`${stationId}\n${requestLabel}\n`).update(csrDer).digest('hex');
}

/**
 * Issue 14.13: whether `c` is what this very request (same kind, tenant, station and request
 * hash) got earlier and is still good (not revoked, not expired). Such a request is a retry whose
 * answer was lost (e.g. the RA answered 503 while the CA went on and issued), not a reused key.
 */
export function isRetryOf(c: CertificateRecord, r: { readonly kind: string; readonly tenant: string; readonly stationId: string; readonly requestHash: string }, now: Date): boolean {
  return (
    c.kind === r.kind &&
    c.tenant === r.tenant &&
    c.stationId === r.stationId &&
    c.requestHash === r.requestHash &&
    c.status === 'good' &&
    Date.parse(c.notAfter) > now.getTime()
  );
}
