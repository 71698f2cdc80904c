/**
 * One contract, both backends: every test below runs unchanged against the embedded LMDB store and
 * against the Redis store on a real redis-server (own port and directory, AOF on).
 */
import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  LmdbStore,
  RedisStore,
  StoreNotDurableError,
  StoreUnavailableError,
  type CertificateRecord,
  type OcspResponseRecord,
  type Store,
} from '@evpki/store';
import { startRedis, type TestRedis } from './helpers/redis.js';

const redisOptions = (url: string, extra: Partial<ConstructorParameters<typeof RedisStore>[0]> = {}) => ({ url, commandTimeoutMs: 1000, waitReplicas: 0, waitTimeoutMs: 500, ...extra });

let seq = 0;
function cert(over: Partial<CertificateRecord> = {}): CertificateRecord {
  seq++;
  const serial = over.serial ?? randomBytes(16).toString('hex').replace(/^0+/, '');
  return {
    serial,
    issuerId: 'sub-1',
    der: randomBytes(400),
    kind: 'ChargingStationCertificate',
    tenant: 'cpo-a',
    stationId: 'st-1',
    subject: 'CN=SN1,O=CPO A',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2027-01-01T00:00:00.000Z',
    issuedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, seq)).toISOString(),
    spkiSha256: randomBytes(32).toString('hex'),
    sha256Fingerprint: randomBytes(32).toString('hex'),
    status: 'good',
    ...over,
  };
}

function response(c: CertificateRecord, hash: OcspResponseRecord['hash'], nextUpdate = Date.now() + 3_600_000): OcspResponseRecord {
  return { issuerId: c.issuerId, serial: c.serial, hash, certId: randomBytes(60), der: randomBytes(300), thisUpdate: Date.now(), nextUpdate, etag: `"${hash}"` };
}

function contract(name: string, open: () => Promise<{ store: Store; close(): Promise<void> }>): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    let opened: { store: Store; close(): Promise<void> };
    before(async () => {
      opened = await open();
      store = opened.store;
    });
    after(async () => opened.close());

    test('tenants, stations and issuers round-trip; putStation tells created from replaced', async () => {
      await store.putTenant({ id: 'cpo-a', cpoName: 'CPO A', disabled: false, createdAt: 'x', serverDomains: ['a.example'], rateLimits: { stationCsrsPerDay: 3 } });
      deepStrictEqual(await store.getTenant('cpo-a'), { id: 'cpo-a', cpoName: 'CPO A', disabled: false, createdAt: 'x', serverDomains: ['a.example'], rateLimits: { stationCsrsPerDay: 3 } });
      equal(await store.getTenant('nope'), undefined);
      const st = { tenant: 'cpo-a', stationId: 'st:1/é', serialNumber: 'SN1', allowed: true, createdAt: 'c', updatedAt: 'u' };
      deepStrictEqual(await store.putStation(st), { created: true });
      deepStrictEqual(await store.putStation({ ...st, allowed: false }), { created: false });
      deepStrictEqual(await store.getStation('cpo-a', 'st:1/é'), { ...st, allowed: false });
      // Parts are separated unambiguously: ('cpo-a:st', '1/é') is another station.
      equal(await store.getStation('cpo-a:st', '1/é'), undefined);
      equal(await store.deleteStation('cpo-a', 'st:1/é'), true);
      equal(await store.deleteStation('cpo-a', 'st:1/é'), false);
      const issuer = { id: 'sub-1', role: 'sub-ca' as const, parentId: 'root-1', certificate: randomBytes(500), state: 'active' as const, purpose: 'charge-point' as const, createdAt: 'c' };
      await store.putIssuer(issuer);
      await store.putIssuer({ ...issuer, id: 'root-1', role: 'root', parentId: 'root-1', purpose: 'root' });
      deepStrictEqual(await store.getIssuer('sub-1'), issuer);
      deepStrictEqual((await store.listIssuers()).map((i) => i.id), ['root-1', 'sub-1']);
    });

    test('recordIssuance writes the certificate with its indexes; conflicts write nothing', async () => {
      const a = cert({ stationId: 'issue-1' });
      deepStrictEqual(await store.recordIssuance(a, { tenant: 'cpo-a', key: 'k1', requestHash: 'h1' }), { ok: true });
      deepStrictEqual(await store.getCertificate(a.serial), a);
      equal(await store.isKeyCertified(a.spkiSha256), true);
      deepStrictEqual(await store.getIdempotency('cpo-a', 'k1'), { requestHash: 'h1', serial: a.serial, createdAt: a.issuedAt });

      // Same serial: refused, and the other key is not marked certified.
      const sameSerial = cert({ serial: a.serial, stationId: 'issue-1' });
      deepStrictEqual(await store.recordIssuance(sameSerial), { ok: false, conflict: 'serial' });
      equal(await store.isKeyCertified(sameSerial.spkiSha256), false);
      // Same key: refused, and no record under the new serial.
      const sameKey = cert({ spkiSha256: a.spkiSha256, stationId: 'issue-1' });
      deepStrictEqual(await store.recordIssuance(sameKey), { ok: false, conflict: 'key' });
      equal(await store.getCertificate(sameKey.serial), undefined);
      // Taken idempotency key: refused with the existing record; nothing else written.
      const again = cert({ stationId: 'issue-1' });
      deepStrictEqual(await store.recordIssuance(again, { tenant: 'cpo-a', key: 'k1', requestHash: 'h2' }), {
        ok: false,
        conflict: 'idempotency',
        existing: { requestHash: 'h1', serial: a.serial, createdAt: a.issuedAt },
      });
      equal(await store.getCertificate(again.serial), undefined);
      equal(await store.isKeyCertified(again.spkiSha256), false);
      deepStrictEqual((await store.listStationCertificates('cpo-a', 'issue-1')).map((c) => c.serial), [a.serial]);
    });

    test('concurrent issuance of one serial, or of one key, records exactly one', async () => {
      const serial = randomBytes(16).toString('hex').replace(/^0+/, '');
      const outcomes = await Promise.all(Array.from({ length: 40 }, () => store.recordIssuance(cert({ serial, stationId: 'race' }))));
      equal(outcomes.filter((o) => o.ok).length, 1);
      const spki = randomBytes(32).toString('hex');
      const byKey = await Promise.all(Array.from({ length: 40 }, () => store.recordIssuance(cert({ spkiSha256: spki, stationId: 'race' }))));
      equal(byKey.filter((o) => o.ok).length, 1);
      equal((await store.listStationCertificates('cpo-a', 'race')).length, 2);
    });

    test('station certificates list in issuance order; only charge point certificates are indexed', async () => {
      const certs = [cert({ stationId: 'order' }), cert({ stationId: 'order' }), cert({ stationId: 'order' })];
      for (const c of [certs[2]!, certs[0]!, certs[1]!]) await store.recordIssuance(c);
      await store.recordIssuance(cert({ stationId: 'order', kind: 'CSMSServerCertificate' }));
      deepStrictEqual((await store.listStationCertificates('cpo-a', 'order')).map((c) => c.serial), certs.map((c) => c.serial));
      deepStrictEqual(await store.listStationCertificates('cpo-a', 'nobody'), []);
    });

    test('revocation: status, CRL entry, pre-signed responses dropped, epoch moved, requeued; reasons only rise to keyCompromise', async () => {
      const c = cert({ stationId: 'rev' });
      await store.recordIssuance(c);
      equal(await store.putOcspResponses(c.serial, { status: 'good' }, [response(c, 'sha256'), response(c, 'sha1')], { nextDue: 10 }), true);
      ok(await store.getOcspResponse(c.issuerId, c.serial, 'sha256'));
      const epoch = store.ocspEpoch();

      deepStrictEqual(await store.revokeCertificate('00ff', 'keyCompromise', 'x'), { ok: false, reason: 'not-found' });
      const first = await store.revokeCertificate(c.serial, 'superseded', '2026-02-01T00:00:00.000Z');
      ok(first.ok && first.changed);
      deepStrictEqual(first.record, { ...c, status: 'revoked', revokedAt: '2026-02-01T00:00:00.000Z', revocationReason: 'superseded' });
      ok(store.ocspEpoch() !== epoch, 'the revoking process sees the new epoch at once');
      equal(await store.getOcspResponse(c.issuerId, c.serial, 'sha256'), undefined);
      equal(await store.getOcspResponse(c.issuerId, c.serial, 'sha1'), undefined);
      ok((await store.claimOcspDue(Date.now(), 10_000, 1)).some((d) => d.serial === c.serial), 'queued for new pre-signed responses');

      const same = await store.revokeCertificate(c.serial, 'cessationOfOperation', '2026-03-01T00:00:00.000Z');
      ok(same.ok && !same.changed);
      equal(same.record.revocationReason, 'superseded');
      equal(await store.isKeyBlocked(c.spkiSha256), false);
      const raised = await store.revokeCertificate(c.serial, 'keyCompromise', '2026-03-01T00:00:00.000Z');
      ok(raised.ok && raised.changed);
      equal(raised.record.revokedAt, '2026-02-01T00:00:00.000Z', 'the revocation time is kept');
      equal(raised.record.revocationReason, 'keyCompromise');
      equal(await store.isKeyBlocked(c.spkiSha256), true, 'A00.FR.501: a compromised key is blocked');
      deepStrictEqual(
        (await store.listRevoked(c.issuerId)).find((e) => e.serial === c.serial),
        { serial: c.serial, revokedAt: '2026-02-01T00:00:00.000Z', reason: 'keyCompromise' },
      );
      // A stale pre-signed "good" can no longer be written.
      equal(await store.putOcspResponses(c.serial, { status: 'good' }, [response(c, 'sha256')]), false);
      equal(await store.putOcspResponses(c.serial, { status: 'revoked', revokedAt: '2026-02-01T00:00:00.000Z', revocationReason: 'keyCompromise' }, [response(c, 'sha256')]), true);
    });

    test('removeStation deletes the station and revokes its good certificates in one write', async () => {
      await store.putStation({ tenant: 'cpo-a', stationId: 'gone', serialNumber: 'SNG', allowed: true, createdAt: 'c', updatedAt: 'u' });
      const [a, b, old] = [cert({ stationId: 'gone' }), cert({ stationId: 'gone' }), cert({ stationId: 'gone' })];
      for (const c of [a, b, old]) await store.recordIssuance(c);
      await store.revokeCertificate(old.serial, 'superseded', 'then');
      const removed = await store.removeStation('cpo-a', 'gone', 'cessationOfOperation', 'now');
      equal(removed.deleted, true);
      deepStrictEqual(removed.revoked.map((c) => c.serial).sort(), [a.serial, b.serial].sort());
      ok(removed.revoked.every((c) => c.status === 'revoked' && c.revocationReason === 'cessationOfOperation' && c.revokedAt === 'now'));
      equal((await store.getCertificate(old.serial))!.revocationReason, 'superseded');
      equal(await store.getStation('cpo-a', 'gone'), undefined);
      deepStrictEqual(await store.removeStation('cpo-a', 'gone', 'cessationOfOperation', 'now'), { deleted: false, revoked: [] });
    });

    test('pre-signed responses: stored only for the status they were signed for; due list claimed with a lease', async () => {
      const c = cert({ stationId: 'ocsp' });
      await store.recordIssuance(c);
      equal(await store.putOcspResponses(c.serial, { status: 'revoked', revokedAt: 'x', revocationReason: 'superseded' }, [response(c, 'sha256')]), false);
      const r = response(c, 'sha256');
      equal(await store.putOcspResponses(c.serial, { status: 'good' }, [r], { nextDue: 5_000 }), true);
      deepStrictEqual(await store.getOcspResponse(c.issuerId, c.serial, 'sha256'), r);
      equal(await store.getOcspResponse(c.issuerId, c.serial, 'sha1'), undefined);
      equal(await store.putOcspResponses('0abc', { status: 'good' }, [r]), false, 'unknown certificate');

      // Due at 5000: not before; once claimed, not again until the lease lapses.
      ok(!(await store.claimOcspDue(4_999, 100_000, 1000)).some((d) => d.serial === c.serial));
      const claimed = await store.claimOcspDue(5_000, 100_000, 1000);
      ok(claimed.some((d) => d.serial === c.serial && d.due === 5_000));
      ok(!(await store.claimOcspDue(5_999, 100_000, 1000)).some((d) => d.serial === c.serial));
      ok((await store.claimOcspDue(6_000, 100_000, 1000)).some((d) => d.serial === c.serial && d.due === 6_000));
      // No more refreshes: leaves the schedule.
      equal(await store.putOcspResponses(c.serial, { status: 'good' }, [], { nextDue: undefined }), true);
      ok(!(await store.claimOcspDue(Number.MAX_SAFE_INTEGER, 100_000, 1000)).some((d) => d.serial === c.serial));
      ok((await store.claimOcspDue(Number.MAX_SAFE_INTEGER, 2, 1000)).length <= 2, 'limit holds');
    });

    test('CRL numbers increase; a CRL never replaces a newer one', async () => {
      equal(await store.nextCrlNumber('crl-issuer'), 1);
      equal(await store.nextCrlNumber('crl-issuer'), 2);
      const crl = { issuerId: 'crl-issuer', number: 2, der: randomBytes(100), thisUpdate: 't', nextUpdate: 'n' };
      equal(await store.putCrl(crl), true);
      equal(await store.putCrl({ ...crl, number: 1 }), false);
      equal(await store.putCrl({ ...crl, number: 2 }), false);
      deepStrictEqual(await store.getCrl('crl-issuer'), crl);
      equal(await store.getCrl('other'), undefined);
    });

    test('rate limits: a sliding window per bucket; all buckets or none are counted', async () => {
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
    });

    test('concurrent rate-limited requests never exceed the limit', async () => {
      const bucket = { key: `burst-${seq++}`, limit: 10, windowMs: 60_000 };
      const outcomes = await Promise.all(Array.from({ length: 50 }, () => store.consumeRate([bucket], 1_000, `e${seq++}`)));
      equal(outcomes.filter((o) => o.allowed).length, 10);
    });

    test('a durable store passes assertDurable', async () => {
      await store.assertDurable();
    });
  });
}

contract('lmdb', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'evpki-store-'));
  const store = new LmdbStore(join(dir, 'store'));
  return { store, close: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) };
});

let redis: TestRedis | undefined;
contract('redis', async () => {
  redis = await startRedis();
  const store = new RedisStore(redisOptions(redis.url));
  return { store, close: async () => (await store.close(), await redis!.stop()) };
});

describe('redis store: what only a shared backend has', () => {
  let r: TestRedis;
  before(async () => {
    r = await startRedis();
  });
  after(async () => r.stop());

  test('a revocation in one process moves the OCSP epoch of another within a second (pub/sub)', async () => {
    const a = new RedisStore(redisOptions(r.url));
    const b = new RedisStore(redisOptions(r.url));
    try {
      const c = cert();
      await a.recordIssuance(c);
      b.ocspEpoch(); // subscribes
      await sleep(200);
      const before = b.ocspEpoch();
      const t0 = Date.now();
      await a.revokeCertificate(c.serial, 'superseded', 'now');
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

  test('with REDIS_WAIT_REPLICAS and no replica, an issuance fails as unavailable (the write is whole, never half)', async () => {
    const s = new RedisStore(redisOptions(r.url, { waitReplicas: 1, waitTimeoutMs: 100 }));
    try {
      const c = cert();
      await rejects(s.recordIssuance(c), StoreUnavailableError);
      // Committed on the primary as a whole (a retry under its idempotency key would replay it).
      deepStrictEqual(await s.getCertificate(c.serial), c);
    } finally {
      await s.close();
    }
  });

  test('Redis down: calls fail fast with StoreUnavailableError; back up: the same store object works again, nothing lost', async () => {
    const own = await startRedis();
    const s = new RedisStore(redisOptions(own.url, { commandTimeoutMs: 500 }));
    try {
      const c = cert();
      await s.recordIssuance(c);
      const epoch = s.ocspEpoch();
      await own.kill();
      const t0 = Date.now();
      await rejects(s.getCertificate(c.serial), StoreUnavailableError);
      await rejects(s.recordIssuance(cert()), StoreUnavailableError);
      ok(Date.now() - t0 < 2500, `failed within ${Date.now() - t0} ms`);
      equal(s.ocspEpoch(), epoch, 'no revocation can commit while down: held answers stay valid');
      await own.restart();
      for (let i = 0; i < 100; i++) {
        if (await s.ping().then(() => true, () => false)) break;
        await sleep(50);
      }
      deepStrictEqual(await s.getCertificate(c.serial), c, 'AOF (appendfsync always) kept the acknowledged write');
      deepStrictEqual(await s.recordIssuance(cert()), { ok: true });
      for (let i = 0; i < 40 && s.ocspEpoch() === epoch; i++) await sleep(50);
      ok(s.ocspEpoch() !== epoch, 'a reconnect invalidates what was held (messages may have been missed)');
    } finally {
      await s.close();
      await own.stop();
    }
  });
});
