/** bench-ocsp's settings (env knobs: see test/bench/bench-ocsp.ts). */
import { join } from 'node:path';
import { QUICK, ROOT } from '../bench-kit.js';

export const RESULTS = join(ROOT, 'bench-results/ocsp.json');

/** wrk takes whole seconds. */
export const MEASURE_S = Math.max(1, Math.round(Number(process.env.BENCH_SECONDS ?? (QUICK ? 3 : 10))));
export const WARMUP_S = QUICK ? 1 : 3;
/** A freshly started Node server needs some thousands of requests before its cost settles (JIT, heap sizing). */
export const PREWARM_S = QUICK ? 2 : 5;
export const CONC = Number(process.env.BENCH_CONC ?? 64);
export const CERTS = Number(process.env.BENCH_CERTS ?? (QUICK ? 500 : 2000));
export const ONLY_OCSP = process.env.BENCH_ONLY === 'ocsp';
export const NONCE_BYTES = 16;
export const TARGET = { vsFloor: 0.7, vsOpenssl: 4, noncePerSecond: 8000 } as const;
