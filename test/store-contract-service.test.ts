/**
 * The store contract, what the services ask of the store besides records: the RA's rate limits,
 * ping (readiness probes) and assertDurable (startup). Both backends (helpers/store-contract.ts).
 */
import { deepStrictEqual, equal, ok } from 'node:assert/strict';
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
    await store.releaseRate([full], 'failed-request');
    deepStrictEqual(await store.consumeRate([full], 200_002, 'next'), { allowed: true });
  },

  'concurrent rate-limited requests never exceed the limit': async (store) => {
    const bucket = { key: `burst-${seq++}`, limit: 10, windowMs: 60_000 };
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => store.consumeRate([bucket], 1_000, `e${seq++}`)));
    equal(outcomes.filter((o) => o.allowed).length, 10);
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
