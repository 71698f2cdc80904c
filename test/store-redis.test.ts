/**
 * The Redis store: what only a shared backend has (pub/sub between processes, durability that
 * depends on the server, outages) and how it batches audit appends. The contract both backends
 * share: test/store-contract-*.test.ts.
 */
import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisStore, StoreNotDurableError, StoreUnavailableError, verifyAuditChain } from '@evpki/store';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { cert, redisOptions, withActiveIssuer } from './helpers/store-contract.js';
import { recordCert } from './helpers/record-cert.js';

describe('redis store: what only a shared backend has', () => {
  let r: TestRedis;
  before(async () => {
    r = await startRedis();
    const s = new RedisStore(redisOptions(r.url));
    await withActiveIssuer(s);
    await s.close();
  });
  after(async () => r.stop());

  test('a revocation in one process moves the OCSP epoch of another within a second (pub/sub)', async () => {
    const a = new RedisStore(redisOptions(r.url));
    const b = new RedisStore(redisOptions(r.url));
    try {
      const c = cert();
      await recordCert(a, c);
      b.ocspEpoch(); // subscribes
      await sleep(200);
      const before = b.ocspEpoch();
      const t0 = Date.now();
      await a.revokeCertificate(c.serial, 'superseded', 'now', () => []);
      while (b.ocspEpoch() === before && Date.now() - t0 < 1000) await sleep(5);
      ok(b.ocspEpoch() !== before, 'the other instance saw the revocation');
      ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('without AOF and without a replica wait the store refuses to vouch for durability', async () => {
    const noAof = await startRedis({ appendonly: false });
    const s = new RedisStore(redisOptions(noAof.url));
    const waiting = new RedisStore(redisOptions(noAof.url, { waitReplicas: 1 }));
    try {
      await rejects(s.assertDurable(), StoreNotDurableError);
      await waiting.assertDurable();
    } finally {
      await s.close();
      await waiting.close();
      await noAof.stop();
    }
  });

  test('a Redis that evicts keys when full (maxmemory-policy other than noeviction) is refused at start', async () => {
    const s = new RedisStore(redisOptions(r.url));
    const admin = new Redis(r.url);
    try {
      await s.assertDurable();
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
      await rejects(s.assertDurable(), (e: unknown) => e instanceof StoreNotDurableError && /allkeys-lru/.test(e.message));
    } finally {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      admin.disconnect();
      await s.close();
    }
  });

  test('with REDIS_WAIT_REPLICAS and no replica, an issuance fails as unavailable (the write is whole, never half)', async () => {
    const s = new RedisStore(redisOptions(r.url, { waitReplicas: 1, waitTimeoutMs: 100 }));
    try {
      const c = cert();
      await rejects(recordCert(s, c), StoreUnavailableError);
      // Committed on the primary as a whole (a retry under its idempotency key would replay it).
      deepStrictEqual(await s.getCertificate(c.serial), c);
    } finally {
      await s.close();
    }
  });

  test('Redis down: calls fail fast with StoreUnavailableError; back up: the same store object works again, nothing lost', async () => {
    const own = await startRedis();
    const s = await withActiveIssuer(new RedisStore(redisOptions(own.url, { commandTimeoutMs: 500 })));
    try {
      const c = cert();
      await recordCert(s, c);
      const epoch = s.ocspEpoch();
      await own.kill();
      const t0 = Date.now();
      await rejects(s.getCertificate(c.serial), StoreUnavailableError);
      await rejects(recordCert(s, cert()), StoreUnavailableError);
      ok(Date.now() - t0 < 2500, `failed within ${Date.now() - t0} ms`);
      equal(s.ocspEpoch(), epoch, 'no revocation can commit while down: held answers stay valid');
      await own.restart();
      for (let i = 0; i < 100; i++) {
        if (await s.ping().then(() => true, () => false)) break;
        await sleep(50);
      }
      deepStrictEqual(await s.getCertificate(c.serial), c, 'AOF (appendfsync always) kept the acknowledged write');
      deepStrictEqual(await recordCert(s, cert()), { ok: true });
      for (let i = 0; i < 40 && s.ocspEpoch() === epoch; i++) await sleep(50);
      ok(s.ocspEpoch() !== epoch, 'a reconnect invalidates what was held (messages may have been missed)');
    } finally {
      await s.close();
      await own.stop();
    }
  });
});

describe('redis store: audit appends', () => {
  let r: TestRedis;
  before(async () => {
    r = await startRedis();
  });
  after(async () => r.stop());

  const scriptCalls = async (raw: RedisStore): Promise<number> => {
    const info = await (raw as unknown as { redis: { info(s: string): Promise<string> } }).redis.info('commandstats');
    return [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  };

  test('one instance writes queued appends as one batch per round trip', async () => {
    const s = new RedisStore(redisOptions(r.url));
    try {
      await s.appendAudit([{ event: 'warm.up', actor: 'test', outcome: 'ok' }], 'now');
      const before = await scriptCalls(s);
      const appended = await Promise.all(Array.from({ length: 100 }, (_, i) => s.appendAudit([{ event: 'certificate.issued', actor: 'ca', outcome: 'ok', details: { i } }], 'now')));
      const calls = (await scriptCalls(s)) - before;
      ok(calls <= 2, `100 appends took ${calls} script calls`);
      deepStrictEqual(appended.map((e) => e[0]!.seq), Array.from({ length: 100 }, (_, i) => i + 2), 'callers get their own entries, in call order');
      ok((await verifyAuditChain(s)).ok);
    } finally {
      await s.close();
    }
  });

  test('Redis down: an append fails as unavailable, writing nothing; back up, the chain goes on from the head', async () => {
    const own = await startRedis();
    const s = new RedisStore(redisOptions(own.url, { commandTimeoutMs: 500 }));
    try {
      const first = await s.appendAudit([{ event: 'certificate.issued', actor: 'ca', outcome: 'ok' }], 'now');
      await own.kill();
      await rejects(s.appendAudit([{ event: 'certificate.issued', actor: 'ca', outcome: 'ok' }], 'now'), StoreUnavailableError);
      await own.restart();
      for (let i = 0; i < 100; i++) {
        if (await s.ping().then(() => true, () => false)) break;
        await sleep(50);
      }
      const next = await s.appendAudit([{ event: 'certificate.revoked', actor: 'ca', outcome: 'ok' }], 'now');
      equal(next[0]!.seq, first[0]!.seq + 1);
      equal(next[0]!.prevHash, first[0]!.hash);
      ok((await verifyAuditChain(s)).ok);
    } finally {
      await s.close();
      await own.stop();
    }
  });
});
