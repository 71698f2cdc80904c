/**
 * What the benchmarks share: the bench PKI's names, child processes (test/helpers/processes.ts,
 * re-exported), CPU accounting from /proc, CSRs made in worker threads, CPU profiles, and the
 * output (number formats, tables, the JSON results file).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { allocatorEnv, allocatorLabel } from '@evpki/service/allocator';
import { ROOT } from '../helpers/processes.js';

// ---------------------------------------------------------------------------------------------
// Configuration

export const FLOOR_SERVER = join(ROOT, 'test/dist/bench/http-floor-server.js');
const CSR_WORKER = new URL('./csr-worker.js', import.meta.url);

export const QUICK = process.env.BENCH_QUICK === '1';
/** BENCH_PROFILE: services run with --cpu-prof into this directory. */
export const PROFILE_DIR = process.env.BENCH_PROFILE ? resolve(process.env.BENCH_PROFILE) : undefined;
/** The allocator our services run on here (spawnService: jemalloc as in the image when the machine has it; `LD_PRELOAD=` for the C library's). */
export const SERVICE_ALLOCATOR = allocatorLabel({ ...process.env, ...allocatorEnv(process.env) });
/** BENCH_SERVICE_IMPORT: services start with `node --import FILE`. */
export const SERVICE_IMPORT = process.env.BENCH_SERVICE_IMPORT ? resolve(process.env.BENCH_SERVICE_IMPORT) : undefined;

/** The bench PKI: stations bench-0 … bench-(STATIONS-1) of the dev tenant, serial numbers BENCH-<i>. */
export const STATIONS = 50;
export const TENANT = 'demo';
export const CPO = 'Demo CPO';
export const CERT_TYPE = 'ChargingStationCertificate';
/** Benchmarks sign thousands of CSRs for a few stations: the RA's rate limits are off. */
export const NO_RATE_LIMITS = { RA_RATE_STATION_CSRS_PER_DAY: '0', RA_RATE_TENANT_CSRS_PER_MINUTE: '0' } as const;

export const CORES = cpus().length;
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export const log = (s: string): void => void process.stderr.write(`[bench] ${s}\n`);

export * from '../helpers/processes.js';

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc

/** Two clock-tick fields of statFields() added, in seconds. */
export const cpuSeconds = (f: readonly string[], a: number, b: number): number => (Number(f[a]) + Number(f[b])) / CLK_TCK;

/** Machine CPU jiffies: [busy, idle, iowait, softirq]. */
export function machineCpu(): number[] {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line;
  return [user + nice + system + irq + softirq + steal, idle, iowait, softirq];
}

export interface MachineShares {
  readonly busy: number;
  readonly idle: number;
  readonly iowait: number;
  readonly softirq: number;
}

/** Shares of all cores' time between two machineCpu() readings. */
export function machineShares(a: readonly number[], b: readonly number[]): MachineShares {
  const d = b.map((v, i) => v - a[i]!);
  const total = d[0]! + d[1]! + d[2]! || 1;
  return { busy: d[0]! / total, idle: d[1]! / total, iowait: d[2]! / total, softirq: d[3]! / total };
}

// ---------------------------------------------------------------------------------------------
// CSRs for the bench stations, each with its own key, in worker threads (never timed).

export interface CsrItem {
  readonly station: number;
  readonly csr: string;
}

/** `n` CSRs for stations (offset + i) % STATIONS; a worker per `perWorker` CSRs, at most one per core. */
export async function makeCsrs(n: number, { offset = 0, perWorker = 500 }: { offset?: number; perWorker?: number } = {}): Promise<CsrItem[]> {
  const parts = Math.max(1, Math.min(CORES, Math.ceil(n / perWorker)));
  const per = Math.ceil(n / parts);
  const chunks = await Promise.all(
    Array.from({ length: parts }, (_, j) => {
      const count = Math.min(per, n - j * per);
      return new Promise<CsrItem[]>((res, rej) => {
        const w = new Worker(CSR_WORKER, { workerData: { n: count, offset: offset + j * per, stations: STATIONS, organization: CPO } });
        w.once('message', (m: CsrItem[]) => res(m));
        w.once('error', rej);
      });
    }),
  );
  return chunks.flat();
}

// ---------------------------------------------------------------------------------------------
// CPU profiles of services (BENCH_PROFILE=DIR)

export interface Profile {
  readonly name: string;
  readonly file: string;
}

/**
 * node arguments for a service under the experiment knobs: --cpu-prof into a directory of its own
 * under BENCH_PROFILE (added to `profiles`: a service with workers, the OCSP responder's
 * OCSP_WORKERS, writes one profile per process, node naming each by its pid) and --import
 * BENCH_SERVICE_IMPORT; none without them.
 */
export function experimentArgs(name: string, profiles: Profile[]): string[] {
  const dir = PROFILE_DIR ? join(PROFILE_DIR, `${name}-${Date.now()}`) : undefined;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    profiles.push({ name, file: dir });
  }
  return [...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), ...(SERVICE_IMPORT ? ['--import', SERVICE_IMPORT] : [])];
}

/** The profiles a service wrote: one per process (`<name> pid <pid>` when there are several). */
function profileFiles({ name, file }: Profile): Profile[] {
  if (!statSync(file, { throwIfNoEntry: false })?.isDirectory()) return [{ name, file }];
  const files = readdirSync(file).filter((f) => f.endsWith('.cpuprofile')).sort();
  if (files.length === 0) return [{ name, file: join(file, '(none written)') }];
  // node's default name: CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile
  return files.map((f) => ({ name: files.length === 1 ? name : `${name} pid ${f.split('.')[3] ?? f}`, file: join(file, f) }));
}

export interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** The busy (non-idle) time of a profiled thread: self time (µs) per profile node, with its stack, leaf first. */
export interface BusyProfile {
  readonly busyMicros: number;
  readonly nodes: readonly { readonly micros: number; readonly stack: readonly CallFrame[] }[];
}

export function readBusyProfile(file: string): BusyProfile {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const nodes: { micros: number; stack: CallFrame[] }[] = [];
  let busyMicros = 0;
  for (const [id, micros] of self) {
    if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
    busyMicros += micros;
    const stack: CallFrame[] = [];
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) stack.push(byId.get(x)!.callFrame);
    nodes.push({ micros, stack });
  }
  return { busyMicros, nodes };
}

/** Busy time by `classify(stack)`, as shares of all busy time, largest first. */
export function sharesBy(p: BusyProfile, classify: (stack: readonly CallFrame[]) => string): [string, number][] {
  const acc = new Map<string, number>();
  for (const { micros, stack } of p.nodes) {
    const k = classify(stack);
    acc.set(k, (acc.get(k) ?? 0) + micros);
  }
  return [...acc].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / p.busyMicros]);
}

/** V8's pseudo-frames for time outside JS functions, or undefined. */
export function v8PseudoFrame(leaf: CallFrame): string | undefined {
  return leaf.functionName === '(garbage collector)' ? 'GC' : leaf.functionName === '(program)' ? 'native, unattributed' : undefined;
}

/** Each profile analysed; one that cannot be read is added to `problems`. */
export function analyseProfiles<T>(profiles: readonly Profile[], analyse: (file: string) => T, problems: string[]): Record<string, T> {
  const report: Record<string, T> = {};
  for (const { name, file } of profiles.flatMap(profileFiles)) {
    try {
      report[name] = analyse(file);
    } catch (e) {
      problems.push(`profile ${file}: ${(e as Error).message}`);
    }
  }
  return report;
}

/** Report lines for the shares of at least 0.5%. */
export const shareLines = (shares: readonly [string, number][]): string[] => shares.filter(([, v]) => v >= 0.005).map(([k, v]) => `  ${pc(v).padStart(4)}  ${k}`);

/** The `profiles` entry of the results file, when profiling. */
export function profilesJson(profiles: readonly Profile[], report: Record<string, object>): { profiles?: Record<string, object> } {
  return PROFILE_DIR ? { profiles: Object.fromEntries(profiles.flatMap(profileFiles).map((p) => [p.name, { file: p.file, ...report[p.name] }])) } : {};
}

// ---------------------------------------------------------------------------------------------
// Output

export const f0 = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : '-');
export const f1 = (n: number): string => (Number.isFinite(n) ? n.toFixed(1) : '-');
export const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '-');
export const pc = (n: number | undefined): string => (n === undefined || !Number.isFinite(n) ? '' : `${(n * 100).toFixed(0)}%`);

/** A text table: first column left-aligned, the others right-aligned. */
export function grid(head: readonly string[], body: readonly string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}

/** The PROBLEMS section of the report, or nothing. */
export function problemLines(problems: readonly string[]): string[] {
  return problems.length ? ['', 'PROBLEMS:', ...problems.map((p) => `  - ${p}`)] : [];
}

const machineInfo = (): { cores: number; cpu: string | undefined; node: string } => ({ cores: CORES, cpu: cpus()[0]?.model, node: process.version });

/** Writes the results file (pretty JSON, after the bench's name, start time and machine), creating its directory. */
export function writeResults(file: string, bench: string, startedAt: Date, results: object): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ bench, startedAt: startedAt.toISOString(), machine: machineInfo(), ...results }, null, 2) + '\n');
}

// ---------------------------------------------------------------------------------------------
// Machine-readable results for `make bench` (test/bench/bench-all.ts)

/**
 * One measured figure against its target. With a baseline (measured in the same run), the target
 * applies to `value / baseline.value`; without, to `value`. `better`: which way passes.
 */
export interface BenchResult {
  readonly metric: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: { readonly name: string; readonly value: number };
  readonly target?: number;
  readonly better: 'higher' | 'lower';
  /** With a baseline: also PASS when value and baseline differ by at most this (same unit), whatever the ratio. */
  readonly margin?: number;
}

export const BENCH_RESULT_PREFIX = 'BENCH_RESULT ';

/** PASS / FAIL of a result against its target (n/a: not measured; info: no target). */
export function verdictOf(r: BenchResult): 'PASS' | 'FAIL' | 'n/a' | 'info' {
  const measured = r.baseline ? r.value / r.baseline.value : r.value;
  if (!Number.isFinite(measured)) return 'n/a';
  if (r.target === undefined) return 'info';
  if (r.baseline && r.margin !== undefined && Math.abs(r.value - r.baseline.value) <= r.margin) return 'PASS';
  return (r.better === 'higher' ? measured >= r.target : measured <= r.target) ? 'PASS' : 'FAIL';
}

/** Prints each result as a `BENCH_RESULT {json}` line on stdout, which `make bench` collects into its table. */
export function printBenchResults(bench: string, results: readonly BenchResult[]): void {
  for (const r of results) process.stdout.write(`${BENCH_RESULT_PREFIX}${JSON.stringify({ bench, ...r, verdict: verdictOf(r) })}\n`);
}
