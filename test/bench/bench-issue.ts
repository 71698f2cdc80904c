/**
 * `make bench-issue`: charge point certificate issuance throughput over HTTP (client → RA → CA →
 * LMDB store; RA and CA as separate processes, as in production) at several concurrencies, next
 * to a naive one-process `@peculiar/x509` baseline measured in the same run, plus where the time
 * goes: CA alone, RA alone (stub CA), HTTP floors (bare node:http, express, express +
 * the RA's request schemas) under the same client, CPU per request per process and per main thread,
 * machine-wide CPU, durable store commits per certificate (LMDB write transactions of RA and CA:
 * under 1 when concurrent issuances share a commit), and in-process micro-benchmarks (policy, TBS
 * build + sign, LMDB write, the CA pipeline on LMDB and on an in-memory store).
 *
 * Not a test: it asserts nothing about speed (docs/architecture.md "Hot paths"), but it exits non-zero when an
 * issuance fails or a sampled chain does not verify. Results: stdout and bench-results/bench-issue.json.
 *
 * Env knobs for experiments (`make bench-issue` needs none): BENCH_SECONDS (measured seconds per
 * RA→CA scenario, default 6), BENCH_CONC (comma list, default 1,8,32,128), BENCH_QUICK=1 (short
 * run), BENCH_PROFILE=DIR (RA and CA run with --cpu-prof into DIR; slows them down),
 * BENCH_SERVICE_IMPORT=FILE (RA and CA start with `node --import FILE`: A/B-test a service change
 * without editing the service), BENCH_ONLY=ra-ca (only the baseline and the RA→CA scenarios).
 *
 * The run is in test/bench/issue/: main.ts (the sections, in order), baseline-x509.ts, micro.ts
 * (with mem-store.ts), ra-ca.ts, http-floors.ts, load-client.ts (the closed-loop client), cpu.ts,
 * scenario.ts, chains.ts, profile.ts, report.ts, config.ts (these knobs).
 */
import { runBench } from './bench-kit.js';
import { main } from './issue/main.js';

runBench('bench-issue', main);
