import type { RateBucket, RateOutcome } from './records.js';

/** The buckets that count: a limit of 0 is off. */
export const countedBuckets = (all: readonly RateBucket[]): RateBucket[] => all.filter((b) => b.limit > 0);

/**
 * Whether one more event fits in every bucket at `now`, given each bucket's events in its window
 * (`countOf`) and the time of its oldest (`oldestOf`, asked of a full bucket only); refused: the
 * bucket that has room again last, and when.
 */
export function rateVerdict(buckets: readonly RateBucket[], countOf: (b: RateBucket) => number, oldestOf: (b: RateBucket) => number, now: number): RateOutcome {
  let refused: { bucket: string; retryAfterMs: number } | undefined;
  for (const b of buckets) {
    if (countOf(b) < b.limit) continue;
    const retryAfterMs = Math.max(1, oldestOf(b) + b.windowMs - now);
    if (!refused || retryAfterMs > refused.retryAfterMs) refused = { bucket: b.key, retryAfterMs };
  }
  return refused ? { allowed: false, ...refused } : { allowed: true };
}
