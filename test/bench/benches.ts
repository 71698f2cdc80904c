/**
 * The benches `make bench` runs (test/bench/bench-all.ts), in this order, each in its quick mode:
 * `test/dist/bench/<name>.js` with `env`. Adding a bench is one line here; it reports its figures
 * with printBenchResults (bench-kit.ts), one `BENCH_RESULT {json}` line each on stdout.
 */
export interface BenchEntry {
  readonly name: string;
  /** The environment of its quick mode. */
  readonly env: Readonly<Record<string, string>>;
}

export const BENCHES: readonly BenchEntry[] = [
  { name: 'bench-issue', env: { BENCH_QUICK: '1' } },
  { name: 'bench-ocsp', env: { BENCH_QUICK: '1' } },
  { name: 'bench-scale', env: { BENCH_QUICK: '1' } },
  { name: 'bench-manufacturer-verify', env: { BENCH_QUICK: '1' } },
];
