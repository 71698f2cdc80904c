/**
 * The store contract, what the services ask of the store besides records: the RA's rate limits,
 * ping (readiness probes) and assertDurable (startup). Both backends (helpers/store-contract.ts).
 */
import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RootDatabase } from 'lmdb';
import { LmdbStore } from '@evpki/store';
import { storeContract } from './helpers/store-contract.js';

/** Makes bucket keys and event ids unique in the store. */
let seq = 0;

storeContract('service', {
  'rate limits: a sliding window per bucket; all buckets or none are counted': async (store) => {
    const station = { key: `station-${seq++}`, limit: 2, windowMs: 10_000 };
    const tenant = { key: `tenant-${seq++}`, limit: 3, windowMs: 1_000 };
    deepStrictEqual(await store.consumeRate([station, tenant], 100_000, `e${seq++}`), { allowed: true });
    deepStrictEqual(await store.consumeRate([station, tenant], 101_000, `e${seq++}`), { allowed: true });
    deepStrictEqual(await store.consumeRate([station, tenant], 102_000, `e${seq++}`), { allowed: false, bucket: station.key, retryAfterMs: 8_000 });
    // The refused request counted nowhere: the tenant bucket has room for three more in a second.
    for (let i = 0; i < 3; i++) deepStrictEqual(await store.consumeRate([tenant], 102_500, `e${seq++}`), { allowed: true });
    deepStrictEqual(await store.consumeRate([tenant], 102_600, `e${seq++}`), { allowed: false, bucket: tenant.key, retryAfterMs: 900 });
    // The first event leaves the window at 110000.
    deepStrictEqual(await store.consumeRate([station], 109_999, `e${seq++}`), { allowed: false, bucket: station.key, retryAfterMs: 1 });
    deepStrictEqual(await store.consumeRate([station], 110_001, `e${seq++}`), { allowed: true });
    deepStrictEqual(await store.consumeRate([{ ...station, limit: 0 }], 110_002, `e${seq++}`), { allowed: true }, 'limit 0 is off');
    // A released event no longer counts.
    const full = { key: `release-${seq++}`, limit: 1, windowMs: 10_000 };
    deepStrictEqual(await store.consumeRate([full], 200_000, 'failed-request'), { allowed: true });
    equal((await store.consumeRate([full], 200_001, 'next')).allowed, false);
    await store.releaseRate([full], 'failed-request', 200_000);
    deepStrictEqual(await store.consumeRate([full], 200_002, 'next'), { allowed: true });
  },

  'concurrent rate-limited requests never exceed the limit': async (store) => {
    const bucket = { key: `burst-${seq++}`, limit: 10, windowMs: 60_000 };
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => store.consumeRate([bucket], 1_000, `e${seq++}`)));
    equal(outcomes.filter((o) => o.allowed).length, 10);
  },

  'a busy bucket counts exactly: its count is kept with its events, expiry and releases included (issue 17)': async (store) => {
    const busy = { key: `busy-${seq++}`, limit: 1_500, windowMs: 60_000 };
    // 1,500 events over 15 s (10 per 100 ms), in batches as concurrent requests arrive.
    for (let i = 0; i < 1_500; i += 100)
      equal((await Promise.all(Array.from({ length: 100 }, (_, j) => store.consumeRate([busy], 1_000_000 + Math.floor((i + j) / 10) * 100, `busy-${i + j}`)))).filter((o) => o.allowed).length, 100);
    deepStrictEqual(await store.consumeRate([busy], 1_020_000, 'over'), { allowed: false, bucket: busy.key, retryAfterMs: 40_000 });
    await store.releaseRate([busy], 'busy-7', 1_000_000);
    await store.releaseRate([busy], 'busy-7', 1_000_000); // twice: counted back once
    deepStrictEqual(await store.consumeRate([busy], 1_020_000, 'room-for-one'), { allowed: true });
    equal((await store.consumeRate([busy], 1_020_000, 'full-again')).allowed, false);
    // The first second's 100 events (one released, in its place the one above) leave the window by 1,060,900 (an event at t counts until t + 60 s, exclusive): 99 free places.
    const later = await Promise.all(Array.from({ length: 100 }, (_, j) => store.consumeRate([busy], 1_060_900, `later-${j}`)));
    equal(later.filter((o) => o.allowed).length, 99);
  },

  'issue 14.7: ping only reads (readiness probes call it every few seconds)': async (store, opened) => {
    const before = await opened.writes();
    for (let i = 0; i < 5; i++) await store.ping();
    equal(await opened.writes(), before, 'ping wrote');
    await store.putTenant({ id: 'ping-check', cpoName: 'CPO P', disabled: false, createdAt: 'c' });
    ok((await opened.writes()) > before, 'a write is counted');
  },

  'a durable store passes assertDurable': async (store) => {
    await store.assertDurable();
  },
});

test('LMDB: rate events written before the count was kept are counted once, then the count is kept (issue 17 upgrade)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'evpki-rate-legacy-'));
  const store = new LmdbStore(join(dir, 'store'));
  try {
    const db = (store as unknown as { db: RootDatabase }).db;
    // The earlier version's layout: one key per event, no count.
    for (let i = 0; i < 3; i++) await db.put(['rate', 'legacy', 5_000 + i, `old-${i}`], null);
    const bucket = { key: 'legacy', limit: 4, windowMs: 60_000 };
    deepStrictEqual(await store.consumeRate([bucket], 6_000, 'new-1'), { allowed: true });
    deepStrictEqual(await store.consumeRate([bucket], 6_001, 'new-2'), { allowed: false, bucket: 'legacy', retryAfterMs: 58_999 });
    await store.releaseRate([bucket], 'old-0', 5_000);
    deepStrictEqual(await store.consumeRate([bucket], 6_002, 'new-3'), { allowed: true });
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
