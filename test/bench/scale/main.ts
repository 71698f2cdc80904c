/**
 * bench-scale's run (entry: test/bench/bench-scale.ts): the bench's Redis, PKI, CA and responder
 * (setup.ts), the two phases (phases.ts), then the report. Every process started is in `procs`
 * and every Redis connection in `conns`: all closed at the end, whatever happens.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup, stopAll, tempDir } from '../bench-kit.js';
import { SMALL, TOTAL } from './config.js';
import { runPhases } from './phases.js';
import { report } from './report.js';
import type { ScaleResults, ScaleRun } from './run.js';
import { setUp } from './setup.js';

export async function main(): Promise<void> {
  const startedAt = new Date();
  const wall0 = performance.now();
  if (!Number.isInteger(TOTAL) || TOTAL < 2 * SMALL) throw new Error(`BENCH_SCALE_RECORDS must be at least ${2 * SMALL}`);
  const hasWrk = !spawnSync('wrk', ['--version']).error;
  const tmpRoot = tempDir('evpki-bench-scale-');
  const dataDir = join(tmpRoot, 'pki');
  const work = join(tmpRoot, 'work');
  const redisDir = join(tmpRoot, 'redis');
  mkdirSync(work);
  mkdirSync(redisDir);
  const results: ScaleResults = { phases: [], problems: [], profiles: [], presignedBytes: NaN, templateBytes: NaN };
  const procs: ScaleRun['procs'] = [];
  const conns: ScaleRun['conns'] = {};
  try {
    // One object: what a step sets on the run (presignedBytes, templateBytes) is in the results.
    const run: ScaleRun = Object.assign(results, { hasWrk, dataDir, work, redisDir, procs, conns });
    await runPhases(run, await setUp(run));
  } finally {
    conns.probe?.disconnect();
    await conns.store?.close();
    conns.raw?.disconnect();
    await stopAll(procs.reverse(), 5000);
    cleanup();
  }
  report(results, startedAt, wall0);
}
