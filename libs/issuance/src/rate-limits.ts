import { Rule, type RuleId } from '@evpki/policy';
import { AppError } from '@evpki/service';
import type { RateBucket, Store, TenantRecord } from '@evpki/store';

/** Certificate requests a tenant and each of its stations may make (RA_RATE_*; a tenant record may override each; 0 turns a limit off). */
export interface RateLimits {
  readonly stationCsrsPerDay: number;
  readonly tenantCsrsPerMinute: number;
}

/** A sliding-window limit an issuance counts against, and the rule a refusal names. */
export interface Quota {
  readonly bucket: RateBucket;
  readonly rule: RuleId;
  readonly message: string;
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/**
 * The tenant's and, for a station's certificate, the station's windows (RateLimit.tenant,
 * RateLimit.station), with the tenant's own limits over `defaults`. The store counts them in the
 * issuance write, so every RA and CA instance sees one count, and a request that fails or is
 * answered again (a replay) is not counted.
 */
export function csrQuotas(tenant: TenantRecord, stationId: string | undefined, defaults: RateLimits): Quota[] {
  const limits = { ...defaults, ...tenant.rateLimits };
  const quotas: Quota[] = [
    {
      bucket: { key: `csr:tenant:${tenant.id}`, limit: limits.tenantCsrsPerMinute, windowMs: MINUTE_MS },
      rule: Rule.tenantRate,
      message: `at most ${limits.tenantCsrsPerMinute} certificate requests per tenant per minute`,
    },
  ];
  if (stationId !== undefined)
    quotas.push({
      bucket: { key: `csr:station:${tenant.id}:${stationId}`, limit: limits.stationCsrsPerDay, windowMs: DAY_MS },
      rule: Rule.stationRate,
      message: `at most ${limits.stationCsrsPerDay} certificate requests per station in 24 hours`,
    });
  return quotas;
}

/** The 429 of a full bucket: its rule, and Retry-After when it has room again. */
export function rateLimited(quotas: readonly Quota[], refused: { readonly bucket: string; readonly retryAfterMs: number }): AppError {
  const q = quotas.find((x) => x.bucket.key === refused.bucket);
  if (!q) return new AppError('internal', `the store refused an unknown rate bucket ${refused.bucket}`);
  const retryAfterSeconds = Math.ceil(refused.retryAfterMs / 1000);
  return new AppError('rate-limited', `${q.message}; retry in ${retryAfterSeconds} s`, [{ rule: q.rule, message: q.message }], retryAfterSeconds);
}

/**
 * Refuses (429, the full bucket's rule) when a quota has no room at `now` (epoch ms): a read,
 * nothing counted. The RA asks it after its early policy check, so that requests over a limit
 * never reach the CA; the CA asks it again before it signs, and counts in the issuance write.
 */
export async function checkRoom(store: Pick<Store, 'peekRate'>, quotas: readonly Quota[], now: number): Promise<void> {
  if (!quotas.length) return;
  const room = await store.peekRate(quotas.map((q) => q.bucket), now);
  if (!room.allowed) throw rateLimited(quotas, room);
}
