/** bench-issue's settings (env knobs: see test/bench/bench-issue.ts). */
import { join } from 'node:path';
import { QUICK, ROOT } from '../bench-kit.js';

export const RESULTS = join(ROOT, 'bench-results/bench-issue.json');

export const MEASURE_S = Number(process.env.BENCH_SECONDS ?? (QUICK ? 2 : 6));
export const WARMUP_S = QUICK ? 0.5 : 1.5;
/** A freshly started Node service needs a few thousand requests before its per-request cost settles (JIT, heap sizing). */
export const PREWARM_S = QUICK ? 1.5 : 3;
export const CONCURRENCIES = (process.env.BENCH_CONC ?? '1,8,32,128').split(',').map(Number);
export const SIDE_S = QUICK ? 1 : 3; // side scenarios: CA alone, RA alone, HTTP floors
/** Issue 17's targets: cert/s end to end, the ratio to the naive baseline, and p99 at 32 in flight. */
export const TARGET = 1500;
export const BASELINE_RATIO_TARGET = 8;
export const P99_AT_32_TARGET_MS = 100;
export const ONLY_RA_CA = process.env.BENCH_ONLY === 'ra-ca';
