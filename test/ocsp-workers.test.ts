/**
 * Issue 17: the OCSP responder on every core (OCSP_WORKERS, node:cluster, services/ocsp/src/cluster.ts),
 * as real processes on both stores (on LMDB started through the image's entry point): a CA, a responder with two workers sharing the port, certificates
 * recorded in the store. Both workers answer (fresh connections, as OCSP clients make them); a
 * revocation is answered `revoked` by every worker within the store's epoch bound (LMDB: the next
 * request; Redis: pub/sub, under a second); a killed worker is replaced; SIGTERM stops them all with 0;
 * /metrics gathers every worker's series. Pre-signing claims hold across processes (the lease).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildOcspRequest } from '@evpki/ocsp';
import { LmdbStore, RedisStore, openStore, type Store } from '@evpki/store';
import { parseCertificate, type ParsedCertificate } from '@evpki/x509';
import { startCluster } from './helpers/cluster.js';
import { certIdFor, parseOcspResponse } from './helpers/ocsp-client.js';
import { makeDevPki } from './helpers/pki.js';
import { ROOT, freePort, processTree, serviceEnv, sleep, spawnNode, spawnService, stopAll, tempDir, waitReady, type Proc } from './helpers/processes.js';
import { recordCert } from './helpers/record-cert.js';
import { cert, inStoreProcess, redisOptions, withActiveIssuer } from './helpers/store-contract.js';
import { startRedis } from './helpers/redis.js';

/** One request on a connection of its own, closed after the answer (agent: false), as real OCSP clients do. */
function fresh(url: string, method: 'GET' | 'POST', body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers: body ? { 'content-type': 'application/ocsp-request', 'content-length': body.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`no answer from ${url} in 5 s`)));
    req.end(body);
  });
}

interface Responder {
  readonly url: string;
  readonly proc: Proc;
  readonly store: Store;
  readonly issuer: ParsedCertificate;
  readonly issuerId: string;
  /** How long after a committed revocation every worker must answer it (the store's epoch bound). */
  readonly epochBoundMs: number;
  stop(): Promise<void>;
}

async function lmdbResponder(): Promise<Responder> {
  const pki = await makeDevPki();
  const procs: Proc[] = [];
  const [caPort, caOpsPort, port] = [await freePort(), await freePort(), await freePort()];
  const ca = spawnService('ca', 'ca', { PKI_DATA_DIR: pki.dataDir, CA_PORT: String(caPort), CA_OPS_PORT: String(caOpsPort) });
  procs.push(ca);
  await waitReady(ca, `http://127.0.0.1:${caOpsPort}/readyz`, 30_000);
  // Through the image's entry point (`ev-pki ocsp`, scripts/image/entrypoint.mjs), which runs main.js by
  // import: the workers must still run the responder (cluster.ts), not the entry point again.
  const env = { PKI_DATA_DIR: pki.dataDir, OCSP_PORT: String(port), OCSP_CA_URL: `https://127.0.0.1:${caPort}`, OCSP_WORKERS: '2', PKI_LOG_LEVEL: 'warn' };
  const proc = spawnNode('ocsp', [join(ROOT, 'scripts/image/entrypoint.mjs'), 'ocsp'], serviceEnv(env));
  procs.push(proc);
  const url = `http://127.0.0.1:${port}`;
  await waitReady(proc, `${url}/readyz`, 30_000);
  const store = openStore({ dataDir: pki.dataDir });
  const issuerId = pki.manifest.issuers.chargePoint;
  const issuer = parseCertificate((await store.getIssuer(issuerId))!.certificate);
  return {
    url, proc, store, issuer, issuerId, epochBoundMs: 0,
    async stop() {
      await stopAll(procs);
      await store.close();
      pki.cleanup();
    },
  };
}

async function redisResponder(): Promise<Responder> {
  const c = await startCluster({ ras: 0, ocsps: 1, env: { OCSP_WORKERS: '2' } });
  const ocsp = c.ocsps[0]!;
  const issuerId = c.pki.manifest.issuers.chargePoint;
  const issuer = parseCertificate((await c.store.getIssuer(issuerId))!.certificate);
  // pub/sub at once; the poll underneath every 500 ms (redis-store.ts): a second with margin.
  return { url: ocsp.url, proc: ocsp.proc, store: c.store, issuer, issuerId, epochBoundMs: 1000, stop: () => c.stop() };
}

/** pki_ocsp_responses_total by worker and status, from any worker's /metrics (every worker's series). */
async function answersByWorker(url: string): Promise<Record<string, number>> {
  const text = (await fresh(`${url}/metrics`, 'GET')).body.toString();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^pki_ocsp_responses_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const k = `${labels.worker}/${labels.status}`;
    out[k] = (out[k] ?? 0) + Number(m[2]);
  }
  return out;
}

/** Pids of the processes whose environment has `entry` (NAME=value). */
function processesWith(entry: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/environ`, 'latin1').split('\0').includes(entry);
      } catch {
        return false; // gone, or not ours
      }
    })
    .map(Number);
}

/** `n` calls of `fn`, 8 at a time: the workers accept connections themselves (SCHED_NONE), so bursts reach both. */
async function inBursts<T>(n: number, fn: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += 8) out.push(...(await Promise.all(Array.from({ length: Math.min(8, n - i) }, fn))));
  return out;
}

/** The worker pids /readyz names, asked in bursts of fresh connections until `slots` answered (or 10 s). */
async function workerPids(url: string, slots = 2): Promise<Map<number, number>> {
  const bySlot = new Map<number, number>();
  for (const until = Date.now() + 10_000; bySlot.size < slots && Date.now() < until; ) {
    for (const r of await inBursts(8, () => fresh(`${url}/readyz`, 'GET').catch(() => undefined))) {
      if (r?.status !== 200) continue;
      const w = (JSON.parse(r.body.toString()) as { worker?: { slot: number; pid: number } }).worker;
      if (w) bySlot.set(w.slot, w.pid);
    }
  }
  return bySlot;
}

/** Asks for `serial` in bursts until every worker answered `status` at least `times` more times (by /metrics), or 15 s. */
async function untilEveryWorkerAnswers(r: Responder, serial: string, status: string, times = 2): Promise<{ seen: string[]; counts: Record<string, number> }> {
  const start = await answersByWorker(r.url);
  const seen: string[] = [];
  let counts = start;
  for (const until = Date.now() + 15_000; Date.now() < until; ) {
    seen.push(...(await inBursts(8, () => statusOf(r, serial))));
    counts = await answersByWorker(r.url);
    if (['0', '1'].every((w) => (counts[`${w}/${status}`] ?? 0) - (start[`${w}/${status}`] ?? 0) >= times)) break;
  }
  const more = (w: string): number => (counts[`${w}/${status}`] ?? 0) - (start[`${w}/${status}`] ?? 0);
  assert.ok(more('0') >= times && more('1') >= times, `both workers answered ${status} ${times} times: ${JSON.stringify(counts)}`);
  return { seen, counts };
}

async function statusOf(r: Responder, serial: string): Promise<string> {
  const res = await fresh(`${r.url}/ocsp`, 'POST', buildOcspRequest([certIdFor(r.issuer, serial)]));
  assert.equal(res.status, 200);
  const parsed = parseOcspResponse(res.body);
  return parsed.status === 0 ? (parsed.singles![0]?.status ?? 'missing') : `ocsp error ${parsed.status}`;
}

for (const [backend, start] of [['LMDB', lmdbResponder], ['Redis', redisResponder]] as const) {
  describe(`OCSP_WORKERS=2 on ${backend}`, () => {
    let r: Responder;
    let serials: string[];
    before(async () => {
      r = await start();
      serials = [];
      for (let i = 0; i < 20; i++) {
        const c = cert({ issuerId: r.issuerId, tenant: 'demo', stationId: `w-${i}`, subject: `CN=W${i},O=Demo CPO`, notBefore: new Date(Date.now() - 60_000).toISOString(), notAfter: new Date(Date.now() + 86_400_000).toISOString() });
        assert.deepEqual(await recordCert(r.store, c), { ok: true });
        serials.push(c.serial);
      }
      // Pre-signed by the workers (claimed in batches from the shared schedule).
      const until = Date.now() + 30_000;
      for (;;) {
        const missing = (await Promise.all(serials.map((s) => r.store.getOcspResponse(r.issuerId, s, 'sha256')))).filter((x) => !x).length;
        if (!missing) break;
        assert.ok(Date.now() < until, `${missing} certificates not pre-signed after 30 s:\n${r.proc.output()}`);
        await sleep(100);
      }
    });
    after(async () => r?.stop());

    test('two workers answer on one port; a revocation is answered revoked by every worker within the epoch bound', async () => {
      const pids = await workerPids(r.url);
      assert.deepEqual([...pids.keys()].sort(), [0, 1], 'both slots answer /readyz');
      assert.equal(new Set(pids.values()).size, 2);
      for (const pid of pids.values()) assert.ok(processTree(r.proc.child.pid!).includes(pid), `worker ${pid} is a child of the primary`);

      const target = serials[3]!;
      // Asked until both workers answered it twice: each holds the answer in memory (remembered on its second request).
      const good = await untilEveryWorkerAnswers(r, target, 'good');
      assert.deepEqual([...new Set(good.seen)], ['good']);
      // By tenant, from any worker's /metrics (what the RA's GET /v1/summary sums): both workers' good answers are demo's.
      const metrics = (await fresh(`${r.url}/metrics`, 'GET')).body.toString();
      const goodSeries = [...metrics.matchAll(/^pki_ocsp_responses_total\{([^}]*status="good"[^}]*)\} \S+$/gm)].map((m) => m[1]!);
      assert.deepEqual([...new Set(goodSeries.map((l) => /worker="(\d+)"/.exec(l)?.[1]))].sort(), ['0', '1'], goodSeries.join('\n'));
      assert.ok(goodSeries.every((l) => l.includes('tenant="demo"')), goodSeries.join('\n'));

      const revokedAt = Date.now();
      assert.equal((await r.store.revokeCertificate(target, 'keyCompromise', new Date().toISOString(), () => [])).ok, true);
      const late: string[] = [];
      for (let i = 0; i < 4; i++)
        await inBursts(8, async () => {
          const sentAt = Date.now();
          const status = await statusOf(r, target);
          if (status !== 'revoked' && sentAt - revokedAt > r.epochBoundMs) late.push(`${status} ${sentAt - revokedAt} ms after`);
        });
      assert.deepEqual(late, [], 'every answer after the epoch bound is revoked');
      // Past the bound, every worker answers revoked, and none good any more.
      await sleep(r.epochBoundMs);
      const mid = await answersByWorker(r.url);
      const revoked = await untilEveryWorkerAnswers(r, target, 'revoked');
      assert.deepEqual([...new Set(revoked.seen)], ['revoked']);
      for (const w of ['0', '1']) assert.equal(revoked.counts[`${w}/good`], mid[`${w}/good`], `worker ${w} answered no more good`);
      assert.equal(await statusOf(r, serials[4]!), 'good', 'the other certificates are unaffected');
    });

    test('a killed worker is forked again in its slot; the service answers throughout', async () => {
      const pids = await workerPids(r.url);
      const victim = pids.get(1)!;
      process.kill(victim, 'SIGKILL');
      const until = Date.now() + 20_000;
      let answered = 0;
      let replaced: number | undefined;
      while (replaced === undefined) {
        assert.ok(Date.now() < until, `slot 1 not replaced after 20 s:\n${r.proc.output()}`);
        // Connections the kernel had queued for the dead worker may be reset; new ones are answered.
        if ((await statusOf(r, serials[5]!).catch(() => 'reset')) === 'good') answered++;
        const now = await workerPids(r.url);
        if (now.has(1) && now.get(1) !== victim) replaced = now.get(1);
      }
      assert.ok(answered > 0);
      await untilEveryWorkerAnswers(r, serials[5]!, 'good'); // the new worker too
      assert.match(r.proc.output(), /ocsp\.worker\.died/);
      assert.equal(r.proc.child.exitCode, null, 'the primary runs on');
    });

    test('SIGTERM: every worker stops gracefully and the primary exits 0', async () => {
      const workers = processTree(r.proc.child.pid!).filter((p) => p !== r.proc.child.pid);
      assert.equal(workers.length, 2, 'two workers');
      const exited = new Promise<number | null>((res) => r.proc.child.once('exit', (code) => res(code)));
      r.proc.child.kill('SIGTERM');
      assert.equal(await exited, 0, r.proc.output());
      for (const pid of workers) assert.throws(() => process.kill(pid, 0), /ESRCH/, `worker ${pid} gone`);
    });
  });
}

test('pre-signing claims hold across processes: four processes claiming one schedule at once never take a certificate twice (LMDB and Redis)', async () => {
  const redis = await startRedis();
  const lmdbPath = join(tempDir('evpki-claims-'), 'store');
  try {
    for (const [env, open] of [
      [{ STORE_LMDB: lmdbPath }, () => new LmdbStore(lmdbPath)],
      [{ STORE_REDIS: redis.url }, () => new RedisStore(redisOptions(redis.url))],
    ] as const) {
      const store = await withActiveIssuer(open());
      const due: string[] = [];
      try {
        for (let i = 0; i < 300; i++) {
          const c = cert();
          assert.deepEqual(await recordCert(store, c), { ok: true }); // due for pre-signing at once
          due.push(c.serial);
        }
      } finally {
        await store.close();
      }
      // Each claims small batches, from the same moment on, interleaved with the others.
      const startAt = Date.now() + 1500;
      const body = `
        await new Promise((r) => setTimeout(r, Math.max(0, ${startAt} - Date.now())));
        const got = [];
        for (;;) {
          const d = await s.claimOcspDue(Date.now(), 5, 60_000);
          if (!d.length) break;
          got.push(...d.map((x) => x.serial));
          await new Promise((r) => setTimeout(r, 1));
        }
        process.stdout.write(JSON.stringify(got));`;
      const claims = (await Promise.all(Array.from({ length: 4 }, () => inStoreProcess(env, body)))).map((o) => JSON.parse(o) as string[]);
      const all = claims.flat();
      assert.equal(all.length, new Set(all).size, `a certificate claimed twice (${Object.keys(env)[0]})`);
      assert.deepEqual([...all].sort(), [...due].sort(), 'every due certificate claimed once');
    }
  } finally {
    await redis.stop();
  }
});

test('a worker that cannot start (port in use) is a failed start: service.fatal names EADDRINUSE, the primary exits 1, no worker is left', async () => {
  const pki = await makeDevPki();
  const port = await freePort();
  const squatter = createServer().listen(port, '127.0.0.1');
  await new Promise((res) => squatter.once('listening', res));
  try {
    const p = spawnService('ocsp', 'ocsp', { PKI_DATA_DIR: pki.dataDir, OCSP_PORT: String(port), CA_PORT: String(await freePort()), OCSP_WORKERS: '2' });
    const code = await new Promise<number | null>((res) => p.child.once('exit', (c) => res(c)));
    assert.equal(code, 1, p.output());
    assert.match(p.output(), /"service\.fatal".*EADDRINUSE/);
    assert.deepEqual(processesWith(`PKI_DATA_DIR=${pki.dataDir}`), [], 'no worker left (orphans would have left the tree)');
  } finally {
    squatter.close();
    pki.cleanup();
  }
});
