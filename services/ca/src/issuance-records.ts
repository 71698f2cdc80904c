import { failedIssuanceOutcome, type Metrics } from '@evpki/service';
import type { AuditEvent } from '@evpki/store';
import type { SignedCertificate } from './sign-certificate.js';

/**
 * Runs one certificate request and counts it: issuances_total by kind and outcome (issued,
 * replayed, or why it failed) and, when a certificate came out, sign_duration_seconds.
 */
export async function counted<T extends object>(metrics: Metrics, kind: string, run: () => Promise<T>): Promise<T> {
  const started = process.hrtime.bigint();
  let result: T;
  try {
    result = await run();
  } catch (e) {
    metrics.issuances.inc({ kind, outcome: failedIssuanceOutcome(e) });
    throw e;
  }
  metrics.issuances.inc({ kind, outcome: 'replayed' in result && result.replayed === true ? 'replayed' : 'issued' });
  metrics.signSeconds.observe({ kind }, Number(process.hrtime.bigint() - started) / 1e9);
  return result;
}

/** The audit entry of a certificate handed out: a new one, or one replayed for a retried request. */
export function issuanceEvent(signed: SignedCertificate, tenant: string, actor: string, stationId?: string): AuditEvent {
  return {
    event: signed.replayed ? 'certificate.replayed' : 'certificate.issued',
    actor,
    outcome: 'ok',
    tenant,
    details: {
      kind: signed.certificateType,
      ...(stationId ? { stationId } : {}),
      serialNumber: signed.serialNumber,
      notAfter: signed.notAfter,
      sha256Fingerprint: signed.sha256Fingerprint,
    },
  };
}
