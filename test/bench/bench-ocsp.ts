/**
 * `make bench-ocsp`: OCSP responder throughput with `wrk` (keep-alive, closed loop, concurrency
 * 64): pre-signed responses over GET and POST, and requests with a nonce (signed live), next to
 * two references measured in the same run under the same load generator:
 *
 *   - an HTTP floor: a bare node:http server answering every GET and POST with a fixed 471-byte
 *     body (test/bench/http-floor-server.ts, mode ocsp-floor);
 *   - `openssl ocsp` as a responder (`-multi 2`) for the same CA and the same certificates, with a
 *     delegated P-256 signer certified by our CA (the kind our responder uses).
 *
 * Every scenario rotates over requests for BENCH_CERTS different certificates (2,000), so the
 * store is really read. Then POST without keep-alive, a connection per request as real OCSP clients
 * make them (`ab -c8 -n6000`, ab.ts: BENCH_AB_ROUNDS runs per side, the floor's and the responder's
 * alternated and pooled), against the floor and `openssl ocsp`. Our responder and the
 * floor run BENCH_OCSP_WORKERS workers (default: the cores; OCSP_WORKERS, node:cluster). Ratios are
 * printed against the targets of issue 17 (config.ts TARGET), and as BENCH_RESULT lines for `make bench`.
 *
 * Not a test: it asserts nothing about speed (timings never go into unit tests); it exits non-zero only when a
 * response is wrong (a sanity check fails: not successful, not good, does not verify, nonce not
 * echoed) or a scenario has errors. Results: stdout and bench-results/ocsp.json.
 *
 * Env knobs (`make bench-ocsp` needs none): BENCH_SECONDS (measured seconds per scenario, default
 * 10), BENCH_OCSP_WORKERS, BENCH_AB_REQUESTS (6,000 per ab run), BENCH_AB_ROUNDS (ab runs per side: 5, quick 3), BENCH_CONC (connections, default 64), BENCH_QUICK=1 (about a minute), BENCH_CERTS
 * (certificates to rotate over), BENCH_PROFILE=DIR (the responder runs with --cpu-prof into DIR, a
 * profile per process: the primary and each worker, and a breakdown of each is printed; slows it down), BENCH_SERVICE_IMPORT=FILE (the responder starts with
 * `node --import FILE`), BENCH_ONLY=ocsp (only our responder's scenarios: no floor, no openssl).
 *
 * The run is in test/bench/ocsp/: main.ts (the steps, in order), setup.ts, requests.ts,
 * responder.ts (our responder and the floor), openssl.ts, wrk.ts, ab.ts, checks.ts, certificates.ts,
 * cpu.ts, scenario.ts, profile.ts, report.ts, config.ts (these knobs); shared.ts (with bench-scale).
 */
import { runBench } from './bench-kit.js';
import { main } from './ocsp/main.js';

runBench('bench-ocsp', main);
