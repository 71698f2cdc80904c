/**
 * Root and issuing CA rotation (`pki rotate-root`, `pki rotate-issuer`) while charge point
 * certificates are signed continuously through the RA: the real CLI in its own process, the RA, CA
 * and OCSP responder on one store (LMDB, then a real redis-server), openssl for path validation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trustAnchors, type AuditEntry, type RotationRecord } from '@evpki/store';
import { parseCertificate, pemBlocks, toPem, type ParsedCertificate } from '@evpki/x509';
import { newP256Csr } from './helpers/csr.js';
import { ocspStatusOf } from './helpers/ocsp-client.js';
import { opensslAsync } from './helpers/openssl.js';
import { api, makeDevPki, registerStation, requestJson, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { PKI_CLI, sleep } from './helpers/processes.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

interface Cli {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly json: any;
}

/** The real `pki` in its own process, on the PKI's data dir and store. */
function pki(p: DevPki, args: string[], extraEnv: Record<string, string> = {}): Promise<Cli> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [PKI_CLI, ...args],
      { env: { PATH: process.env.PATH ?? '', PKI_DATA_DIR: p.dataDir, ...p.storeEnv, ...extraEnv }, timeout: 60_000 },
      (err, stdout, stderr) => {
        let json: unknown;
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr, json });
      },
    );
  });
}

interface Signed {
  readonly phase: string;
  readonly status: number;
  readonly chain?: string;
  readonly problem?: unknown;
}

/** Signs charge point certificates in a loop (4 in flight) until stopped, labelling each with the current phase. */
function signContinuously(stack: Stack, stations: readonly string[]) {
  const results: Signed[] = [];
  let phase = 'before';
  let stopped = false;
  let n = 0;
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const i = n++ % stations.length;
      const started = phase;
      const { csr } = newP256Csr(`CP-ROT-${String(i).padStart(4, '0')}`);
      const r = await api(stack, 'POST', `/v1/stations/${stations[i]}/certificates`, { csr, certificateType: 'ChargingStationCertificate' });
      results.push({ phase: started, status: r.status, ...(r.status === 201 ? { chain: r.body.certificateChain as string } : { problem: r.body }) });
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  return {
    results,
    setPhase(p: string) {
      phase = p;
    },
    async stop(): Promise<void> {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

function rotationScenario(name: string, storeEnv: () => Record<string, string>): void {
  describe(`rotation while signing (${name})`, () => {
    let p: DevPki;
    let stack: Stack;
    let work: string;
    const stations = Array.from({ length: 16 }, (_, i) => `cp-rot-${i}`);
    const caEnv = (): Record<string, string> => ({ PKI_CA_URL: stack.caOpsUrl });
    const f = (n: string): string => join(work, n);

    before(async () => {
      p = await makeDevPki('ecdsa-p256', storeEnv());
      // Rate limits off: this test signs far more than 10 certificates per station.
      stack = await startStack(p, { raEnv: { RA_RATE_STATION_CSRS_PER_DAY: '0', RA_RATE_TENANT_CSRS_PER_MINUTE: '0' } });
      for (const [i, s] of stations.entries()) await registerStation(stack, s, `CP-ROT-${String(i).padStart(4, '0')}`);
      work = mkdtempSync(join(tmpdir(), 'evpki-rotation-'));
    });
    after(async () => {
      await stack.stop();
      p.cleanup();
      rmSync(work, { recursive: true, force: true });
    });

    const anchors = async () => (await api(stack, 'GET', '/v1/trust-anchors')).body.items as { id: string; state: string; certificate: string; crossCertificates: string[]; certificateHashData: unknown }[];
    const caHolds = async (issuerId: string): Promise<boolean> => (await requestJson(`${stack.caOpsUrl}/readyz`, 'GET')).body.issuerKeys?.[issuerId] === true;
    const issuerOf = async (id: string): Promise<ParsedCertificate> => parseCertificate((await stack.store.getIssuer(id))!.certificate);

    /** openssl verify of a leaf with only `trusted` as trust anchor and `untrusted` as intermediates. */
    async function verifies(leafPem: string, trusted: string, untrusted: string[]): Promise<boolean> {
      const id = Math.random().toString(36).slice(2);
      writeFileSync(f(`${id}-leaf.pem`), leafPem);
      writeFileSync(f(`${id}-ca.pem`), trusted);
      writeFileSync(f(`${id}-untrusted.pem`), untrusted.join(''));
      const r = await opensslAsync(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', f(`${id}-ca.pem`), ...(untrusted.length ? ['-untrusted', f(`${id}-untrusted.pem`)] : []), f(`${id}-leaf.pem`)]);
      return r.code === 0;
    }
    const split = (chain: string): { leaf: string; intermediates: string[]; leafCert: ParsedCertificate } => {
      const [leaf, ...rest] = pemBlocks(chain, 'CERTIFICATE');
      return { leaf: toPem('CERTIFICATE', leaf!), intermediates: rest.map((d) => toPem('CERTIFICATE', d)), leafCert: parseCertificate(leaf!) };
    };

    test('root rotation, then issuing CA rotation: zero failed requests, old and new hierarchies verify and are good', async () => {
      const oldRootId = p.manifest.issuers.root;
      const oldSubId = p.manifest.issuers.chargePoint;
      const oldRootPem = toPem('CERTIFICATE', (await stack.store.getIssuer(oldRootId))!.certificate);
      const signing = signContinuously(stack, stations);
      const progress = async (label: string): Promise<void> => {
        // Every phase sees certificates signed in it.
        const count = signing.results.length;
        while (signing.results.length < count + 8) await sleep(20);
        signing.setPhase(label);
      };
      try {
        await progress('before');

        // Out of order: nothing to publish yet.
        const early = await pki(p, ['rotate-root', 'publish', '--json']);
        assert.equal(early.code, 2, early.stderr);
        assert.match(early.stderr, /no root rotation in progress/);

        const dry = await pki(p, ['rotate-root', 'prepare', '--dry-run', '--json']);
        assert.equal(dry.code, 0, dry.stderr);
        assert.equal(dry.json.changed, false);
        assert.equal(await stack.store.getRotation(), undefined, '--dry-run writes nothing');

        const prepared = await pki(p, ['rotate-root', 'prepare', '--json']);
        assert.equal(prepared.code, 0, prepared.stderr);
        const rot = prepared.json.rotation as RotationRecord;
        assert.equal(rot.step, 'prepare');
        assert.deepEqual(rot.old, { rootId: oldRootId, issuerId: oldSubId });
        assert.equal(prepared.json.next, 'pki rotate-root publish');
        assert.doesNotMatch(prepared.stdout + prepared.stderr, /PRIVATE KEY|ENCRYPTED/, 'no key material in the output');
        const again = await pki(p, ['rotate-root', 'prepare', '--json']);
        assert.equal(again.code, 0);
        assert.equal(again.json.changed, false, 'prepare again: already done');
        assert.deepEqual((await anchors()).map((a) => a.id), [oldRootId], 'a prepared root is not a trust anchor yet');
        const other = await pki(p, ['rotate-issuer', 'prepare']);
        assert.equal(other.code, 2, 'no issuer rotation during a root rotation');
        const tooEarly = await pki(p, ['rotate-root', 'activate', '--skip-ca-check']);
        assert.equal(tooEarly.code, 2, 'activate before publish is refused');
        assert.match(tooEarly.stderr, /after publish/);
        await progress('prepared');

        const published = await pki(p, ['rotate-root', 'publish', '--json']);
        assert.equal(published.code, 0, published.stderr);
        const listed = await anchors();
        assert.deepEqual(listed.map((a) => [a.id, a.state]).sort(), [[oldRootId, 'active'], [rot.new.rootId, 'published']].sort());
        for (const a of listed) {
          assert.ok(a.certificateHashData, 'each root has its CertificateHashData');
          assert.equal(a.crossCertificates.length, 1, `${a.id} has one cross-certificate`);
        }
        const newRootPem = listed.find((a) => a.id === rot.new.rootId)!.certificate;
        const crossNewByOld = listed.find((a) => a.id === rot.new.rootId)!.crossCertificates[0]!;
        const crossOldByNew = listed.find((a) => a.id === oldRootId)!.crossCertificates[0]!;
        await stack.ocsp.refreshSigners();
        await progress('published');

        // The CA picks up the new key on its next reload; activate checks it first.
        for (let i = 0; i < 100 && !(await caHolds(rot.new.issuerId)); i++) await sleep(100);
        assert.ok(await caHolds(rot.new.issuerId), 'the CA holds the new issuing key');
        const dryActivate = await pki(p, ['rotate-root', 'activate', '--dry-run', '--json'], caEnv());
        assert.equal(dryActivate.code, 0, dryActivate.stderr);
        assert.equal((await stack.store.getIssuer(rot.new.issuerId))!.state, 'published', '--dry-run changed nothing');
        const activated = await pki(p, ['rotate-root', 'activate', '--json'], caEnv());
        assert.equal(activated.code, 0, activated.stderr);
        signing.setPhase('activated');

        // Signed after activate: new leaf + new issuing CA, verifying against the new root.
        const after = await api(stack, 'POST', `/v1/stations/${stations[0]}/certificates`, { csr: newP256Csr('CP-ROT-0000').csr, certificateType: 'ChargingStationCertificate' });
        assert.equal(after.status, 201);
        const fresh = split(after.body.certificateChain);
        assert.equal(fresh.intermediates.length, 1, 'the chain is the leaf and the new issuing CA');
        assert.deepEqual(parseCertificate(pemBlocks(fresh.intermediates[0]!, 'CERTIFICATE')[0]!).der, (await stack.store.getIssuer(rot.new.issuerId))!.certificate);
        assert.ok(await verifies(fresh.leaf, newRootPem, fresh.intermediates), 'new leaf verifies against the new root');
        assert.ok(!(await verifies(fresh.leaf, oldRootPem, fresh.intermediates)), 'not against the old root alone');
        assert.ok(await verifies(fresh.leaf, oldRootPem, [...fresh.intermediates, crossNewByOld]), 'a station trusting only the old root gets there through the cross-certificate');
        // CSMS server certificates switch with it (a bare CN becomes the one DNS name).
        const server = await api(stack, 'POST', '/v1/server-certificates', { csr: newP256Csr('csms.demo.local').csr, validityHours: 1 });
        assert.equal(server.status, 201, JSON.stringify(server.body));
        const srv = split(server.body.certificateChain);
        assert.deepEqual(srv.leafCert.issuer.der, (await issuerOf(rot.new.issuerId)).subject.der, 'server certificates come from the new issuing CA');
        await progress('activated');

        const retired = await pki(p, ['rotate-root', 'retire', '--json']);
        assert.equal(retired.code, 0, retired.stderr);
        const afterRetire = await anchors();
        assert.deepEqual(afterRetire.map((a) => [a.id, a.state]).sort(), [[oldRootId, 'retiring'], [rot.new.rootId, 'active']].sort(), 'the old root stays while certificates under it are valid');
        const rerun = await pki(p, ['rotate-root', 'retire', '--json']);
        assert.equal(rerun.code, 0);
        assert.equal(rerun.json.changed, false);
        await progress('root retired');

        // Issuing CA rotation under the new root, still signing.
        const ip = await pki(p, ['rotate-issuer', 'prepare', '--json']);
        assert.equal(ip.code, 0, ip.stderr);
        const irot = ip.json.rotation as RotationRecord;
        assert.equal(irot.new.rootId, rot.new.rootId);
        assert.equal((await pki(p, ['rotate-issuer', 'publish'])).code, 0);
        for (let i = 0; i < 100 && !(await caHolds(irot.new.issuerId)); i++) await sleep(100);
        assert.equal((await pki(p, ['rotate-issuer', 'activate'], caEnv())).code, 0);
        signing.setPhase('issuer activated');
        await progress('issuer activated');
        assert.equal((await pki(p, ['rotate-issuer', 'retire'])).code, 0);
        await progress('issuer retired');

        const st = await pki(p, ['status', '--json']);
        assert.equal(st.code, 0, st.stderr);
        const states = Object.fromEntries((st.json.issuers as { id: string; state: string }[]).map((i) => [i.id, i.state]));
        assert.deepEqual(states, { [oldRootId]: 'retiring', [oldSubId]: 'retiring', [rot.new.rootId]: 'active', [rot.new.issuerId]: 'retiring', [irot.new.issuerId]: 'active' });
        assert.equal(st.json.rotation.next, null);
        const text = await pki(p, ['status']);
        assert.match(text.stdout, /Issuing CA rotation/);

        // Every step is in the audit log, with no key material.
        // (Every issuance while signing is in the log too: read all of it.)
        const audit: AuditEntry[] = [];
        for (let page = await stack.store.listAudit({ limit: 1000 }); page.length; page = await stack.store.listAudit({ afterSeq: page.at(-1)!.seq, limit: 1000 })) audit.push(...page);
        const steps = audit.filter((e) => e.event.startsWith('rotation.')).map((e) => e.event);
        assert.deepEqual(steps, ['prepare', 'publish', 'activate', 'retire'].map((s) => `rotation.root.${s}`).concat(['prepare', 'publish', 'activate', 'retire'].map((s) => `rotation.issuer.${s}`)));
        assert.doesNotMatch(JSON.stringify(audit), /PRIVATE KEY|passphrase/i);

        const oldCertsOk = signing.results.filter((r) => r.status === 201 && r.phase === 'before');
        const sample = oldCertsOk[0]!;
        const old = split(sample.chain!);
        await signing.stop();

        // Zero failed requests, and every phase signed.
        const failed = signing.results.filter((r) => r.status !== 201);
        assert.deepEqual(failed, [], 'no request failed during the rotations');
        for (const phase of ['before', 'prepared', 'published', 'activated', 'root retired', 'issuer activated', 'issuer retired'])
          assert.ok(signing.results.some((r) => r.phase === phase), `certificates were signed while ${phase}`);

        // Old hierarchy: still verifies (against the old root, and against the new root via the cross-certificate) and is good.
        assert.ok(await verifies(old.leaf, oldRootPem, old.intermediates), 'an old certificate verifies against the old root');
        assert.ok(await verifies(old.leaf, newRootPem, [...old.intermediates, crossOldByNew]), 'and against the new root through the cross-certificate');
        await stack.ocsp.refreshSigners();
        assert.equal(await ocspStatusOf(stack.ocspUrl, await issuerOf(oldSubId), old.leafCert.serialHex), 'good', 'old certificate is good at the OCSP responder');
        // Each certificate came from the issuing CA active when it was signed; the last ones from the newest.
        const last = split(signing.results.filter((r) => r.phase === 'issuer retired').at(-1)!.chain!);
        const newest = await issuerOf(irot.new.issuerId);
        assert.deepEqual(last.leafCert.issuer.der, newest.subject.der);
        assert.equal(await ocspStatusOf(stack.ocspUrl, newest, last.leafCert.serialHex), 'good');
        assert.ok(await verifies(last.leaf, newRootPem, last.intermediates));
        for (const r of signing.results.filter((x) => x.phase === 'activated' || x.phase === 'root retired')) {
          const issuerDn = split(r.chain!).leafCert.issuer.der;
          assert.ok(!issuerDn.equals((await issuerOf(oldSubId)).subject.der), 'nothing from the old issuing CA after activate');
        }
      } finally {
        await signing.stop();
      }
    });

    test('the old root leaves the trust anchors when its last certificate expires, or at once with --force', async () => {
      const rotation = (await stack.store.getRotation())!;
      const oldRootId = p.manifest.issuers.root;
      const issuers = await stack.store.listIssuers();
      const lastOld = (await stack.store.issuerLastExpiry(p.manifest.issuers.chargePoint))!;
      assert.ok(lastOld > Date.now());
      assert.ok((await trustAnchors(stack.store, lastOld - 1000)).some((r) => r.id === oldRootId), 'listed just before');
      assert.ok(!(await trustAnchors(stack.store, lastOld + 1000)).some((r) => r.id === oldRootId), 'gone just after');
      assert.ok(issuers.length >= 5);
      assert.equal(rotation.kind, 'issuer');

      // A second root rotation, retired with --force: the root it replaces (with valid certificates
      // under it) leaves the trust anchors at once.
      const current = rotation.new.rootId;
      const prepared = await pki(p, ['rotate-root', 'prepare', '--json']);
      assert.equal(prepared.code, 0, prepared.stderr);
      const next = prepared.json.rotation as RotationRecord;
      assert.equal((await pki(p, ['rotate-root', 'publish'])).code, 0);
      for (let i = 0; i < 100 && !(await caHolds(next.new.issuerId)); i++) await sleep(100);
      assert.equal((await pki(p, ['rotate-root', 'activate'], caEnv())).code, 0);
      const dry = await pki(p, ['rotate-root', 'retire', '--force', '--dry-run', '--json']);
      assert.match(dry.json.message, /removed from the trust anchors now \(--force\)/);
      assert.ok((await anchors()).some((a) => a.id === current), 'dry run: still listed');
      const forced = await pki(p, ['rotate-root', 'retire', '--force', '--json']);
      assert.equal(forced.code, 0, forced.stderr);
      assert.equal((await stack.store.getIssuer(current))!.state, 'retired');
      assert.deepEqual((await anchors()).map((a) => a.id).sort(), [oldRootId, next.new.rootId].sort(), 'the forced root is gone; the first (still retiring) stays');
      assert.equal((await stack.store.getRotation())!.steps.at(-1)!.forced, true);
    });
  });
}

rotationScenario('LMDB', () => ({}));

let redis: TestRedis;
describe('on Redis', () => {
  before(async () => {
    redis = await startRedis();
  });
  after(async () => redis.stop());
  rotationScenario('Redis', () => ({ REDIS_URL: redis.url }));
});
