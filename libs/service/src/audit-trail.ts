import type { AuditEvent, Store } from '@evpki/store';
import type { Logger } from './logging.js';

export interface AuditTrailOptions {
  readonly log: Logger;
  readonly now: () => Date;
  /** Called when a best-effort append fails (the store-errors metric); a failed `record` is the caller's to count. */
  readonly onStoreError?: (err: unknown) => void;
  /** Authentication failures recorded per second at most (burst: ten times that); the rest are counted. */
  readonly authFailuresPerSecond?: number;
  /** An authenticated caller's refusals: one entry per (tenant, event, rules, route) per this many ms, the rest counted (default 10 s; 0: every one). */
  readonly refusalIntervalMs?: number;
}

/** One (tenant, event, rules, route) in its interval: the entry written first, and how many were left out since. */
interface RefusalWindow {
  readonly tenant: string;
  readonly since: number;
  readonly first: AuditEvent;
  suppressed: number;
}

/**
 * Open intervals per tenant at most: rule combinations are many, so past this a tenant's further
 * refusals share one interval (whatever their event, rules and route), and the log stays bounded.
 */
const MAX_WINDOWS_PER_TENANT = 32;

/**
 * The services' one way into the audit log (libs/store audit.ts), but for a new certificate's
 * entry, which the issuance pipeline writes with the certificate (one store write: recordIssuance).
 * What the service did (a revocation, a replayed issuance) is recorded before it is answered, and a
 * failed append fails the request.
 * Refusals are recorded best effort: a store outage must not turn a 4xx into a 5xx. Neither
 * anonymous nor authenticated callers can flood the log: authentication failures are rate limited,
 * those left out counted into the next recorded one (`suppressedBefore`); an authenticated
 * caller's refusals are aggregated per (tenant, event, rules, route) and interval: the first one of
 * an interval is written, the others counted into a summary entry when the interval closes
 * (`suppressed`, with `summary: true`), or on `close()`. So the entries of a burst of N refusals
 * add up: (entries without `summary`) + Σ suppressed = N.
 */
export function createAuditTrail(store: Pick<Store, 'appendAudit'>, opts: AuditTrailOptions) {
  const rate = opts.authFailuresPerSecond ?? 20;
  const burst = rate * 10;
  let budget = burst;
  let refilledAt = opts.now().getTime();
  let suppressed = 0;
  const intervalMs = opts.refusalIntervalMs ?? 10_000;
  const windows = new Map<string, RefusalWindow>();
  const openPerTenant = new Map<string, number>();
  let sweeper: NodeJS.Timeout | undefined;

  const append = (event: AuditEvent | readonly AuditEvent[]): Promise<unknown> => store.appendAudit(Array.isArray(event) ? event : [event as AuditEvent], opts.now().toISOString());

  async function recordBestEffort(event: AuditEvent | readonly AuditEvent[]): Promise<void> {
    try {
      await append(event);
    } catch (err) {
      opts.onStoreError?.(err);
      opts.log.warn({ err: (err as Error).message, events: (Array.isArray(event) ? event : [event as AuditEvent]).length }, 'audit append failed');
    }
  }

  /** The summary entry of a closed interval: the first refusal's fields, and how many more there were. */
  const summaryOf = (w: RefusalWindow): AuditEvent => {
    const { reason: _r, stationId: _s, serialNumber: _n, ...details } = w.first.details ?? {};
    return { ...w.first, details: { ...details, summary: true, suppressed: w.suppressed, since: new Date(w.since).toISOString() } };
  };

  /** Writes the summaries of the intervals closed by `t` (all of them with `all`), and forgets those intervals. */
  async function flush(t: number, all = false): Promise<void> {
    const closed: AuditEvent[] = [];
    for (const [key, w] of windows) {
      if (!all && t - w.since < intervalMs) continue;
      windows.delete(key);
      const open = (openPerTenant.get(w.tenant) ?? 1) - 1;
      if (open > 0) openPerTenant.set(w.tenant, open);
      else openPerTenant.delete(w.tenant);
      if (w.suppressed) closed.push(summaryOf(w));
    }
    if (!windows.size && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
    // At most AUDIT_LIMITS.eventsPerAppend events per append.
    for (let i = 0; i < closed.length; i += 1000) await recordBestEffort(closed.slice(i, i + 1000));
  }

  return {
    /** Records what was done (several events: all or none); throws when the store cannot take it (the caller fails the request). */
    async record(event: AuditEvent | readonly AuditEvent[]): Promise<void> {
      await append(event);
    },

    /**
     * An authenticated caller's refusal (with `tenant`): the first of its (tenant, event, rules,
     * details.route) in an interval is written, the others counted. Events without a tenant are
     * written as they come.
     */
    async recordRefusal(event: AuditEvent): Promise<void> {
      if (event.tenant === undefined || intervalMs <= 0) return recordBestEffort(event);
      const t = opts.now().getTime();
      const tenant = event.tenant;
      let key = JSON.stringify([tenant, event.event, event.rules ?? [], event.details?.route ?? null]);
      if (!windows.has(key) && (openPerTenant.get(tenant) ?? 0) >= MAX_WINDOWS_PER_TENANT) key = JSON.stringify([tenant, '*']);
      const w = windows.get(key);
      if (w && t - w.since < intervalMs) {
        w.suppressed++;
        return;
      }
      // A closed interval not swept yet: its count goes into a summary written with this one.
      if (!w) openPerTenant.set(tenant, (openPerTenant.get(tenant) ?? 0) + 1);
      windows.set(key, { tenant, since: t, first: event, suppressed: 0 });
      sweeper ??= setInterval(() => void flush(opts.now().getTime()), intervalMs).unref();
      await recordBestEffort(w?.suppressed ? [summaryOf(w), event] : event);
    },

    async recordAuthFailure(event: AuditEvent): Promise<void> {
      const t = opts.now().getTime();
      budget = Math.min(burst, budget + ((t - refilledAt) / 1000) * rate);
      refilledAt = t;
      if (budget < 1) {
        suppressed++;
        return;
      }
      budget--;
      const details = suppressed ? { ...event.details, suppressedBefore: suppressed } : event.details;
      suppressed = 0;
      await recordBestEffort({ ...event, ...(details ? { details } : {}) });
    },

    /** Writes every pending count (summaries of the open intervals): call before the store closes, so that no count is lost. */
    async close(): Promise<void> {
      await flush(opts.now().getTime(), true);
    },
  };
}
export type AuditTrail = ReturnType<typeof createAuditTrail>;
