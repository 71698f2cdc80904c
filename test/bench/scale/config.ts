/** bench-scale's settings (env knobs: see test/bench/bench-scale.ts). */
import { join } from 'node:path';
import { QUICK, ROOT } from '../bench-kit.js';

export const RESULTS = join(ROOT, 'bench-results/scale.json');

export const TOTAL = Math.round(Number(process.env.BENCH_SCALE_RECORDS ?? (QUICK ? 20_000 : 1_000_000)));
export const SMALL = 1000;
export const RATE = Number(process.env.BENCH_RATE ?? 2000);
export const MEASURE_S = Number(process.env.BENCH_SECONDS ?? (QUICK ? 8 : 15));
export const WARMUP_S = QUICK ? 2 : 3;
/**
 * Rounds of each measurement (the phases' open loops and the floor's): the round with the median p99
 * stands for it, so that one burst of other load on a shared machine moves one round, not the verdict.
 */
export const ROUNDS = Math.max(1, Math.round(Number(process.env.BENCH_SCALE_ROUNDS ?? 3)));
/** The Redis round-trip probe: shorter, same rate. */
export const PROBE_S = QUICK ? 3 : 5;
export const WRK_S = QUICK ? 3 : 5;
/** The control run at the big size (requests over 1,000 records only). */
export const CONTROL_S = QUICK ? 4 : 8;
export const WRK_CONC = 32;
/** Keep-alive connections of the open-loop generator (a stalled responder queues requests on them). */
export const CONNECTIONS = 32;
/** recordIssuance calls in flight while loading. */
export const LOAD_CONCURRENCY = 256;
export const STATION_SPREAD = 10_000;
export const TARGET_RATIO = 1.2;
/** Issue 17: Redis used_memory per certificate (record, indexes, two pre-signed responses, queue entry). */
export const TARGET_BYTES_PER_RECORD = 2500;
/** Issue 17: the responder's RSS flat from the small to the big size (within 1.2x, or within RSS_MARGIN_MB). */
export const TARGET_RSS_RATIO = 1.2;
/** What "flat" forgives in absolute terms: V8 heap sizing moves RSS by a few MB from run to run. */
export const RSS_MARGIN_MB = 16;
/** The responder's in-memory cache of pre-signed answers (services/ocsp/src/responder.ts MAX_REMEMBERED). */
export const RESPONDER_CACHE = 10_000;
/** Requests before each measurement (random certificates), enough to fill that cache at the big size. */
export const PREFILL = RESPONDER_CACHE + 10_000;
/**
 * Extra responder instances that share the pre-signing of the big phase (BENCH_PRESIGN_HELPERS):
 * one responder pre-signs about 1,000-1,400 certificates/s here, waiting on one Redis round trip
 * after another, which would make pre-signing a million take a quarter of an hour.
 */
export const PRESIGN_HELPERS = Number(process.env.BENCH_PRESIGN_HELPERS ?? 2);
/** Pre-signing that makes no progress for this long fails the bench. */
export const STALL_MS = 120_000;
/** Every serial of the population: 16 bytes, so every request is a fixed prefix and the serial. */
export const SERIAL_BYTES = 16;

/**
 * Durability as in production (AOF on), but fsync once a second rather than per write: the bulk
 * load is a benchmark setup step, and reads (what is measured) never wait for fsync. Automatic AOF
 * rewrites stay on; the bench waits for a rewrite to finish before measuring. Hashes with values up
 * to 2 KB stay listpacks, as k8s/overlays/redis/redis.conf has it (a certificate's c: hash: about
 * 170 bytes less per certificate).
 */
export const REDIS_ARGS = ['--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--hash-max-listpack-value', '2048', '--daemonize', 'no', '--loglevel', 'warning'];
