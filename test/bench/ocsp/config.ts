/** bench-ocsp's settings (env knobs: see test/bench/bench-ocsp.ts). */
import { join } from 'node:path';
import { CORES, QUICK, ROOT } from '../bench-kit.js';

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
/** Workers of our responder (OCSP_WORKERS) and of the bare node:http floor: the same count (BENCH_OCSP_WORKERS, default every core). */
export const WORKERS = Number(process.env.BENCH_OCSP_WORKERS ?? CORES);
/**
 * ab without keep-alive: `ab -c8 -n6000 -p req.der -T application/ocsp-request` (issue 17): 8
 * connections in flight keep 2 workers busy without queueing most of them behind ab's single thread.
 */
export const AB_CONC = 8;
export const AB_REQUESTS = Number(process.env.BENCH_AB_REQUESTS ?? 6000);
/** wrk runs per side with keep-alive, the floor's and our responder's alternated (wrk.ts poolWrk), and each run's seconds. */
export const KA_ROUNDS = Number(process.env.BENCH_KA_ROUNDS ?? (QUICK ? 3 : 5));
export const KA_RUN_S = QUICK ? 2 : 4;
/** ab runs per side, the floor's and our responder's alternated (ab.ts poolAb). */
export const AB_ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? (QUICK ? 3 : 5));
/**
 * Issue 17: keep-alive (wrk) at least 0.9x the bare server and 4x `openssl ocsp` (which closes every
 * connection); without keep-alive (ab) at least 1.5x `openssl ocsp -multi 2` and 0.85x the bare
 * server; nonce requests (signed live) at least 12,000/s with all workers.
 */
export const TARGET = { keepAliveVsFloor: 0.9, vsOpenssl: 4, noKeepAliveVsOpenssl: 1.5, noKeepAliveVsFloor: 0.85, noncePerSecond: 12_000 } as const;
