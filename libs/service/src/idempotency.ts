import { createHash } from 'node:crypto';
import type { CertificateRecord, Store } from '@evpki/store';
import { keySha256, type ParsedCsr } from '@evpki/x509';

/** What an Idempotency-Key is bound to: the same key with another request is a conflict. */
export function idempotencyRequestHash(stationId: string, certificateType: string, csrDer: Buffer): string {
  return createHash('sha256').update(`${stationId}\n${certificateType}\n`).update(csrDer).digest('hex');
}

/** A charge point certificate request, as a retry is recognised by (its requestHash: station, type, CSR DER). */
export interface ChargePointRequest {
  readonly tenant: string;
  readonly stationId: string;
  readonly requestHash: string;
}

/**
 * Issue 14.13: whether `c` is what this very request (same tenant, station, certificate type and
 * CSR DER) got earlier and is still good (not revoked, not expired). Such a request is a retry whose
 * answer was lost (e.g. the RA answered 503 while the CA went on and issued), not a reused key.
 */
export function isRetryOf(c: CertificateRecord, r: ChargePointRequest, now: Date): boolean {
  return (
    c.kind === 'ChargingStationCertificate' &&
    c.tenant === r.tenant &&
    c.stationId === r.stationId &&
    c.requestHash === r.requestHash &&
    c.status === 'good' &&
    Date.parse(c.notAfter) > now.getTime()
  );
}

/**
 * The certificate an identical earlier request got, when policy refused this one only because its
 * key is certified (every violation A02.FR.02) and isRetryOf holds for the key's certificate; else
 * undefined. Read from the store's record of the key, in the RA and again in the CA.
 */
export async function earlierIssuance(
  store: Pick<Store, 'getCertificateByKey'>,
  violations: readonly { readonly rule: string }[],
  req: { readonly tenant: string; readonly stationId: string; readonly certificateType: string; readonly csr: ParsedCsr },
  now: Date,
): Promise<CertificateRecord | undefined> {
  if (!violations.length || violations.some((v) => v.rule !== 'A02.FR.02')) return undefined;
  const holder = await store.getCertificateByKey(keySha256(req.csr.spki));
  const requestHash = idempotencyRequestHash(req.stationId, req.certificateType, req.csr.der);
  return holder && isRetryOf(holder, { tenant: req.tenant, stationId: req.stationId, requestHash }, now) ? holder : undefined;
}
