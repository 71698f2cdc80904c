/**
 * The CA killed (SIGKILL) under signing load, several times, at random moments: among them between
 * a certificate's write and its answer (the retry under the same Idempotency-Key is then answered
 * with `Idempotent-Replayed`). A certificate and its audit entry are one store write, so whatever
 * the moment, every certificate in the store has its `certificate.issued` entry and every such
 * entry its certificate, and `pki audit verify` finds the chain whole. Real processes (RA and CA),
 * on LMDB and on a real redis-server (its ACL users, as in production).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomInt } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { mintToken } from '@evpki/cli';
import { LmdbStore, type AuditEntry, type Store } from '@evpki/store';
import { startCluster } from './helpers/cluster.js';
import { buildCsr } from './helpers/csr.js';
import { makeDevPki, requestJson } from './helpers/pki.js';
import { freePort, runPki, spawnService, stopAll, waitReady, type Proc } from './helpers/processes.js';

const newCsr = (cn: string): string => buildCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { o: 'Demo CPO', cn });

/** What the load needs of a running PKI: its RA, a way to crash and restart the CA, the store, and `pki` with the store's environment. */
interface Running {
  readonly raUrl: string;
  readonly store: Store;
  readonly pkiEnv: Record<string, string>;
  token(): Promise<string>;
  killCa(): Promise<void>;
  restartCa(): Promise<void>;
  stop(): Promise<void>;
}

/** LMDB: CA and RA as processes on one data directory. */
async function lmdbPki(): Promise<Running> {
  const pki = await makeDevPki('ecdsa-p256');
  const procs: Proc[] = [];
  const [caPort, caOpsPort, raPort] = [await freePort(), await freePort(), await freePort()];
  const base = { PKI_DATA_DIR: pki.dataDir };
  let ca: Proc;
  const startCa = async (): Promise<void> => {
    ca = spawnService('ca', 'ca', { ...base, CA_PORT: String(caPort), CA_OPS_PORT: String(caOpsPort) });
    procs.push(ca);
    await waitReady(ca, `http://127.0.0.1:${caOpsPort}/readyz`, 30_000);
  };
  await startCa();
  const ra = spawnService('ra', 'ra', { ...base, RA_PORT: String(raPort), RA_CA_URL: `https://127.0.0.1:${caPort}`, RA_RATE_TENANT_CSRS_PER_MINUTE: '0', RA_CA_TIMEOUT_MS: '3000' });
  procs.push(ra);
  await waitReady(ra, `http://127.0.0.1:${raPort}/readyz`, 30_000);
  const store = new LmdbStore(join(pki.dataDir, 'store'));
  return {
    raUrl: `http://127.0.0.1:${raPort}`,
    store,
    pkiEnv: base,
    token: () => mintToken({ dataDir: pki.dataDir, tenant: 'demo', ttlSeconds: 3600 }),
    async killCa() {
      ca.child.kill('SIGKILL');
      await new Promise<void>((r) => (ca.child.exitCode !== null || ca.child.signalCode !== null ? r() : ca.child.once('exit', () => r())));
    },
    restartCa: startCa,
    async stop() {
      await stopAll(procs);
      await store.close();
      pki.cleanup();
    },
  };
}

/** Redis: the cluster helper (one CA, one RA, each as its own ACL user). */
async function redisPki(): Promise<Running> {
  const c = await startCluster({ ras: 1, ocsps: 0, acl: true, env: { RA_RATE_TENANT_CSRS_PER_MINUTE: '0', RA_CA_TIMEOUT_MS: '3000' } });
  return {
    raUrl: c.ras[0]!.url,
    store: c.store,
    pkiEnv: { PKI_DATA_DIR: c.pki.dataDir, ...c.redis.env, REDIS_USERNAME: 'pki-cli', REDIS_PASSWORD_FILE: join(c.redisPasswordDir!, 'pki-cli') },
    token: () => c.token(),
    killCa: () => c.kill(c.ca),
    restartCa: () => c.restart(c.ca),
    stop: () => c.stop(),
  };
}

async function allAudit(store: Store): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for (;;) {
    const page = await store.listAudit({ afterSeq: out[out.length - 1]?.seq ?? 0, limit: 1000 });
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

for (const [backend, start] of [
  ['lmdb', lmdbPki],
  ['redis', redisPki],
] as const)
  describe(`the CA killed under load, certificates audited in the same write (${backend})`, () => {
    test('several SIGKILLs at random moments: every certificate has its audit entry and every entry its certificate; the chain verifies; retries are safe', async () => {
      const pki = await start();
      try {
        const token = await pki.token();
        const N = 180;
        const ROUNDS = 3;
        const stations = Array.from({ length: N }, (_, i) => `audit-kill-${i}`);
        for (const id of stations)
          assert.equal((await requestJson(`${pki.raUrl}/v1/stations/${id}`, 'PUT', { serialNumber: id.toUpperCase(), allowed: true }, { authorization: `Bearer ${token}` })).status, 201);
        const csrs = stations.map((id) => newCsr(id.toUpperCase()));

        const received = new Map<string, string>();
        /** Stations whose answer was lost in a crash and came with the retry, replayed: the CA died after the write, before the answer. */
        const answerLost = new Set<string>();
        const statuses: number[] = [];
        let next = 0;
        let kills = 0;
        const killer = (async () => {
          for (let round = 0; round < ROUNDS; round++) {
            const target = Math.min(N - 20, received.size + randomInt(15, 40));
            while (received.size < target) await sleep(randomInt(1, 20));
            await pki.killCa();
            kills++;
            await sleep(randomInt(100, 400));
            await pki.restartCa();
          }
        })();
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < N) {
              const i = next++;
              let failedBefore = false;
              for (let attempt = 0; ; attempt++) {
                const r = await requestJson(`${pki.raUrl}/v1/stations/${stations[i]}/certificates`, 'POST', { csr: csrs[i], certificateType: 'ChargingStationCertificate' }, {
                  authorization: `Bearer ${token}`,
                  'idempotency-key': `key-${i}`,
                }).catch(() => ({ status: 0, body: undefined, headers: new Headers() }));
                statuses.push(r.status);
                if (r.status === 201) {
                  received.set(stations[i]!, r.body.serialNumber as string);
                  if (failedBefore && r.headers.get('idempotent-replayed') === 'true') answerLost.add(stations[i]!);
                  break;
                }
                assert.ok([0, 409, 503].includes(r.status), `unexpected ${r.status}: ${JSON.stringify(r.body)}`);
                assert.ok(attempt < 300, `station ${i} never signed`);
                failedBefore = true;
                await sleep(100);
              }
            }
          }),
        );
        await killer;
        assert.equal(kills, ROUNDS);
        assert.ok(statuses.some((s) => s === 503 || s === 0), 'the crashes were felt');
        assert.equal(received.size, N);
        // Diagnostics: how often a crash fell between a write and its answer in this run.
        console.log(`${backend}: ${ROUNDS} kills, ${answerLost.size} answers lost after the write and replayed on retry`);

        // Every certificate in the store (each station's index) was received, exactly once per station.
        const stored = new Map<string, string>();
        for (const station of stations) {
          const certs = await pki.store.listStationCertificates('demo', station);
          assert.deepEqual(certs.map((c) => c.serial), [received.get(station)], `${station} holds exactly the certificate it received`);
          stored.set(certs[0]!.serial, station);
        }
        // ...and has exactly one certificate.issued entry; no such entry without its certificate.
        const entries = await allAudit(pki.store);
        const issuedEntries = entries.filter((e) => e.event === 'certificate.issued');
        const counts = new Map<string, number>();
        for (const e of issuedEntries) counts.set(String(e.details?.serialNumber), (counts.get(String(e.details?.serialNumber)) ?? 0) + 1);
        for (const [serial, station] of stored) assert.equal(counts.get(serial), 1, `${serial} (${station}): one audit entry`);
        for (const serial of counts.keys()) assert.ok(stored.has(serial), `audit entry for ${serial}, which is not in the store`);
        // Every replayed answer was audited as such.
        const replayed = new Set(entries.filter((e) => e.event === 'certificate.replayed').map((e) => String(e.details?.serialNumber)));
        for (const station of answerLost) assert.ok(replayed.has(received.get(station)!), `${station}: the replay is audited`);

        const verify = await runPki(['audit', 'verify'], pki.pkiEnv);
        assert.equal(verify.code, 0, `pki audit verify: ${verify.stdout}${verify.stderr}`);
      } finally {
        await pki.stop();
      }
    });
  });
