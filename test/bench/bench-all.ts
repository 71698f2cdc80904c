/**
 * `make bench`: every bench of benches.ts in its quick mode, one after the other, then ONE table of
 * their figures against their targets (metric, value, baseline, ratio, target, PASS/FAIL), from the
 * `BENCH_RESULT {json}` lines each prints (printBenchResults in bench-kit.ts). Each bench's own
 * report goes to bench-results/<name>.log; its progress (stderr) shows here.
 *
 * Exit status: non-zero only when a bench fails: it crashed, exited non-zero (a wrong answer, a
 * failed issuance: correctness, not speed) or reported nothing. A FAIL ratio does not: timings on a
 * shared machine are noisy (other tenants take cores mid-run) and a red build for noise teaches
 * people to ignore red builds; the table says FAIL, and the quiet run is what counts.
 *
 * Env: BENCH_SELECT=bench-ocsp,bench-scale runs only those.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_RESULT_PREFIX, ROOT, f2, grid, type BenchResult } from './bench-kit.js';
import { BENCHES, type BenchEntry } from './benches.js';

interface Collected extends BenchResult {
  readonly bench: string;
  readonly verdict: string;
}

const select = process.env.BENCH_SELECT?.split(',').map((s) => s.trim()).filter(Boolean);
const LOGS = join(ROOT, 'bench-results');

/** Runs one bench; resolves with its exit code and the results it printed. */
function runOne(b: BenchEntry): Promise<{ code: number | null; results: Collected[] }> {
  mkdirSync(LOGS, { recursive: true });
  const logFile = join(LOGS, `${b.name}.log`);
  const logStream = createWriteStream(logFile);
  process.stderr.write(`\n=== ${b.name} (${Object.entries(b.env).map(([k, v]) => `${k}=${v}`).join(' ')}); report: ${logFile}\n`);
  const child = spawn(process.execPath, [join(ROOT, 'test/dist/bench', `${b.name}.js`)], { env: { ...process.env, ...b.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const results: Collected[] = [];
  let rest = '';
  child.stdout.on('data', (d: Buffer) => {
    logStream.write(d);
    const lines = (rest + d.toString('utf8')).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) if (l.startsWith(BENCH_RESULT_PREFIX)) results.push(JSON.parse(l.slice(BENCH_RESULT_PREFIX.length)) as Collected);
  });
  child.stderr.on('data', (d: Buffer) => {
    logStream.write(d);
    process.stderr.write(d);
  });
  return new Promise((resolve) => {
    child.on('close', (code) => {
      logStream.end();
      resolve({ code, results });
    });
    child.on('error', (e) => {
      process.stderr.write(`${b.name}: ${e.message}\n`);
      resolve({ code: -1, results });
    });
  });
}

const num = (n: number | undefined, unit = ''): string => (n === undefined || !Number.isFinite(n) ? '-' : `${n >= 100 ? n.toFixed(0) : f2(n)}${unit}`);

async function main(): Promise<void> {
  const failed: string[] = [];
  const all: Collected[] = [];
  for (const b of BENCHES) {
    if (select && !select.includes(b.name)) continue;
    const t0 = performance.now();
    const { code, results } = await runOne(b);
    all.push(...results);
    if (code !== 0) failed.push(`${b.name} exited ${code} (see bench-results/${b.name}.log)`);
    else if (!results.length) failed.push(`${b.name} reported no BENCH_RESULT`);
    process.stderr.write(`=== ${b.name}: exit ${code}, ${results.length} results, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  const rows = all.map((r) => {
    const ratio = r.baseline ? r.value / r.baseline.value : undefined;
    const op = r.better === 'higher' ? '>=' : '<=';
    return [
      r.bench,
      r.metric,
      `${num(r.value)} ${r.unit}`,
      r.baseline ? `${num(r.baseline.value)} (${r.baseline.name})` : '',
      ratio === undefined ? '' : `${num(ratio)}x`,
      r.target === undefined ? '' : `${op} ${num(r.target)}${r.baseline ? 'x' : ` ${r.unit}`}`,
      r.verdict,
    ];
  });
  const out = ['', 'make bench: quick modes, indicative (a shared machine is noisy: re-run quiet for figures to quote)', ''];
  out.push(grid(['bench', 'metric', 'value', 'baseline', 'ratio', 'target', 'verdict'], rows));
  const counts = ['PASS', 'FAIL', 'n/a'].map((v) => `${all.filter((r) => r.verdict === v).length} ${v}`).join(', ');
  out.push('', counts);
  if (failed.length) out.push('', 'BENCH FAILURES (exit 1):', ...failed.map((f) => `  - ${f}`));
  process.stdout.write(out.join('\n') + '\n');
  if (failed.length) process.exitCode = 1;
}

void main();
