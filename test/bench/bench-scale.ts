/**
 * `make bench-scale`: the OCSP responder on the Redis store at 1,000 and at 1,000,000 certificate
 * records, in the same run (issue 4, "Scale"). Target: p99 latency at one million within 1.2x the
 * p99 at one thousand.
 *
 *   1. A redis-server of its own (AOF on, appendfsync everysec: see REDIS_ARGS), `pki init --dev`
 *      into it, the CA and one OCSP responder as processes on that store.
 *   2. Phase "1k": 1,000 synthetic charge point certificate records are written through the real
 *      write path (RedisStore.recordIssuance: record, indexes and the OCSP pre-signing queue in one
 *      Lua script), then the bench waits until the responder has pre-signed all of them (SHA-256
 *      and SHA-1 CertIDs), and measures.
 *   3. Phase "1M": the other 999,000 records, the same wait (a progress line on stderr for both),
 *      the same measurement. Two more responder instances share the pre-signing of this phase
 *      (BENCH_PRESIGN_HELPERS; the store's claims keep them apart) and are stopped before it is
 *      measured: one responder pre-signs only ~1,000-1,400 certificates/s on this machine.
 *
 * Records: distinct random serials (16 random bytes, top bit cleared, first byte non-zero so that
 * every CertID has the same length), distinct spkiSha256, tenant demo, stations spread over
 * 10,000 ids; the DER is that of one real certificate issued by the CA at the start, reused as a
 * template (the responder never reads a record's DER: it signs from serial and status).
 *
 * Measurement at each size, all requests for certificates drawn uniformly at random from the
 * whole loaded population (POST /ocsp, one SHA-256 CertID, no nonce):
 *   - open loop: BENCH_RATE (2,000) requests/s for BENCH_SECONDS (15) after a 3 s warm-up, over
 *     32 keep-alive connections (a minimal HTTP/1.1 client, RawHttpPool: undici cost 4x the CPU);
 *     latency from each request's scheduled send time to the end of its response, so a stall of
 *     the responder counts for every request it delays (no coordinated omission). The schedule is
 *     kept by a worker thread (scale-clock.ts); how late requests really left is reported as "send
 *     lag". Every response is checked: HTTP 200, OCSP successful, and the requested CertID
 *     followed by status good; one per phase is also verified with `openssl ocsp -respin`
 *     (signature chain, serial, good). At the big size a control run asks about the first 1,000
 *     records only (answered from the responder's memory, as at 1k) under the same conditions,
 *     then the floor: a bare node:http server under the same load, answering from memory and then
 *     with one Redis GET per request (floor.ts). Each measurement runs in rounds (3): the round
 *     with the median p99 stands for it.
 *     Before each measurement, 60,000 requests for random certificates (closed loop) bring the
 *     responder's in-memory cache to its steady state: at the big size full, each miss evicting;
 *   - the Redis round trip alone: the same open loop doing the responder's store read (GET of the
 *     pre-signed responses) from this process, and Redis's own command statistics over the run
 *     (store reads per request: a request answered from the responder's in-memory cache of
 *     pre-signed answers, up to 10,000, reads nothing);
 *   - memory: Redis used_memory before the first record and after pre-signing (record, indexes and
 *     two pre-signed responses per certificate), per record; a MEMORY USAGE breakdown over a
 *     sample (the store's compact encodings, redis-encoding.ts: targets ≤ 2,500 B per certificate);
 *     the responder's RSS after pre-signing and after the measurement (its caches at their steady
 *     state; target: flat, the big size within 1.2x of the small one or within 16 MB);
 *   - saturation (if wrk is installed): wrk -t1 -c32 for 5 s, requests drawn at random from the
 *     whole population inside wrk's Lua script; throughput only.
 *
 * Not a test: it exits non-zero when a response is wrong or a step fails, not on a missed target.
 * Results: stdout and bench-results/scale.json.
 *
 * Env knobs: BENCH_SCALE_RECORDS (default 1,000,000; at least 2,000), BENCH_QUICK=1 (20,000
 * records, shorter runs), BENCH_RATE (requests/s, 2,000), BENCH_SECONDS (measured seconds, 15),
 * BENCH_SCALE_ROUNDS (rounds of each measurement, the median p99's stands, 3), BENCH_PRESIGN_HELPERS (extra pre-signing responders for the big phase, 2), BENCH_PROFILE=DIR
 * (the measured responder runs with --cpu-prof into DIR), BENCH_SERVICE_IMPORT=FILE (it starts
 * with `node --import FILE`).
 *
 * The run is in test/bench/scale/: main.ts, setup.ts, phases.ts (the steps of a phase), loading.ts
 * and population.ts (the records), measure.ts with open-loop.ts and raw-http.ts (the load
 * generator), floor.ts (a bare node:http server under the same load), answers.ts, metrics.ts, memory.ts, wrk.ts, redis.ts, cpu.ts, progress.ts,
 * report.ts, config.ts (these knobs); ../scale-clock.ts (the generator's clock thread).
 */
import { runBench } from './bench-kit.js';
import { main } from './scale/main.js';

runBench('bench-scale', main);
