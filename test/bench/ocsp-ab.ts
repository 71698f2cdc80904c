/**
 * Same-run A/B of OCSP responder builds by server CPU per request (not a test, not part of `make
 * bench`). bench-ocsp's setup (a dev PKI, the CA, BENCH_CERTS certificates pre-signed) and its wrk
 * scripts, then the bare node:http floor and each variant side by side, OCSP_WORKERS=BENCH_OCSP_WORKERS
 * (default 2), measured in alternated order for ROUNDS rounds of SECONDS each per kind of request
 * (KINDS: get,post,nonce). CPU is every process of each server (/proc), so a machine shared with
 * other work weighs on every side of a round alike; the spread is printed, not one figure.
 *
 *   node test/dist/bench/ocsp-ab.js 5 5 before=/path/to/copy/of/services/ocsp/dist/main.js after=services/ocsp/dist/main.js
 *   node test/dist/bench/ocsp-ab.js 5 5 'semi4=services/ocsp/dist/main.js|--max-semi-space-size=4' plain=services/ocsp/dist/main.js
 *
 * A variant is name=main.js, optionally |node flags separated by commas (workers inherit them).
 * A copy of a build for "before" must sit inside the repository (e.g. services/ocsp/before/dist,
 * ignored by git) so that it resolves the workspace packages.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FLOOR_SERVER, cleanup, f2, freePort, log, runBench, serviceEnv, spawnNode, spawnService, stopProc, tempDir, waitListening, waitReady, type Proc } from './bench-kit.js';
import { WORKERS } from './ocsp/config.js';
import { buildRequests } from './ocsp/requests.js';
import type { OcspRun } from './ocsp/run.js';
import { setUp } from './ocsp/setup.js';
import { runWrk } from './ocsp/wrk.js';

async function main(): Promise<void> {
  const [rounds = '5', seconds = '5', ...variants] = process.argv.slice(2);
  if (variants.length === 0) throw new Error('usage: ocsp-ab.js ROUNDS SECONDS name=main.js[|--flag,...] ...');
  const tmp = tempDir('evpki-ocsp-ab-');
  const run: OcspRun = { dataDir: join(tmp, 'pki'), work: join(tmp, 'work'), procs: [], profiles: [], scenarios: [], problems: [], presignSeconds: NaN, presignedBytes: NaN };
  mkdirSync(run.work);
  const procs: Proc[] = run.procs;
  try {
    const setup = await setUp(run);
    const { scripts } = buildRequests(run.work, setup);
    await stopProc(setup.ocspProc, 5000);
    // The CA again: each variant obtains its delegated signers at start.
    const [caPort, caOps] = [await freePort(), await freePort()];
    const ca = spawnService('CA', 'ca', { PKI_DATA_DIR: run.dataDir, CA_PORT: String(caPort), CA_OPS_PORT: String(caOps) });
    procs.push(ca);
    await waitReady(ca, `http://127.0.0.1:${caOps}/readyz`, 20_000);
    const floor = spawnNode('floor', [FLOOR_SERVER, 'ocsp-floor'], serviceEnv({ FLOOR_WORKERS: String(WORKERS) }));
    procs.push(floor);
    const servers = [{ name: 'floor', url: `http://127.0.0.1:${await waitListening(floor)}`, pid: floor.child.pid! }];
    for (const v of variants) {
      const name = v.slice(0, v.indexOf('='));
      const [main, flags] = v.slice(v.indexOf('=') + 1).split('|');
      const port = await freePort();
      const p = spawnNode(name, [...(flags ? flags.split(',') : []), main!], serviceEnv({ PKI_DATA_DIR: run.dataDir, OCSP_PORT: String(port), OCSP_CA_URL: `https://127.0.0.1:${caPort}`, OCSP_WORKERS: String(WORKERS), PKI_LOG_LEVEL: 'warn' }));
      procs.push(p);
      await waitReady(p, `http://127.0.0.1:${port}/readyz`, 30_000);
      servers.push({ name, url: `http://127.0.0.1:${port}`, pid: p.child.pid! });
    }
    const kinds = (process.env.KINDS ?? 'get,post').split(',') as (keyof typeof scripts)[];
    for (const s of servers) for (const k of kinds) await runWrk(s.url, scripts[k], 3, s.pid); // warm-up
    const us = new Map<string, number[]>();
    for (let r = 0; r < Number(rounds); r++)
      for (const k of kinds)
        for (const s of r % 2 ? [...servers].reverse() : servers) {
          const w = await runWrk(s.url, scripts[k], Number(seconds), s.pid);
          const perRequest = (w.cpu.serverCores * w.seconds * 1e6) / w.requests;
          us.set(`${k} ${s.name}`, [...(us.get(`${k} ${s.name}`) ?? []), perRequest]);
          log(`round ${r} ${k} ${s.name}: ${f2(perRequest)} µs/request, ${Math.round(w.requests / w.seconds)}/s, other load ${f2(w.cpu.otherLoadCores)} cores, non-2xx ${w.non2xx}`);
        }
    for (const [key, a] of us) {
      const sorted = [...a].sort((x, y) => x - y);
      process.stdout.write(`${key.padEnd(24)} µs/request median ${f2(sorted[sorted.length >> 1]!)}, ${f2(sorted[0]!)}-${f2(sorted.at(-1)!)} (rounds: ${a.map(f2).join(' ')})\n`);
    }
  } finally {
    for (const p of [...procs].reverse()) await stopProc(p, 5000);
    cleanup();
  }
}

runBench('ocsp-ab', main);
