/**
 * Issuers in hierarchies (issue 15), on both backends (LMDB, and a real redis-server): a leaf only
 * under the active leaf-signing CA of its kind's hierarchy, a rotation record per hierarchy, issuer
 * record rules, and store schema 3 migrating hand-written schema 2 records (test/store-migration
 * opens whole stores that main wrote).
 */
import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { open } from 'lmdb';
import { pack } from 'msgpackr';
import {
  STORE_SCHEMA_VERSION,
  LmdbStore,
  RedisStore,
  issuingCasInService,
  rootOf,
  trustAnchors,
  upToDate,
  type CertificateKind,
  type CertificateRecord,
  type IssuerRecord,
  type RotationRecord,
  type Store,
} from '@evpki/store';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { recordCert } from './helpers/record-cert.js';

const issuer = (id: string, hierarchy: string, role: IssuerRecord['role'], parentId: string, state: IssuerRecord['state'] = 'active'): IssuerRecord => ({
  id,
  hierarchy,
  role,
  parentId,
  certificate: randomBytes(100),
  state,
  createdAt: '2026-01-01T00:00:00.000Z',
});

const leaf = (issuerId: string, kind: CertificateKind = 'ChargingStationCertificate'): CertificateRecord => ({
  serial: randomBytes(16).toString('hex').replace(/^0+/, ''),
  issuerId,
  der: randomBytes(300),
  kind,
  tenant: 't',
  stationId: 's',
  subject: 'CN=SN1,O=CPO',
  notBefore: '2026-01-01T00:00:00.000Z',
  notAfter: '2030-01-01T00:00:00.000Z',
  issuedAt: new Date().toISOString(),
  spkiSha256: randomBytes(32).toString('hex'),
  sha256Fingerprint: randomBytes(32).toString('hex'),
  status: 'good',
});

const rotation = (hierarchy: string, revision: number, old: string, next: string): RotationRecord => ({
  hierarchy,
  kind: 'issuer',
  revision,
  step: 'prepare',
  old: { rootId: 'root', issuerId: old },
  new: { rootId: 'root', issuerId: next },
  startedAt: '2026-01-01T00:00:00.000Z',
  steps: [{ step: 'prepare', at: '2026-01-01T00:00:00.000Z' }],
});

/** Schema 2 records, as main (before issue 15) wrote them. */
const LEGACY = {
  root: { id: 'root-l', role: 'root', parentId: 'root-l', certificate: randomBytes(50), state: 'active', purpose: 'root', createdAt: 'c' },
  old: { id: 'cp-old', role: 'sub-ca', parentId: 'root-l', certificate: randomBytes(50), state: 'published', purpose: 'charge-point', createdAt: 'c', updatedAt: 'u' },
  current: { id: 'cp-new', role: 'sub-ca', parentId: 'root-l', certificate: randomBytes(50), state: 'active', purpose: 'charge-point', createdAt: 'c', updatedAt: 'u' },
  rotation: { kind: 'issuer', revision: 3, step: 'activate', old: { rootId: 'root-l', issuerId: 'cp-old' }, new: { rootId: 'root-l', issuerId: 'cp-new' }, startedAt: 's', steps: [{ step: 'prepare', at: 'p' }] },
} as const;
const legacyIssuers = [LEGACY.root, LEGACY.old, LEGACY.current];

interface Backend {
  /** A new store instance on a fresh, empty backend (reset()), or on the current one. */
  open(): Store;
  /** Empties the backend (a new LMDB directory, FLUSHALL). */
  reset(): Promise<void>;
  /** Writes the LEGACY records and schema marker 2 directly, as main did (before any instance of this version opens it). */
  writeLegacy(): Promise<void>;
  /** Whether the schema 2 rotation record is gone. */
  legacyRotationGone(): Promise<boolean>;
  /** How many instances may be open at once (LMDB: one environment per path and process). */
  readonly instances: number;
  close(): Promise<void>;
}

function suite(name: string, make: () => Promise<Backend>): void {
  describe(`issuer hierarchies in the store: ${name}`, () => {
    let b: Backend;
    let store: Store;
    before(async () => {
      b = await make();
      store = b.open();
    });
    after(async () => {
      await store.close();
      await b.close();
    });

    test('two hierarchies: a leaf only under the active leaf-signing CA of its kind\'s hierarchy, OCSP signers under any; in service and trust anchors per hierarchy', async () => {
      const records = [
        issuer('root-c', 'csms', 'root', 'root-c'),
        issuer('iss-c', 'csms', 'issuing', 'root-c'),
        issuer('iss-c2', 'csms', 'issuing', 'root-c', 'prepared'),
        issuer('root-v', 'v2g', 'root', 'root-v'),
        issuer('s1-v', 'v2g', 'sub-ca-1', 'root-v'),
        issuer('s2-v', 'v2g', 'sub-ca-2', 's1-v'),
      ];
      for (const r of records) await store.putIssuer(r);
      deepStrictEqual(await recordCert(store, leaf('iss-c')), { ok: true });
      deepStrictEqual(await recordCert(store, leaf('iss-c', 'CSMSServerCertificate')), { ok: true });
      for (const id of ['s2-v', 's1-v', 'root-c', 'iss-c2', 'no-such'])
        deepStrictEqual(await recordCert(store, leaf(id)), { ok: false, conflict: 'issuer' }, `no charge point certificate under ${id}`);
      deepStrictEqual(await recordCert(store, leaf('s2-v', 'OcspSigningCertificate')), { ok: true }, 'an OCSP signer under any CA in service');

      const now = Date.now();
      deepStrictEqual((await issuingCasInService(store, now)).map((i) => i.id), ['iss-c', 'iss-c2', 's2-v'], 'every hierarchy');
      deepStrictEqual((await issuingCasInService(store, now, 'v2g')).map((i) => i.id), ['s2-v']);
      deepStrictEqual((await trustAnchors(store, now)).map((i) => i.id), ['root-c'], 'default: the csms roots');
      deepStrictEqual((await trustAnchors(store, now, 'v2g')).map((i) => i.id), ['root-v']);
      const v2g = await store.listIssuers('v2g');
      deepStrictEqual(v2g.map((i) => i.id), ['root-v', 's1-v', 's2-v']);
      equal(rootOf(v2g, v2g[2]!)?.id, 'root-v', 'through sub-ca-1');
      deepStrictEqual(await store.getIssuer('s2-v'), records[5]);

      // Deactivated (a rotation's activation of another): refused from that write on.
      await store.putIssuer({ ...records[1]!, state: 'published' });
      deepStrictEqual(await recordCert(store, leaf('iss-c')), { ok: false, conflict: 'issuer' });
      await store.putIssuer(records[1]!);
    });

    test('a rotation record per hierarchy: compare-and-set per hierarchy; a step writes only its hierarchy\'s issuers', async () => {
      const c2 = (await store.getIssuer('iss-c2'))!;
      const s2 = (await store.getIssuer('s2-v'))!;
      equal(await store.getRotation(), undefined);
      equal(await store.commitRotation([{ ...c2, state: 'published' }], rotation('csms', 1, 'iss-c', 'iss-c2'), undefined), true);
      equal(await store.commitRotation([{ ...s2, updatedAt: 'x' }], rotation('v2g', 1, 's2-v', 's2-v2'), undefined), true, 'v2g has its own revisions');
      deepStrictEqual(await store.getRotation(), rotation('csms', 1, 'iss-c', 'iss-c2'));
      deepStrictEqual(await store.getRotation('csms'), await store.getRotation());
      deepStrictEqual(await store.getRotation('v2g'), rotation('v2g', 1, 's2-v', 's2-v2'));
      equal(await store.getRotation('lab'), undefined);

      await rejects(store.commitRotation([{ ...s2, state: 'retiring' }], rotation('csms', 2, 'iss-c', 'iss-c2'), 1), /Rotation\.hierarchy: issuer s2-v is of hierarchy v2g/);
      await rejects(store.commitRotation([], rotation('CSMS', 1, 'a', 'b'), undefined), /Hierarchy\.name/);
      equal((await store.getIssuer('s2-v'))!.state, 'active', 'nothing written');
      equal((await store.getRotation())!.revision, 1);
      equal(await store.commitRotation([], rotation('v2g', 2, 's2-v', 's2-v2'), 5), false, 'wrong revision');
      equal(await store.commitRotation([], rotation('v2g', 2, 's2-v', 's2-v2'), 1), true);
      equal((await store.getRotation())!.revision, 1, 'csms untouched');
    });

    test('putIssuer refuses a bad hierarchy name, an unknown role (the schema 2 `sub-ca` too), a root not its own parent; writing nothing', async () => {
      await rejects(store.putIssuer(issuer('bad-1', 'CSMS', 'issuing', 'root-c')), /Hierarchy\.name: "CSMS"/);
      await rejects(store.putIssuer(issuer('bad-2', '', 'issuing', 'root-c')), /Hierarchy\.name/);
      await rejects(store.putIssuer({ ...issuer('bad-3', 'csms', 'issuing', 'root-c'), role: 'sub-ca' as IssuerRecord['role'] }), /Issuer\.role: issuer bad-3 has role "sub-ca"/);
      await rejects(store.putIssuer(issuer('bad-4', 'csms', 'root', 'root-c')), /Issuer\.parent: issuer bad-4 \(root\) must be its own parent/);
      await rejects(store.putIssuer(issuer('bad-5', 'csms', 'issuing', 'bad-5')), /Issuer\.parent/);
      for (const id of ['bad-1', 'bad-2', 'bad-3', 'bad-4', 'bad-5']) equal(await store.getIssuer(id), undefined);
    });

    test('schema 3: schema 2 issuers get hierarchy csms and role issuing (purpose gone), the rotation record becomes csms\'s; once, with several instances at once', async () => {
      await store.close();
      await b.reset();
      await b.writeLegacy();
      const instances = Array.from({ length: b.instances }, () => b.open());
      const results = await Promise.all(instances.map((s) => s.migrate()));
      await Promise.all(instances.slice(1).map((s) => s.close()));
      store = instances[0]!;
      for (const r of results) deepStrictEqual([r.from, r.to], [2, STORE_SCHEMA_VERSION]);
      equal(results.reduce((n, r) => n + r.rewrittenIssuers, 0), 3, 'each issuer rewritten once');
      equal(results.filter((r) => r.movedRotation).length, 1, 'the rotation record moved once');
      deepStrictEqual(await store.migrate(), upToDate(STORE_SCHEMA_VERSION), 'idempotent');

      const { purpose: _p, ...current } = LEGACY.current;
      deepStrictEqual(await store.getIssuer('cp-new'), { ...current, hierarchy: 'csms', role: 'issuing' });
      deepStrictEqual((await store.listIssuers('csms')).map((i) => [i.id, i.role, i.state, 'purpose' in i]), [
        ['cp-new', 'issuing', 'active', false],
        ['cp-old', 'issuing', 'published', false],
        ['root-l', 'root', 'active', false],
      ]);
      deepStrictEqual(await store.getRotation(), { ...LEGACY.rotation, hierarchy: 'csms' });
      ok(await b.legacyRotationGone());
      // The rotation goes on from the migrated revision; leaves only under the migrated active one.
      const old = (await store.getIssuer('cp-old'))!;
      equal(await store.commitRotation([{ ...old, state: 'retiring' }], { ...(await store.getRotation())!, revision: 4, step: 'retire' }, 3), true);
      deepStrictEqual(await recordCert(store, leaf('cp-new')), { ok: true });
      deepStrictEqual(await recordCert(store, leaf('cp-old')), { ok: false, conflict: 'issuer' });
    });

    test('schema 3: an instance that only reads an issuer migrates the store first', async () => {
      await store.close();
      await b.reset();
      await b.writeLegacy();
      store = b.open();
      deepStrictEqual((await store.getIssuer('cp-old'))?.role, 'issuing');
      deepStrictEqual((await store.getRotation())?.hierarchy, 'csms');
    });
  });
}

suite('lmdb', async () => {
  let dir = mkdtempSync(join(tmpdir(), 'evpki-hier-'));
  const path = (): string => join(dir, 'store');
  const raw = () => open({ path: path(), compression: false, maxReaders: 256 });
  return {
    instances: 1,
    open: () => new LmdbStore(path()),
    async reset() {
      rmSync(dir, { recursive: true, force: true });
      dir = mkdtempSync(join(tmpdir(), 'evpki-hier-'));
    },
    async writeLegacy() {
      const db = raw();
      await db.transaction(() => {
        for (const i of legacyIssuers) db.putSync(['issuer', i.id], i);
        db.putSync(['meta', 'rotation'], LEGACY.rotation);
        db.putSync(['meta', 'schema'], 2);
      });
      await db.close();
    },
    async legacyRotationGone() {
      // lmdb shares one environment per path and process: this reads the store's.
      return raw().get(['meta', 'rotation']) === undefined;
    },
    async close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

let redis: TestRedis | undefined;
suite('redis', async () => {
  redis = await startRedis();
  const client = new Redis(redis.url);
  return {
    instances: 3,
    open: () => new RedisStore({ url: redis!.url, commandTimeoutMs: 5000, waitReplicas: 0, waitTimeoutMs: 500 }),
    async reset() {
      await client.flushall();
    },
    async writeLegacy() {
      const m = client.multi();
      for (const i of legacyIssuers) m.hset('evpki:issuers', i.id, pack(i)).hset('evpki:issuer-st', i.id, i.state);
      m.hset('evpki:rotation', 'rev', String(LEGACY.rotation.revision), 'rec', pack(LEGACY.rotation)).set('evpki:schema', '2');
      await m.exec();
    },
    async legacyRotationGone() {
      return (await client.exists('evpki:rotation')) === 0;
    },
    async close() {
      client.disconnect();
      await redis!.stop();
    },
  };
});
