/**
 * bench-ocsp's run (entry: test/bench/bench-ocsp.ts): the bench PKI and our responder (setup.ts),
 * the requests (requests.ts), our responder next to the HTTP floor (responder.ts), `openssl ocsp`
 * (openssl.ts), then the report. Every process started is in `procs` and stopped at the end,
 * whatever happens.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, stopAll, tempDir } from '../bench-kit.js';
import { ONLY_OCSP } from './config.js';
import { measureOpenssl } from './openssl.js';
import { report } from './report.js';
import { buildRequests } from './requests.js';
import { measureResponderAndFloor } from './responder.js';
import type { OcspResults, OcspRun } from './run.js';
import { setUp } from './setup.js';

export async function main(): Promise<void> {
  const startedAt = new Date();
  const wall0 = performance.now();
  const tmpRoot = tempDir('evpki-bench-ocsp-');
  const dataDir = join(tmpRoot, 'pki');
  const work = join(tmpRoot, 'work');
  mkdirSync(work);
  const results: OcspResults = { scenarios: [], problems: [], profiles: [], presignSeconds: NaN, presignedBytes: NaN };
  const procs: OcspRun['procs'] = [];
  try {
    if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is not installed (apt-get install -y wrk; `make bench-ocsp` does it)');
    // One object: what a step sets on the run (presignSeconds, presignedBytes) is in the results.
    const run: OcspRun = Object.assign(results, { dataDir, work, procs });
    const setup = await setUp(run);
    const requests = buildRequests(work, setup);
    await measureResponderAndFloor(run, setup, requests);
    if (!ONLY_OCSP) await measureOpenssl(run, setup, requests);
  } finally {
    await stopAll(procs, 5000);
    cleanup();
  }
  report(results, startedAt, wall0);
}
