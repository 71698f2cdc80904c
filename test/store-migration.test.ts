/**
 * Stores that main wrote before issue 15 (test/fixtures/stores: an LMDB data directory and a Redis
 * dump.rdb, store schema 2, an issuing CA rotation left at `activate`) opened by this version:
 * migrated to schema 3 (issuers in the csms hierarchy, roles mapped, the rotation record the csms
 * hierarchy's), then served by the CA, RA and OCSP responder, and the rotation finished by the CLI.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renewServiceCerts } from '@evpki/cli';
import { loadStoreConfig, readManifest } from '@evpki/service';
import { STORE_SCHEMA_VERSION, openStore, upToDate, type Store } from '@evpki/store';
import { parseCertificate } from '@evpki/x509';
import { newP256Csr } from './helpers/csr.js';
import { TEST_DIR } from './helpers/fixtures.js';
import { ocspStatusOf } from './helpers/ocsp-client.js';
import { api, registerStation, startStack } from './helpers/pki.js';
import { runPki } from './helpers/processes.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

const FIXTURES = join(TEST_DIR, 'fixtures', 'stores');

/** What make-stores.mjs recorded about each fixture. */
interface Facts {
  readonly rootId: string;
  readonly oldIssuerId: string;
  readonly newIssuerId: string;
  readonly goodSerial: string;
  readonly revokedSerial: string;
  readonly newIssuerSerial: string;
}

/** Git keeps no file modes: the data directory is made private again, as `pki init` makes it. */
function makePrivate(path: string): void {
  const dir = statSync(path).isDirectory();
  chmodSync(path, dir ? 0o700 : 0o600);
  if (dir) for (const f of readdirSync(path)) makePrivate(join(path, f));
}

function migrationSuite(fixture: string, redisBacked: boolean): void {
  describe(`a store main wrote (${fixture})`, () => {
    const facts = JSON.parse(readFileSync(join(FIXTURES, fixture, 'facts.json'), 'utf8')) as Facts;
    let work: string;
    let dataDir: string;
    let redis: TestRedis | undefined;
    let storeEnv: Record<string, string> = {};
    const open = (): Store => openStore({ ...loadStoreConfig(storeEnv), dataDir });

    before(async () => {
      work = mkdtempSync(join(tmpdir(), 'evpki-migration-'));
      dataDir = join(work, 'data');
      cpSync(join(FIXTURES, fixture, 'data'), dataDir, { recursive: true });
      makePrivate(dataDir);
      // The committed service TLS certificates are valid a year; the issuers and leaves ten.
      renewServiceCerts({ dataDir, env: {} });
      if (redisBacked) {
        redis = await startRedis({ rdb: join(FIXTURES, fixture, 'dump.rdb') });
        storeEnv = redis.env;
      }
    });
    after(async () => {
      await redis?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    test('migrates to schema 3: issuers in the csms hierarchy, sub-ca → issuing, purpose gone, the rotation record csms\'s; certificates and indexes untouched; schema 4: the list indexes; schema 5: revoked by notAfter', async () => {
      const store = open();
      try {
        const migrated = await store.migrate();
        assert.deepEqual({ ...migrated, indexedStations: migrated.indexedStations > 0, indexedCertificates: migrated.indexedCertificates >= 3 }, { from: 2, to: STORE_SCHEMA_VERSION, rewritten: 0, keyCertifiedTwice: [], rewrittenIssuers: 3, movedRotation: true, indexedStations: true, indexedCertificates: true });
        const issuers = await store.listIssuers();
        assert.deepEqual(
          issuers.map((i) => [i.id, i.hierarchy, i.role, i.state]),
          [
            [facts.newIssuerId, 'csms', 'issuing', 'active'],
            [facts.oldIssuerId, 'csms', 'issuing', 'published'],
            [facts.rootId, 'csms', 'root', 'active'],
          ].sort((a, b) => a[0]!.localeCompare(b[0]!)),
        );
        for (const i of issuers) assert.ok(!('purpose' in i), `${i.id}: purpose dropped`);
        assert.deepEqual(await store.listIssuers('csms'), issuers);
        const rotation = (await store.getRotation())!;
        assert.deepEqual(
          { hierarchy: rotation.hierarchy, kind: rotation.kind, step: rotation.step, revision: rotation.revision, old: rotation.old, new: rotation.new },
          { hierarchy: 'csms', kind: 'issuer', step: 'activate', revision: 3, old: { rootId: facts.rootId, issuerId: facts.oldIssuerId }, new: { rootId: facts.rootId, issuerId: facts.newIssuerId } },
        );
        assert.deepEqual(await store.getRotation('csms'), rotation);

        const good = (await store.getCertificate(facts.goodSerial))!;
        assert.deepEqual([good.status, good.issuerId], ['good', facts.oldIssuerId]);
        assert.equal(await store.isKeyCertified(good.spkiSha256), true);
        const revoked = (await store.getCertificate(facts.revokedSerial))!;
        assert.deepEqual([revoked.status, revoked.revocationReason], ['revoked', 'keyCompromise']);
        assert.equal(await store.isKeyBlocked(revoked.spkiSha256), true);
        assert.deepEqual((await store.listRevoked(facts.oldIssuerId)).map((r) => r.serial), [facts.revokedSerial]);
        assert.equal((await store.getCertificate(facts.newIssuerSerial))!.issuerId, facts.newIssuerId);
        // Schema 4: what main stored is in the list indexes (issue 19).
        const now = Date.now();
        const listed = await store.findCertificates(good.tenant, { now }, { limit: 500 });
        for (const serial of [facts.goodSerial, facts.revokedSerial, facts.newIssuerSerial]) assert.ok(listed.items.some((c) => c.serial === serial), `${serial} listed`);
        assert.deepEqual((await store.findCertificates(good.tenant, { status: 'revoked', now }, { limit: 500 })).items.map((c) => c.serial), [facts.revokedSerial]);
        assert.deepEqual((await store.findCertificates(good.tenant, { stationId: good.stationId, now }, { limit: 500 })).items.map((c) => c.stationId), listed.items.filter((c) => c.stationId === good.stationId).map((c) => c.stationId));
        assert.ok((await store.findStations(good.tenant, {}, { limit: 500 })).items.some((s) => s.stationId === good.stationId), "the good certificate's station listed");
        // Schema 5: the revoked certificate is in the revoked-by-notAfter index, so long after every
        // notAfter the summary counts it revoked, not expired (list-index.ts summaryIn).
        const later = Date.parse('2200-01-01T00:00:00Z');
        const total = (await store.findCertificates(good.tenant, { now: later }, { limit: 500 })).items.length;
        assert.deepEqual((await store.tenantSummary(good.tenant, later)).certificates, { total, good: 0, revoked: 1, expired: total - 1 });
        assert.deepEqual(await store.migrate(), upToDate(STORE_SCHEMA_VERSION), 'once');
      } finally {
        await store.close();
      }
    });

    test('CA, RA and OCSP responder serve it: new certificates from the migrated active issuing CA, the old ones answered', async () => {
      const stack = await startStack({ dataDir, storeEnv, manifest: readManifest(dataDir), cleanup() {} });
      try {
        await registerStation(stack, 'cp-after', 'CP-AFTER');
        const cp = await api(stack, 'POST', '/v1/stations/cp-after/certificates', { csr: newP256Csr('CP-AFTER').csr, certificateType: 'ChargingStationCertificate' });
        assert.equal(cp.status, 201, cp.text);
        assert.equal((await stack.store.getCertificate(cp.body.serialNumber))!.issuerId, facts.newIssuerId);
        const server = await api(stack, 'POST', '/v1/server-certificates', { csr: newP256Csr('csms.demo.local').csr, validityHours: 1 });
        assert.equal(server.status, 201, server.text);
        assert.deepEqual((await api(stack, 'GET', '/v1/trust-anchors')).body.items.map((a: { id: string }) => a.id), [facts.rootId]);

        await stack.ocsp.refreshSigners();
        const cert = async (id: string) => parseCertificate((await stack.store.getIssuer(id))!.certificate);
        assert.equal(await ocspStatusOf(stack.ocspUrl, await cert(facts.oldIssuerId), facts.goodSerial), 'good');
        assert.equal(await ocspStatusOf(stack.ocspUrl, await cert(facts.oldIssuerId), facts.revokedSerial), 'revoked');
        assert.equal(await ocspStatusOf(stack.ocspUrl, await cert(facts.newIssuerId), facts.newIssuerSerial), 'good');
        assert.equal(await ocspStatusOf(stack.ocspUrl, await cert(facts.newIssuerId), cp.body.serialNumber as string), 'good');
      } finally {
        await stack.stop();
      }
    });

    test('the migrated rotation goes on: pki rotate-issuer retire (hierarchy csms by default), pki status', async () => {
      const retired = await runPki(['rotate-issuer', 'retire', '--data-dir', dataDir, '--json'], storeEnv);
      assert.equal(retired.code, 0, retired.stderr);
      const step = JSON.parse(retired.stdout);
      assert.deepEqual([step.rotation.hierarchy, step.rotation.step, step.rotation.revision, step.next ?? null], ['csms', 'retire', 4, null]);
      const status = await runPki(['status', '--data-dir', dataDir, '--json'], storeEnv);
      assert.equal(status.code, 0, status.stderr);
      const s = JSON.parse(status.stdout);
      assert.equal(s.hierarchy, 'csms');
      assert.deepEqual(Object.fromEntries(s.issuers.map((i: { id: string; state: string }) => [i.id, i.state])), {
        [facts.rootId]: 'active',
        [facts.oldIssuerId]: 'retiring',
        [facts.newIssuerId]: 'active',
      });
    });
  });
}

migrationSuite('lmdb-main', false);
migrationSuite('redis-main', true);
