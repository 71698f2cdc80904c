import { randomUUID } from 'node:crypto';
import { Rule } from '@evpki/policy';
import { AppError } from '@evpki/service';
import type { RateBucket, RaStore, TenantRecord } from '@evpki/store';

/** Defaults from RA_RATE_*; a tenant record may override each; 0 turns a limit off. */
export interface RateLimits {
  readonly stationCsrsPerDay: number;
  readonly tenantCsrsPerMinute: number;
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/**
 * Counts one CSR that is about to be signed against the station's and the tenant's sliding
 * windows, kept in the store so that every RA instance sees the same count. Replays and requests
 * refused by policy are not counted. Over a limit: 429 with Retry-After, and nothing is counted.
 * Returns the way to take the count back when signing then fails (e.g. the CA is down: retries
 * must not use up a station's day).
 */
export async function consumeCsrQuota(store: RaStore, tenant: TenantRecord, stationId: string | undefined, defaults: RateLimits, now: Date): Promise<() => Promise<void>> {
  const limits = { ...defaults, ...tenant.rateLimits };
  const buckets: RateBucket[] = [{ key: `csr:tenant:${tenant.id}`, limit: limits.tenantCsrsPerMinute, windowMs: MINUTE_MS }];
  if (stationId !== undefined) buckets.push({ key: `csr:station:${tenant.id}:${stationId}`, limit: limits.stationCsrsPerDay, windowMs: DAY_MS });
  const eventId = randomUUID();
  const outcome = await store.consumeRate(buckets, now.getTime(), eventId);
  if (outcome.allowed) return () => store.releaseRate(buckets, eventId, now.getTime());
  const retryAfterSeconds = Math.ceil(outcome.retryAfterMs / 1000);
  const violation = outcome.bucket.startsWith('csr:station:')
    ? { rule: Rule.stationRate, message: `at most ${limits.stationCsrsPerDay} certificate requests per station in 24 hours` }
    : { rule: Rule.tenantRate, message: `at most ${limits.tenantCsrsPerMinute} certificate requests per tenant per minute` };
  throw new AppError('rate-limited', `${violation.message}; retry in ${retryAfterSeconds} s`, [violation], retryAfterSeconds);
}
