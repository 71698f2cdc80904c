/**
 * One contract, both backends: every test below runs unchanged against the embedded LMDB store and
 * against the Redis store on a real redis-server (own port and directory, AOF on).
 */
import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AUDIT_GENESIS_HASH,
  AuditEventError,
  LmdbStore,
  RedisStore,
  StoreNotDurableError,
  StoreUnavailableError,
  auditEntryHash,
  verifyAuditChain,
  type AuditEvent,
  type CertificateRecord,
  type OcspResponseRecord,
  type Store,
} from '@evpki/store';
import { inspectSpki } from '@evpki/x509';
import { TEST_DIR } from './helpers/fixtures.js';
import { certificateWithSpki, compressedEcSpki, rsaSpkiWithoutNull, spkiOf } from './helpers/keys.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { storeWrites } from './helpers/store-writes.js';

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

/** Issuer `sub-1` of cert(), active: the store records leaves only under the active issuing CA. */
async function withActiveIssuer<S extends Store>(store: S): Promise<S> {
  await store.putIssuer({ id: 'sub-1', hierarchy: 'csms', role: 'issuing', parentId: 'root-1', certificate: randomBytes(500), state: 'active', createdAt: 'c' });
  return store;
}

function response(c: CertificateRecord, hash: OcspResponseRecord['hash'], nextUpdate = Date.now() + 3_600_000): OcspResponseRecord {
  return { issuerId: c.issuerId, serial: c.serial, hash, certId: randomBytes(60), der: randomBytes(300), thisUpdate: Date.now(), nextUpdate, etag: `"${hash}"` };
}

/**
 * `another`: a second instance on the same backend (for Redis; LMDB allows one environment per path and process).
 * `writes`: how many writes the backend has committed so far (helpers/store-writes.ts).
 * `childEnv`: where another process finds the store (STORE_LMDB: its path; STORE_REDIS: its URL).
 */
type Opened = { store: Store; another?: () => Store; writes: () => Promise<number>; childEnv: Record<string, string>; close(): Promise<void> };

/** Runs an ES module in another process with `s`, its own instance of the store; resolves with its stdout. */
function inStoreProcess(env: Record<string, string>, body: string): Promise<string> {
  const code = `
    import { LmdbStore, RedisStore } from '@evpki/store';
    const s = process.env.STORE_LMDB ? new LmdbStore(process.env.STORE_LMDB) : new RedisStore({ url: process.env.STORE_REDIS, commandTimeoutMs: 5000, waitReplicas: 0, waitTimeoutMs: 500 });
    ${body}
    await s.close();`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: TEST_DIR, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.on('error', reject);
    p.on('exit', (c) => (c === 0 ? resolve(out) : reject(new Error(`store process exited with ${c}`))));
  });
}

/** What a store written before schema 2 held: no schema marker (the records are written as they were). */
const FORGET_SCHEMA = `
  if (process.env.STORE_LMDB) {
    const { open } = await import('lmdb');
    const db = open({ path: process.env.STORE_LMDB, compression: false });
    await db.remove(['meta', 'schema']);
    await db.close();
  } else {
    const { Redis } = await import('ioredis');
    const r = new Redis(process.env.STORE_REDIS);
    await r.del('evpki:schema');
    r.disconnect();
  }`;

function contract(name: string, open: () => Promise<Opened>): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    let opened: Opened;
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
      const issuer = { id: 'sub-1', hierarchy: 'csms', role: 'issuing' as const, parentId: 'root-1', certificate: randomBytes(500), state: 'active' as const, createdAt: 'c' };
      await store.putIssuer(issuer);
      await store.putIssuer({ ...issuer, id: 'root-1', role: 'root', parentId: 'root-1' });
      deepStrictEqual(await store.getIssuer('sub-1'), issuer);
      deepStrictEqual((await store.listIssuers()).map((i) => i.id), ['root-1', 'sub-1']);
    });

    test('tenants: createTenant only when absent (one of concurrent creates wins); updateTenant read-modify-write loses no update; listTenants by id', async () => {
      const base = { cpoName: 'CPO T', disabled: false, createdAt: 'c' };
      equal(await store.createTenant({ id: 't-new', ...base }), true);
      equal(await store.createTenant({ id: 't-new', ...base, cpoName: 'Other' }), false);
      equal((await store.getTenant('t-new'))?.cpoName, 'CPO T');
      const racers = await Promise.all(Array.from({ length: 10 }, (_, i) => store.createTenant({ id: 't-race', ...base, cpoName: `CPO ${i}` })));
      equal(racers.filter(Boolean).length, 1);
      equal((await store.getTenant('t-race'))?.cpoName, `CPO ${racers.indexOf(true)}`);

      equal(await store.updateTenant('t-none', (t) => t), undefined);
      equal(await store.getTenant('t-none'), undefined);
      const changed = await store.updateTenant('t-new', (t) => ({ ...t, disabled: true, rateLimits: { tenantCsrsPerMinute: 0 } }));
      deepStrictEqual(changed, { before: { id: 't-new', ...base }, after: { id: 't-new', ...base, disabled: true, rateLimits: { tenantCsrsPerMinute: 0 } } });
      deepStrictEqual(await store.getTenant('t-new'), changed.after);
      await rejects(store.updateTenant('t-new', (t) => ({ ...t, id: 't-other' })), /cannot change/);
      equal(await store.getTenant('t-other'), undefined);
      // Concurrent increments through updateTenant (from two instances where the backend has them): none lost.
      await store.putTenant({ id: 't-count', ...base, cpoName: 'CPO Count', rateLimits: { stationCsrsPerDay: 0 } });
      const second = opened.another?.() ?? store;
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? second : store).updateTenant('t-count', (t) => ({ ...t, rateLimits: { stationCsrsPerDay: (t.rateLimits?.stationCsrsPerDay ?? 0) + 1 } }))),
      );
      if (second !== store) await second.close();
      equal((await store.getTenant('t-count'))?.rateLimits?.stationCsrsPerDay, 20);

      const ids = (await store.listTenants()).map((t) => t.id);
      for (const id of ['cpo-a', 't-count', 't-new', 't-race']) ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
      deepStrictEqual(ids, [...ids].sort());
      deepStrictEqual((await store.listTenants()).find((t) => t.id === 't-new'), await store.getTenant('t-new'));
    });

    test('rotation: leaves only under the active issuer, OCSP signers under any; last leaf expiry; commitRotation compare-and-set', async () => {
      const sub1 = (await store.getIssuer('sub-1'))!;
      const sub2 = { ...sub1, id: 'sub-2', state: 'prepared' as const };
      await store.putIssuer(sub2);
      deepStrictEqual(await store.recordIssuance(cert({ issuerId: 'sub-2' })), { ok: false, conflict: 'issuer' });
      deepStrictEqual(await store.recordIssuance(cert({ issuerId: 'no-such' })), { ok: false, conflict: 'issuer' });
      const signer = cert({ issuerId: 'sub-2', kind: 'OcspSigningCertificate', notAfter: '2030-01-01T00:00:00.000Z' });
      deepStrictEqual(await store.recordIssuance(signer), { ok: true }, 'a prepared issuer gets its OCSP signer');
      equal(await store.issuerLastExpiry('sub-2'), undefined, 'OCSP signers do not count as leaves');
      const before = (await store.issuerLastExpiry('sub-1')) ?? 0;
      await store.recordIssuance(cert({ issuerId: 'sub-1', notAfter: '2031-06-01T00:00:00.000Z' }));
      await store.recordIssuance(cert({ issuerId: 'sub-1', notAfter: '2029-06-01T00:00:00.000Z' }));
      equal(await store.issuerLastExpiry('sub-1'), Math.max(before, Date.parse('2031-06-01T00:00:00.000Z')));

      // Activation: one write moves both issuers and the rotation record, only over the revision read.
      equal(await store.getRotation(), undefined);
      const rotation = { hierarchy: 'csms', kind: 'issuer' as const, revision: 1, step: 'prepare' as const, old: { rootId: 'root-1', issuerId: 'sub-1' }, new: { rootId: 'root-1', issuerId: 'sub-2' }, startedAt: 'a', steps: [{ step: 'prepare' as const, at: 'a' }] };
      equal(await store.commitRotation([sub2], rotation, 5), false, 'wrong revision: nothing written');
      equal(await store.getRotation(), undefined);
      equal(await store.commitRotation([sub2], rotation, undefined), true);
      const activated = { ...rotation, revision: 2, step: 'activate' as const };
      const racers = await Promise.all([1, 2, 3].map(() => store.commitRotation([{ ...sub2, state: 'active' }, { ...sub1, state: 'published' }], activated, 1)));
      deepStrictEqual(racers.filter(Boolean).length, 1, 'one of three concurrent steps wins');
      deepStrictEqual(await store.getRotation(), activated);
      equal((await store.getIssuer('sub-2'))!.state, 'active');
      deepStrictEqual(await store.recordIssuance(cert({ issuerId: 'sub-1' })), { ok: false, conflict: 'issuer' }, 'the old issuer signs no leaves');
      deepStrictEqual(await store.recordIssuance(cert({ issuerId: 'sub-2', kind: 'CSMSServerCertificate' })), { ok: true });
      // Back to sub-1 for the tests below.
      await store.putIssuer(sub1);
      await store.putIssuer({ ...sub2, state: 'retired' });
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

    test('putStations: a batch in one write; existing stations kept unless replace', async () => {
      const st = (stationId: string, serialNumber: string) => ({ tenant: 'bulk', stationId, serialNumber, allowed: true, createdAt: 'c', updatedAt: 'u' });
      deepStrictEqual(await store.putStations([], { replace: false }), []);
      await store.putStation(st('b-1', 'OLD-1'));
      const batch = Array.from({ length: 500 }, (_, i) => st(`b-${i}`, `SN-${i}`));
      const first = await store.putStations(batch, { replace: false });
      equal(first.length, 500);
      equal(first[0], 'created');
      equal(first[1], 'kept', 'an existing station is kept');
      equal(first.filter((o) => o === 'created').length, 499);
      equal((await store.getStation('bulk', 'b-1'))!.serialNumber, 'OLD-1');
      deepStrictEqual(await store.getStation('bulk', 'b-499'), st('b-499', 'SN-499'));
      deepStrictEqual(await store.putStations(batch.slice(0, 3), { replace: false }), ['kept', 'kept', 'kept']);
      deepStrictEqual(await store.putStations([st('b-1', 'NEW-1'), st('b-new', 'SN-new')], { replace: true }), ['replaced', 'created']);
      equal((await store.getStation('bulk', 'b-1'))!.serialNumber, 'NEW-1');
      equal((await store.getStation('bulk', 'b-new'))!.serialNumber, 'SN-new');
    });

    test('requeueOcsp makes scheduled certificates (of one issuer, or all) due now, in bounded steps', async () => {
      const now = 1_000_000;
      for (const id of ['requeue-a', 'requeue-b'])
        await store.putIssuer({ id, hierarchy: 'csms', role: 'issuing', parentId: 'root-1', certificate: randomBytes(100), state: 'active', createdAt: 'c' });
      const mine = Array.from({ length: 25 }, () => cert({ issuerId: 'requeue-a', stationId: 'rq' }));
      const other = Array.from({ length: 5 }, () => cert({ issuerId: 'requeue-b', stationId: 'rq' }));
      for (const c of [...mine, ...other]) {
        await store.recordIssuance(c);
        equal(await store.putOcspResponses(c.serial, { status: 'good' }, [response(c, 'sha256')], { nextDue: now + 3_600_000 }), true);
      }
      // One left the schedule (expired): not requeued.
      const gone = mine.pop()!;
      equal(await store.putOcspResponses(gone.serial, { status: 'good' }, [], { nextDue: undefined }), true);
      const dueNow = async (): Promise<Set<string>> => {
        // Claimed with a lease that ends before `now`: what is due stays due for the next look.
        const claimed = await store.claimOcspDue(now, 1_000_000, -1);
        return new Set(claimed.map((d) => d.serial));
      };
      const rq = new Set([...mine, ...other, gone].map((c) => c.serial));
      const ours = async (): Promise<string[]> => [...(await dueNow())].filter((s) => rq.has(s)).sort();
      deepStrictEqual(await ours(), []);

      let requeued = 0;
      let steps = 0;
      let cursor: string | undefined;
      do {
        const step = await store.requeueOcsp(now, { issuerId: 'requeue-a', limit: 7, ...(cursor === undefined ? {} : { cursor }) });
        requeued += step.requeued;
        cursor = step.cursor;
        ok(++steps < 10_000, 'the cursor ends');
      } while (cursor !== undefined);
      ok(requeued >= mine.length, `${requeued} requeued`);
      deepStrictEqual(await ours(), mine.map((c) => c.serial).sort(), 'of issuer requeue-a only');

      cursor = undefined;
      do cursor = (await store.requeueOcsp(now, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) })).cursor;
      while (cursor !== undefined);
      deepStrictEqual(await ours(), [...mine, ...other].map((c) => c.serial).sort(), 'every issuer; the expired one stays out');
      // A due time only moves earlier.
      cursor = undefined;
      do cursor = (await store.requeueOcsp(now + 10_000, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) })).cursor;
      while (cursor !== undefined);
      deepStrictEqual(await ours(), [...mine, ...other].map((c) => c.serial).sort());
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

    test('audit log: consecutive seqs, each entry linked to the one before and hashed; the head follows', async () => {
      const h0 = await store.auditHead();
      if (h0.seq === 0) equal(h0.hash, AUDIT_GENESIS_HASH);
      const at = '2026-01-01T00:00:00.000Z';
      const issued: AuditEvent = { event: 'certificate.issued', actor: 'ca', outcome: 'ok', tenant: 'cpo-a', details: { serial: '0abc', stationId: 'st:1/é', n: 3, flag: true, none: null } };
      const rejected: AuditEvent = { event: 'certificate.rejected', actor: 'ra', outcome: 'refused', tenant: 'cpo-a', rules: ['A00.FR.511', 'A00.FR.509'] };
      const rotation: AuditEvent = { event: 'rotation.root.prepare', actor: 'cli', outcome: 'ok' };
      const entries = await store.appendAudit([issued, rejected, rotation], at);
      deepStrictEqual(entries.map((e) => e.seq), [h0.seq + 1, h0.seq + 2, h0.seq + 3]);
      deepStrictEqual(entries.map((e) => e.prevHash), [h0.hash, entries[0]!.hash, entries[1]!.hash]);
      for (const [i, ev] of [issued, rejected, rotation].entries()) {
        const { seq: _s, at: a, prevHash: _p, hash, ...event } = entries[i]!;
        deepStrictEqual(event, ev);
        equal(a, at);
        const { hash: _h, ...body } = entries[i]!;
        equal(hash, auditEntryHash(body));
        ok(/^[0-9a-f]{64}$/.test(hash));
      }
      deepStrictEqual(await store.listAudit({ afterSeq: h0.seq, limit: 10 }), entries, 'stored as returned');
      deepStrictEqual(await store.auditHead(), { seq: entries[2]!.seq, hash: entries[2]!.hash });
      deepStrictEqual(await store.appendAudit([], at), [], 'nothing to append: nothing written');
      equal((await store.auditHead()).seq, entries[2]!.seq);
      const next = await store.appendAudit([{ ...rotation, event: 'rotation.root.commit' }], '2026-01-01T00:00:01.000Z');
      equal(next[0]!.seq, entries[2]!.seq + 1);
      equal(next[0]!.prevHash, entries[2]!.hash, 'a later append links to the head');
      const v = await verifyAuditChain(store, { pageSize: 2 });
      ok(v.ok, JSON.stringify(v.break));
      equal(v.verified, next[0]!.seq);
    });

    test('audit log: oversized events and anything naming or looking like a secret are refused, writing nothing', async () => {
      const base: AuditEvent = { event: 'auth.failed', actor: 'ra', outcome: 'failed', tenant: 'cpo-a' };
      const manyKeys = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]));
      const cases: [string, AuditEvent, RegExp][] = [
        ['event name over 64 characters', { ...base, event: 'a'.repeat(65) }, /event must be 1\.\.64/],
        ['event name not a dotted word', { ...base, event: 'Auth Failed' }, /event "Auth Failed"/],
        ['no actor', { ...base, actor: '' }, /actor/],
        ['unknown outcome', { ...base, outcome: 'maybe' as AuditEvent['outcome'] }, /outcome/],
        ['33 detail keys', { ...base, details: manyKeys }, /33 keys, at most 32/],
        ['a detail value over 512 characters', { ...base, details: { subject: 'x'.repeat(513) } }, /details\.subject must be at most 512/],
        ['a non-finite number', { ...base, details: { n: Number.NaN } }, /finite/],
        ['detail key token', { ...base, details: { token: 'abc' } }, /names a secret/],
        ['detail key accessToken', { ...base, details: { accessToken: 'abc' } }, /names a secret/],
        ['detail key password', { ...base, details: { password: 'abc' } }, /names a secret/],
        ['detail key passphrase', { ...base, details: { key_passphrase: 'abc' } }, /names a secret/],
        ['detail key privateKey', { ...base, details: { privateKey: 'abc' } }, /names a secret/],
        ['detail key Authorization', { ...base, details: { Authorization: 'abc' } }, /names a secret/],
        ['detail key client-secret', { ...base, details: { 'client-secret': 'abc' } }, /names a secret/],
        ['a PEM private key as a value', { ...base, details: { note: '-----BEGIN PRIVATE KEY-----\nMIIB' } }, /looks like a secret/],
        ['a bearer header as a value', { ...base, details: { header: 'Bearer abc.def' } }, /looks like a secret/],
        ['a JWT as the actor', { ...base, actor: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' }, /actor looks like a secret/],
        ['a rule ID over 64 characters', { ...base, rules: ['R'.repeat(65)] }, /rule ID/],
        ['an empty tenant', { ...base, tenant: '' }, /tenant/],
      ];
      const head = await store.auditHead();
      for (const [name, event, message] of cases) {
        await rejects(store.appendAudit([base, event], 'now'), (e: unknown) => e instanceof AuditEventError && message.test(e.message), name);
        deepStrictEqual(await store.auditHead(), head, `${name}: nothing written`);
      }
      await rejects(store.appendAudit([base], 'x'.repeat(65)), AuditEventError, 'an oversized time');
      // At the limits: accepted.
      const atLimits: AuditEvent = {
        ...base,
        event: 'a'.repeat(64),
        details: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, 'v'.repeat(512)])),
      };
      equal((await store.appendAudit([atLimits], 'now'))[0]!.seq, head.seq + 1);
      await rejects(store.listAudit({ limit: 0 }), RangeError);
      await rejects(store.listAudit({ limit: 1001 }), RangeError);
      await rejects(store.listAudit({ afterSeq: -1, limit: 1 }), RangeError);
    });

    test('audit log: a tenant pages through its own entries only', async () => {
      const [x, y] = [`aud-x-${seq++}`, `aud-y-${seq++}`];
      const h0 = await store.auditHead();
      const events: AuditEvent[] = Array.from({ length: 24 }, (_, i) => ({
        event: 'certificate.issued',
        actor: 'ca',
        outcome: 'ok',
        ...(i % 3 === 2 ? {} : { tenant: i % 3 === 0 ? x : y }),
        details: { i },
      }));
      const all = [...(await store.appendAudit(events.slice(0, 10), 't1')), ...(await store.appendAudit(events.slice(10), 't2'))];
      const pages: number[][] = [];
      let after = 0;
      for (;;) {
        const page = await store.listAudit({ tenant: x, afterSeq: after, limit: 3 });
        if (!page.length) break;
        ok(page.every((e) => e.tenant === x));
        pages.push(page.map((e) => e.seq));
        after = page[page.length - 1]!.seq;
      }
      deepStrictEqual(pages.flat(), all.filter((e) => e.tenant === x).map((e) => e.seq));
      deepStrictEqual(pages.map((p) => p.length), [3, 3, 2]);
      deepStrictEqual(await store.listAudit({ tenant: y, afterSeq: all[20]!.seq, limit: 100 }), all.filter((e) => e.tenant === y && e.seq > all[20]!.seq));
      deepStrictEqual(await store.listAudit({ tenant: 'nobody', limit: 10 }), []);
      deepStrictEqual(await store.listAudit({ afterSeq: h0.seq + 5, limit: 4 }), all.slice(5, 9), 'without a tenant: every entry');
    });

    test('audit log: 200 concurrent appends (from two instances where the backend has them) form one chain, no gaps, no duplicates', async () => {
      const other = opened.another?.() ?? store;
      try {
        const h0 = await store.auditHead();
        const appended = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            (i % 2 ? other : store).appendAudit(
              Array.from({ length: 1 + (i % 3) }, (_, j) => ({ event: 'certificate.issued', actor: i % 2 ? 'ca-2' : 'ca-1', outcome: 'ok' as const, tenant: 'cpo-a', details: { i, j } })),
              new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString(),
            ),
          ),
        );
        appended.forEach((entries, i) => equal(entries.length, 1 + (i % 3)));
        for (const entries of appended) for (let j = 1; j < entries.length; j++) equal(entries[j]!.seq, entries[j - 1]!.seq + 1, 'one append: consecutive seqs');
        const seqs = appended.flat().map((e) => e.seq).sort((a, b) => a - b);
        deepStrictEqual(seqs, Array.from({ length: seqs.length }, (_, i) => h0.seq + 1 + i));
        equal((await store.auditHead()).seq, h0.seq + seqs.length);
        const v = await verifyAuditChain(other);
        ok(v.ok, JSON.stringify(v.break));
        equal(v.verified, h0.seq + seqs.length);
        const stored = new Map<number, unknown>();
        for (let after = h0.seq; ; ) {
          const page = await store.listAudit({ afterSeq: after, limit: 1000 });
          if (!page.length) break;
          for (const e of page) stored.set(e.seq, e);
          after = page[page.length - 1]!.seq;
        }
        for (const e of appended.flat()) deepStrictEqual(stored.get(e.seq), e, 'what each caller got is what is stored');
      } finally {
        if (other !== store) await other.close();
      }
    });

    test('issue 14.7: ping only reads (readiness probes call it every few seconds)', async () => {
      const before = await opened.writes();
      for (let i = 0; i < 5; i++) await store.ping();
      equal(await opened.writes(), before, 'ping wrote');
      await store.putTenant({ id: 'ping-check', cpoName: 'CPO P', disabled: false, createdAt: 'c' });
      ok((await opened.writes()) > before, 'a write is counted');
    });

    test('issue 14.5: audit prune deletes the entries up to a checkpoint (and their tenant index rows) only when its hash matches; the chain verifies on from it', async () => {
      const other = opened.another?.() ?? store;
      try {
        equal((await store.auditCheckpoint()).seq, 0, 'nothing pruned yet');
        const entries = await store.appendAudit(
          Array.from({ length: 30 }, (_, i) => ({ event: 'certificate.issued', actor: 'ca', outcome: 'ok' as const, tenant: i % 2 ? 'prune-a' : 'prune-b', details: { i } })),
          'p',
        );
        const cut = entries[19]!;
        const head = await store.auditHead();
        equal(await store.pruneAudit({ seq: cut.seq, hash: '0'.repeat(64) }), false, 'a hash that is not the entry: refused');
        equal(await store.pruneAudit({ seq: head.seq + 1, hash: head.hash }), false, 'past the head: refused');
        equal((await store.auditCheckpoint()).seq, 0, 'nothing pruned');
        // Two instances pruning to the same checkpoint at once: both done, once.
        deepStrictEqual(await Promise.all([store.pruneAudit({ seq: cut.seq, hash: cut.hash }), other.pruneAudit({ seq: cut.seq, hash: cut.hash })]), [true, true]);
        deepStrictEqual(await store.auditCheckpoint(), { seq: cut.seq, hash: cut.hash });
        deepStrictEqual(await store.listAudit({ limit: 1000 }), entries.slice(20), 'only the entries after the checkpoint are left');
        deepStrictEqual(await store.listAudit({ tenant: 'prune-a', limit: 100 }), entries.slice(20).filter((e) => e.tenant === 'prune-a'), 'the tenant index follows');
        deepStrictEqual(await store.auditHead(), head, 'the head stays');
        equal(await store.pruneAudit({ seq: cut.seq, hash: cut.hash }), true, 'again: nothing to do');
        equal(await store.pruneAudit({ seq: entries[5]!.seq, hash: entries[5]!.hash }), false, 'behind the checkpoint: refused');

        // The retained chain links to the checkpoint; the checkpoint must be named by an audit.pruned entry.
        const unrecorded = await verifyAuditChain(store);
        equal(unrecorded.break?.kind, 'checkpoint', JSON.stringify(unrecorded));
        await store.appendAudit([{ event: 'audit.pruned', actor: 'cli', outcome: 'ok', details: { throughSeq: cut.seq, throughHash: cut.hash } }], 'p');
        const v = await verifyAuditChain(store);
        ok(v.ok, JSON.stringify(v.break));
        equal(v.verified, 11);
        deepStrictEqual(v.checkpoint, { seq: cut.seq, hash: cut.hash });
      } finally {
        if (other !== store) await other.close();
      }
    });

    test('issue 14.5: of two prunes from the same checkpoint at once (two pki audit retain runs) exactly one prunes', async () => {
      const other = opened.another?.() ?? store;
      try {
        const from = await store.auditCheckpoint();
        const entries = await store.appendAudit(
          Array.from({ length: 10 }, (_, i) => ({ event: 'certificate.issued', actor: 'ca', outcome: 'ok' as const, tenant: 'prune-c', details: { i } })),
          'q',
        );
        const cut = { seq: entries[4]!.seq, hash: entries[4]!.hash };
        equal(await store.pruneAudit(cut, { seq: from.seq, hash: '0'.repeat(64) }), false, 'from a checkpoint that is not the store\'s: refused');
        equal((await store.auditCheckpoint()).seq, from.seq, 'nothing pruned');
        const results = await Promise.all([store.pruneAudit(cut, from), other.pruneAudit(cut, from)]);
        deepStrictEqual([...results].sort(), [false, true], 'one prunes, the other finds the checkpoint moved');
        deepStrictEqual(await store.auditCheckpoint(), cut);
        deepStrictEqual((await store.listAudit({ tenant: 'prune-c', limit: 100 })).map((e) => e.seq), entries.slice(5).map((e) => e.seq));
        equal(await store.pruneAudit(cut, from), false, 'again from the old checkpoint: refused');
        equal(await store.pruneAudit(cut), true, 'without from: the checkpoint already');
      } finally {
        if (other !== store) await other.close();
      }
    });

    test('a durable store passes assertDurable', async () => {
      await store.assertDurable();
    });

    test('issue 14.2: stored key hashes of the bytes a CSR used are migrated to the canonical key (schema 2), once, with several processes at once', async () => {
      await withActiveIssuer(store);
      const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      const plain = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      // As the CA recorded them before: the certificate copied the CSR's SPKI, its hash was of those bytes.
      // The last one: the key of the first, in its canonical encoding, certified again (the bug).
      const spkis = [compressedEcSpki(ec), rsaSpkiWithoutNull(rsa), spkiOf(plain), spkiOf(ec)];
      const legacy = spkis.map((spki) => cert({ der: certificateWithSpki(spki), spkiSha256: sha256(spki), stationId: 'legacy' }));
      for (const c of legacy) equal((await store.recordIssuance(c)).ok, true);
      equal((await store.revokeCertificate(legacy[0]!.serial, 'keyCompromise', '2026-02-01T00:00:00.000Z')).ok, true);
      await inStoreProcess(opened.childEnv, FORGET_SCHEMA);

      const canonical = [spkiOf(ec), spkiOf(rsa), spkiOf(plain)].map((spki) => inspectSpki(spki).common.spkiSha256);
      equal(canonical[2], legacy[2]!.spkiSha256, 'a key stored in its canonical encoding keeps its hash');
      // Three processes open the store at once and migrate it.
      const HASHES = JSON.stringify(canonical);
      const outs = await Promise.all(
        [1, 2, 3].map(() =>
          inStoreProcess(
            { ...opened.childEnv, HASHES },
            `const h = JSON.parse(process.env.HASHES);
             const migrated = await s.migrate();
             console.log(JSON.stringify({ migrated, blocked: await s.isKeyBlocked(h[0]), certified: await Promise.all(h.map((x) => s.isKeyCertified(x))) }));`,
          ),
        ),
      );
      const results = outs.map((o) => JSON.parse(o) as { migrated: { rewritten: number; keyCertifiedTwice: string[] }; blocked: boolean; certified: boolean[] });
      for (const r of results) deepStrictEqual({ blocked: r.blocked, certified: r.certified }, { blocked: true, certified: [true, true, true] });
      equal(results.reduce((n, r) => n + r.migrated.rewritten, 0), 2, 'each record rewritten once');
      deepStrictEqual(results.flatMap((r) => r.migrated.keyCertifiedTwice), [legacy[3]!.serial, legacy[0]!.serial], 'the key certified twice is reported, once');

      deepStrictEqual(await store.migrate(), { from: 3, to: 3, rewritten: 0, keyCertifiedTwice: [], rewrittenIssuers: 0, movedRotation: false }, 'idempotent');
      for (const [i, c] of legacy.slice(0, 3).entries()) equal((await store.getCertificate(c.serial))?.spkiSha256, canonical[i]);
      equal((await store.getCertificateByKey(canonical[0]!))?.serial, legacy[3]!.serial, 'the index keeps its holder');
      for (const i of [1, 2]) equal((await store.getCertificateByKey(canonical[i]!))?.serial, legacy[i]!.serial);
      for (const c of legacy.slice(0, 2)) {
        equal(await store.isKeyCertified(c.spkiSha256), false, 'the byte hash is gone');
        equal(await store.isKeyBlocked(c.spkiSha256), false);
      }

      // A process that only looks a key up migrates the store first by itself.
      const later = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
      const old = cert({ der: certificateWithSpki(compressedEcSpki(later)), spkiSha256: sha256(compressedEcSpki(later)), stationId: 'legacy' });
      equal((await store.recordIssuance(old)).ok, true);
      await inStoreProcess(opened.childEnv, FORGET_SCHEMA);
      const H = inspectSpki(spkiOf(later)).common.spkiSha256;
      equal(await inStoreProcess({ ...opened.childEnv, H }, 'console.log(await s.isKeyCertified(process.env.H));'), 'true\n');
      equal(await store.isKeyBlocked(canonical[1]!), false);
    });
  });
}

contract('lmdb', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'evpki-store-'));
  const store = new LmdbStore(join(dir, 'store'));
  return { store, writes: () => storeWrites({ lmdbPath: join(dir, 'store') }), childEnv: { STORE_LMDB: join(dir, 'store') }, close: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) };
});

let redis: TestRedis | undefined;
contract('redis', async () => {
  redis = await startRedis();
  const store = new RedisStore(redisOptions(redis.url));
  return { store, another: () => new RedisStore(redisOptions(redis!.url)), writes: () => storeWrites({ redisUrl: redis!.url }), childEnv: { STORE_REDIS: redis.url }, close: async () => (await store.close(), await redis!.stop()) };
});

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
    const s = await withActiveIssuer(new RedisStore(redisOptions(own.url, { commandTimeoutMs: 500 })));
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
