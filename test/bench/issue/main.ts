/**
 * bench-issue's run (entry: test/bench/bench-issue.ts): the bench PKI, then SECTIONS in order,
 * each adding scenarios or micro-benchmark rows to the results, then the report. Every process a
 * section starts is in `procs` and stopped at the end, whatever happens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QUICK, cleanup, log, makeCsrs, stopAll, type CsrItem } from '../bench-kit.js';
import { runBaseline } from './baseline-x509.js';
import { ONLY_RA_CA } from './config.js';
import { floorsSection } from './http-floors.js';
import { runMicro } from './micro.js';
import { initBenchPki } from './pki.js';
import { raCaSection } from './ra-ca.js';
import { signersSection } from './signers.js';
import { report } from './report.js';
import type { IssueResults, IssueRun } from './run.js';

interface Section {
  readonly name: string;
  /** Left out of this run (BENCH_ONLY=ra-ca keeps only the baseline and the RA→CA scenarios). */
  readonly skip?: boolean;
  run(run: IssueRun): Promise<void>;
}

/** The baseline (before the services start, so that it has the machine to itself): at 1 and at 8 in flight. */
async function baselineSection(run: IssueRun): Promise<void> {
  const { issuer, take, scenarios, problems } = run;
  log('baseline: @peculiar/x509 naive, one process');
  const csrs = await take(QUICK ? 800 : 2000);
  const b = await runBaseline(issuer, csrs, 1, QUICK ? 1.5 : 3);
  if (b.check) problems.push(`baseline chain: ${b.check}`);
  scenarios.push(b.result);
  noteBaseline(run, b.result.perSecond);
  const b8 = await runBaseline(issuer, csrs.slice(b.used), 8, QUICK ? 1 : 2);
  scenarios.push({ ...b8.result, scenario: 'baseline @peculiar/x509, 8 in flight', note: 'WebCrypto calls are async: some of it runs on the libuv pool' });
}

/** The naive baseline at 1 in flight again, once the RA→CA scenarios are over (their services stopped). */
async function baselineAgainSection(run: IssueRun): Promise<void> {
  log('baseline again: @peculiar/x509 naive, one process, after RA→CA');
  const b = await runBaseline(run.issuer, await run.take(QUICK ? 800 : 2000), 1, QUICK ? 1.5 : 3);
  if (b.check) run.problems.push(`baseline chain (again): ${b.check}`);
  run.scenarios.push({ ...b.result, scenario: 'baseline @peculiar/x509, again after RA→CA' });
  noteBaseline(run, b.result.perSecond);
}

function noteBaseline(run: IssueRun, perSecond: number): void {
  run.baselineRuns.push(perSecond);
  run.baselineRate = Math.exp(run.baselineRuns.reduce((a, r) => a + Math.log(r), 0) / run.baselineRuns.length);
}

/** The in-process breakdown, before any service runs: the machine and a small heap are ours. */
async function microSection({ issuer, dataDir, take, micro }: IssueRun): Promise<void> {
  log('in-process breakdown');
  micro.push(...(await runMicro(issuer, dataDir, await take(QUICK ? 1000 : 3000), take)));
}

/** In this order; a new section goes where the machine state suits it (in-process ones before the services). */
const SECTIONS: readonly Section[] = [
  { name: 'baseline @peculiar/x509', run: baselineSection },
  { name: 'in-process breakdown', skip: ONLY_RA_CA, run: microSection },
  { name: 'HSM vs file key signing', skip: ONLY_RA_CA, run: signersSection },
  { name: 'RA and CA', run: raCaSection },
  { name: 'baseline @peculiar/x509, again', run: baselineAgainSection },
  { name: 'HTTP floors', skip: ONLY_RA_CA, run: floorsSection },
];

export async function main(): Promise<void> {
  const startedAt = new Date();
  const wall0 = performance.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'evpki-bench-'));
  const results: IssueResults = { scenarios: [], verification: {}, micro: [], signers: [], profiles: [], problems: [], baselineRate: NaN, baselineRuns: [], csrs: { count: 0, seconds: 0 } };
  const procs: IssueRun['procs'] = [];
  try {
    const pki = await initBenchPki(dataDir);
    // CSRs: generated before the phase that uses them, never while timing
    let offset = 0;
    const take = async (n: number): Promise<CsrItem[]> => {
      const t = performance.now();
      const r = await makeCsrs(n, { offset });
      offset += n;
      results.csrs.count += n;
      results.csrs.seconds += (performance.now() - t) / 1000;
      return r;
    };
    // One object: what a section sets on the run (baselineRate) is in the results.
    const run: IssueRun = Object.assign(results, { dataDir, ...pki, take, procs });
    for (const section of SECTIONS) if (!section.skip) await section.run(run);
  } finally {
    await stopAll(procs);
    cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  }
  report(results, startedAt, wall0);
}
