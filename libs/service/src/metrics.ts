import type { Store } from '@evpki/store';
import { AppError, isStoreFailure, type ErrorKind } from './errors.js';
import { promClient } from './prom-client.js';

/**
 * Refusals whose rule IDs count as rejections: the policy's, the audited-model rule (403), the rate
 * limits, an unregistered station (answered 404 so that identifiers cannot be probed).
 */
const REJECTION_KINDS: ReadonlySet<ErrorKind> = new Set(['policy', 'forbidden', 'rate-limited', 'malformed', 'too-large', 'conflict', 'not-found']);
/** A rule ID as a label value: our IDs have this shape; anything else (never expected) is "other". */
const RULE_LABEL = /^[A-Za-z][A-Za-z0-9._-]{0,31}$/;

/** The issuances_total outcome of a certificate request that failed with `err`. */
export function failedIssuanceOutcome(err: unknown): 'rejected' | 'rate-limited' | 'unavailable' | 'failed' {
  if (err instanceof AppError) return err.kind === 'rate-limited' ? 'rate-limited' : err.kind === 'unavailable' ? 'unavailable' : err.kind === 'internal' ? 'failed' : 'rejected';
  return isStoreFailure(err) ? 'unavailable' : 'failed';
}

/** One registry per service, names `pki_<service>_<what>_<unit>` (the expiry and health gauges of health-metrics.ts excepted). */
export function createMetrics(service: string) {
  const { Counter, Histogram, Registry, collectDefaultMetrics } = promClient();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: `pki_${service}_` });
  const requests = new Counter({
    name: `pki_${service}_http_requests_total`,
    help: 'HTTP requests by route ("METHOD /template", or "unmatched": never a raw URL) and status',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  const issuances = new Counter({
    name: `pki_${service}_issuances_total`,
    help: 'Certificate requests by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  });
  const rejections = new Counter({
    name: `pki_${service}_rejections_total`,
    help: 'Policy rejections by rule ID',
    labelNames: ['rule'] as const,
    registers: [registry],
  });
  const signSeconds = new Histogram({
    name: `pki_${service}_sign_duration_seconds`,
    help: 'Time to check, sign and record one certificate (CA), or to sign one OCSP answer live (OCSP), by kind',
    labelNames: ['kind'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  const storeErrors = new Counter({
    name: `pki_${service}_store_errors_total`,
    help: 'Store failures (unreachable, timed out, refused a write) by what was being done',
    labelNames: ['operation'] as const,
    registers: [registry],
  });
  /** Counts `err` in store_errors_total under `operation` when it is a store failure; true when it was. */
  const countStoreError = (operation: string, err: unknown): boolean => {
    if (!isStoreFailure(err)) return false;
    storeErrors.inc({ operation });
    return true;
  };
  const authFailures = new Counter({
    name: `pki_${service}_auth_failures_total`,
    help: 'Refused callers by reason (expired, signature, unknown-key, forbidden, …)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  /**
   * Counts each rule a refusal cites in rejections_total, once per request. Schema violations
   * ("openapi:…", named after request paths) are left out: they are not policy and not bounded.
   */
  const countRejections = (err: unknown): void => {
    if (!(err instanceof AppError) || !REJECTION_KINDS.has(err.kind) || !err.violations) return;
    const rules = new Set(err.violations.map((v) => v.rule).filter((r) => !r.startsWith('openapi:')));
    for (const rule of rules) rejections.inc({ rule: RULE_LABEL.test(rule) ? rule : 'other' });
  };
  return { service, registry, requests, issuances, rejections, signSeconds, authFailures, storeErrors, countStoreError, countRejections };
}
export type Metrics = ReturnType<typeof createMetrics>;

/**
 * `pki_<service>_audit_log_entries`: the entries the store holds (the head's seq minus the
 * checkpoint's: two reads, no scan), read at each scrape; `pki audit prune` lowers it. A store that
 * cannot be read leaves the last value (and counts a store error).
 */
export function observeAuditLog(metrics: Metrics, store: Pick<Store, 'auditHead' | 'auditCheckpoint'>): void {
  new (promClient().Gauge)({
    name: `pki_${metrics.service}_audit_log_entries`,
    help: 'Entries in the audit log (retained: the head seq minus the checkpoint of pki audit prune)',
    registers: [metrics.registry],
    async collect() {
      try {
        const [head, checkpoint] = await Promise.all([store.auditHead(), store.auditCheckpoint()]);
        this.set(head.seq - checkpoint.seq);
      } catch (err) {
        metrics.countStoreError('audit-size', err);
      }
    },
  });
}
