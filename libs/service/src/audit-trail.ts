import type { AuditEvent, Store } from '@evpki/store';
import type { Logger } from './logging.js';

export interface AuditTrailOptions {
  readonly log: Logger;
  readonly now: () => Date;
  /** Called when a best-effort append fails (the store-errors metric); a failed `record` is the caller's to count. */
  readonly onStoreError?: (err: unknown) => void;
  /** Authentication failures recorded per second at most (burst: ten times that); the rest are counted. */
  readonly authFailuresPerSecond?: number;
}

/**
 * The services' one way into the audit log (libs/store audit.ts). What the service did (an
 * issuance, a revocation) is recorded before it is answered, and a failed append fails the request.
 * Refusals are recorded best effort: a store outage must not turn a 4xx into a 5xx. Authentication
 * failures are rate limited, so that anonymous callers cannot flood the log; those left out are
 * counted into the next recorded one (`suppressedBefore`).
 */
export function createAuditTrail(store: Store, opts: AuditTrailOptions) {
  const rate = opts.authFailuresPerSecond ?? 20;
  const burst = rate * 10;
  let budget = burst;
  let refilledAt = opts.now().getTime();
  let suppressed = 0;

  const append = (event: AuditEvent | readonly AuditEvent[]): Promise<unknown> => store.appendAudit(Array.isArray(event) ? event : [event as AuditEvent], opts.now().toISOString());

  async function recordRefusal(event: AuditEvent): Promise<void> {
    try {
      await append(event);
    } catch (err) {
      opts.onStoreError?.(err);
      opts.log.warn({ err: (err as Error).message, event: event.event }, 'audit append failed');
    }
  }

  return {
    /** Records what was done (several events: all or none); throws when the store cannot take it (the caller fails the request). */
    async record(event: AuditEvent | readonly AuditEvent[]): Promise<void> {
      await append(event);
    },

    recordRefusal,

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
      await recordRefusal({ ...event, ...(details ? { details } : {}) });
    },
  };
}
export type AuditTrail = ReturnType<typeof createAuditTrail>;
