/**
 * The store contract, rate limits (RateLimit.* rules): an issuance counts in its sliding-window
 * buckets in the issuance write itself (recordIssuance's `also.rate`), so a certificate recorded is
 * counted and a refused one is not, and peekRate reads the same verdict without writing. Both
 * backends (helpers/store-contract.ts).
 */
import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RootDatabase } from 'lmdb';
import { coverageOf, profileOf } from '@evpki/issuance';
import { LmdbStore, type CertificateRecord, type IssuanceOutcome, type RateBucket, type Store } from '@evpki/store';
import { cert, storeContract, withActiveIssuer } from './helpers/store-contract.js';

/** Makes bucket keys and event ids unique in the store. */
let seq = 0;

/** Records `c` counted in `buckets` at `now`, with an audit entry when `audited` (Redis: both go through the writer's script). */
function counted(store: Pick<Store, 'recordIssuance'>, buckets: readonly RateBucket[], now: number, c: CertificateRecord = cert(), audited = false): Promise<IssuanceOutcome> {
  const audit = audited ? { audit: { events: [{ event: 'certificate.issued', actor: 'ra', outcome: 'ok' as const, tenant: c.tenant, details: { serialNumber: c.serial } }], at: c.issuedAt } } : {};
  return store.recordIssuance(c, coverageOf(profileOf(c.kind)!), undefined, { ...audit, rate: { buckets, now, eventId: `e${seq++}` } });
}

const refused = (bucket: RateBucket, retryAfterMs: number): IssuanceOutcome => ({ ok: false, conflict: 'rate', bucket: bucket.key, retryAfterMs });

storeContract(
  'rate limits',
  {
    'a sliding window per bucket; an issuance counts in all its buckets or in none, and a refused one is not recorded': async (store) => {
      const station = { key: `station-${seq++}`, limit: 2, windowMs: 10_000 };
      const tenant = { key: `tenant-${seq++}`, limit: 3, windowMs: 1_000 };
      deepStrictEqual(await counted(store, [station, tenant], 100_000), { ok: true });
      deepStrictEqual(await counted(store, [station, tenant], 101_000, cert(), true), { ok: true });
      const over = cert();
      deepStrictEqual(await counted(store, [station, tenant], 102_000, over), refused(station, 8_000));
      equal(await store.getCertificate(over.serial), undefined, 'a refused issuance records nothing');
      equal(await store.isKeyCertified(over.spkiSha256), false);
      // The refused one counted nowhere: the tenant bucket has room for three more in a second.
      for (let i = 0; i < 3; i++) deepStrictEqual(await counted(store, [tenant], 102_500, cert(), i === 1), { ok: true });
      deepStrictEqual(await counted(store, [tenant], 102_600), refused(tenant, 900));
      // The first event leaves the window at 110000.
      deepStrictEqual(await counted(store, [station], 109_999), refused(station, 1));
      deepStrictEqual(await counted(store, [station], 110_001), { ok: true });
      deepStrictEqual(await counted(store, [{ ...station, limit: 0 }], 110_002), { ok: true }, 'limit 0 is off');
    },

    'an issuance refused for another reason (the key was certified) counts nothing': async (store) => {
      const bucket = { key: `key-${seq++}`, limit: 1, windowMs: 60_000 };
      const first = cert();
      deepStrictEqual(await counted(store, [{ key: `other-${seq++}`, limit: 5, windowMs: 60_000 }], 1_000, first), { ok: true });
      deepStrictEqual(await counted(store, [bucket], 1_001, cert({ spkiSha256: first.spkiSha256 })), { ok: false, conflict: 'key' });
      deepStrictEqual(await store.peekRate([bucket], 1_002), { allowed: true });
      deepStrictEqual(await counted(store, [bucket], 1_002), { ok: true });
    },

    'peekRate says what the write would, and writes nothing': async (store, opened) => {
      const a = { key: `peek-a-${seq++}`, limit: 2, windowMs: 10_000 };
      const b = { key: `peek-b-${seq++}`, limit: 1, windowMs: 60_000 };
      deepStrictEqual(await store.peekRate([a, b], 5_000), { allowed: true });
      deepStrictEqual(await counted(store, [a], 5_000), { ok: true });
      deepStrictEqual(await counted(store, [a, b], 6_000), { ok: true });
      const writes = await opened.writes();
      // Both full: the one that has room again last is named (b at 66000, a at 15000).
      deepStrictEqual(await store.peekRate([a, b], 7_000), { allowed: false, bucket: b.key, retryAfterMs: 59_000 });
      deepStrictEqual(await store.peekRate([a], 7_000), { allowed: false, bucket: a.key, retryAfterMs: 8_000 });
      deepStrictEqual(await store.peekRate([a], 15_001), { allowed: true }, 'the first event left the window');
      deepStrictEqual(await store.peekRate([{ ...b, limit: 0 }], 7_000), { allowed: true }, 'limit 0 is off');
      deepStrictEqual(await store.peekRate([], 7_000), { allowed: true });
      equal(await opened.writes(), writes, 'peekRate wrote');
      deepStrictEqual(await counted(store, [a], 7_000), refused(a, 8_000));
    },

    'concurrent issuances never exceed the limit, audited or not': async (store) => {
      for (const audited of [false, true]) {
        const bucket = { key: `burst-${seq++}`, limit: 10, windowMs: 60_000 };
        const certs = Array.from({ length: 50 }, () => cert());
        const outcomes = await Promise.all(certs.map((c, i) => counted(store, [bucket], 1_000, c, audited && i % 2 === 0)));
        equal(outcomes.filter((o) => o.ok).length, 10, `audited: ${audited}`);
        ok(outcomes.every((o) => o.ok || (o.conflict === 'rate' && o.bucket === bucket.key && o.retryAfterMs === 60_000)), JSON.stringify(outcomes.find((o) => !o.ok)));
        const recorded = await Promise.all(certs.map((c) => store.getCertificate(c.serial)));
        deepStrictEqual(
          recorded.map((r) => r !== undefined),
          outcomes.map((o) => o.ok),
          'exactly the counted ones are recorded',
        );
      }
    },

    'a busy bucket counts exactly: its count is kept with its events, expiry included (issue 17)': async (store) => {
      const busy = { key: `busy-${seq++}`, limit: 600, windowMs: 60_000 };
      // 600 events over 6 s (10 per 100 ms), in batches as concurrent requests arrive.
      for (let i = 0; i < 600; i += 100)
        equal((await Promise.all(Array.from({ length: 100 }, (_, j) => counted(store, [busy], 1_000_000 + Math.floor((i + j) / 10) * 100)))).filter((o) => o.ok).length, 100);
      deepStrictEqual(await counted(store, [busy], 1_020_000), refused(busy, 40_000));
      deepStrictEqual(await store.peekRate([busy], 1_020_000), { allowed: false, bucket: busy.key, retryAfterMs: 40_000 });
      // The first second's 100 events leave the window by 1,060,900 (an event at t counts until t + 60 s, exclusive): 100 free places.
      deepStrictEqual(await store.peekRate([busy], 1_060_900), { allowed: true });
      const later = await Promise.all(Array.from({ length: 101 }, () => counted(store, [busy], 1_060_900)));
      equal(later.filter((o) => o.ok).length, 100);
    },
  },
  withActiveIssuer,
);

test('LMDB: rate events written before the count was kept are counted once, then the count is kept (issue 17 upgrade)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'evpki-rate-legacy-'));
  const store = await withActiveIssuer(new LmdbStore(join(dir, 'store')));
  try {
    const db = (store as unknown as { db: RootDatabase }).db;
    // The earlier version's layout: one key per event, no count.
    for (let i = 0; i < 3; i++) await db.put(['rate', 'legacy', 5_000 + i, `old-${i}`], null);
    const bucket = { key: 'legacy', limit: 4, windowMs: 60_000 };
    deepStrictEqual(await store.peekRate([bucket], 6_000), { allowed: true });
    deepStrictEqual(await counted(store, [bucket], 6_000), { ok: true });
    deepStrictEqual(await store.peekRate([bucket], 6_001), { allowed: false, bucket: 'legacy', retryAfterMs: 58_999 });
    deepStrictEqual(await counted(store, [bucket], 6_001), refused(bucket, 58_999));
    // The old events leave the window one by one: at 65001 those of 5000 and 5001 have, 5002 has 1 ms to go.
    deepStrictEqual(await counted(store, [bucket], 65_001), { ok: true });
    deepStrictEqual(await counted(store, [bucket], 65_001), { ok: true });
    deepStrictEqual(await counted(store, [bucket], 65_001), refused(bucket, 1));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
