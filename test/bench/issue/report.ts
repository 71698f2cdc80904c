/** The report: the tables on stdout and the results file (bench-results/bench-issue.json). */
import { cpus } from 'node:os';
import { CORES, SERVICE_ALLOCATOR, SERVICE_IMPORT, STATIONS, analyseProfiles, f0, f1, f2, grid, pc, printBenchResults, problemLines, profilesJson, shareLines, writeResults } from '../bench-kit.js';
import { BASELINE_RATIO_TARGET, CONCURRENCIES, MEASURE_S, P99_AT_32_TARGET_MS, PREWARM_S, RESULTS, SIDE_S, TARGET, WARMUP_S } from './config.js';
import { signerBenchReport } from '../bench-signers.js';
import { profileBreakdown } from './profile.js';
import type { IssueResults } from './run.js';
import type { ScenarioResult } from './scenario.js';

/** Prints the report and writes the results file; a problem (failed issuance, bad chain, unreadable profile) sets a non-zero exit code. */
export function report({ scenarios, verification, micro, signers, profiles, problems, baselineRate, baselineRuns, csrs }: IssueResults, startedAt: Date, wall0: number): void {
  const { count: csrCount, seconds: csrSeconds } = csrs;
  for (const [k, v] of Object.entries(verification)) if (v.bad.length) problems.push(`${k}: ${v.bad.length}/${v.checked} sampled chains bad: ${v.bad[0]}`);
  for (const s of scenarios) if (s.failed) problems.push(`${s.scenario} conc ${s.conc}: ${s.failed} non-201 (${JSON.stringify(s.failures)}) e.g. ${s.failureSamples?.[0] ?? ''}`);
  const checked = Object.values(verification).reduce((a, v) => a + v.checked, 0);
  const bad = Object.values(verification).reduce((a, v) => a + v.bad.length, 0);
  const raCa = scenarios.filter((s) => s.group === 'ra-ca');
  const best = raCa.reduce<ScenarioResult | undefined>((a, s) => (!a || s.perSecond > a.perSecond ? s : a), undefined);
  const at32 = raCa.find((s) => s.conc === 32);

  const out: string[] = [];
  out.push('');
  out.push(`bench-issue: P-256 charge point certificates, ${CORES} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}`);
  out.push(`RA, CA: separate processes on one LMDB store, on ${SERVICE_ALLOCATOR}; client: undici Pool, closed loop, keep-alive, 1 connection per in-flight request`);
  if (SERVICE_IMPORT) out.push(`EXPERIMENT: RA and CA started with --import ${SERVICE_IMPORT}`);
  out.push('');
  out.push(mainTable(scenarios, baselineRate));
  out.push('');
  if (best)
    out.push(
      `best RA→CA: ${f0(best.perSecond)} cert/s at conc ${best.conc} (p50 ${f2(best.p50Ms)} ms, p99 ${f2(best.p99Ms)} ms) = ${f2(best.perSecond / baselineRate)}x the naive baseline, ${f2(best.perSecond / TARGET)}x the ${TARGET}/s target`,
    );
  out.push(`naive baseline: ${f0(baselineRate)} cert/s, the geometric mean of its runs before the services and after the RA→CA scenarios (${baselineRuns.map(f0).join(' and ')} cert/s)`);
  out.push(`sampled chains verified (node X509Certificate: checkIssued + signature + subject): ${checked - bad}/${checked}`);
  out.push('');
  out.push('CPU per request by process (ms, all threads, from /proc), main (JS) thread busy share, machine-wide busy cores, cores busy with');
  out.push('anything else ("other load": other tenants of this machine; > 0.1 means a noisy run), iowait, and the');
  out.push('mean time inside the CA sign pipeline (pki_ca_sign_duration_seconds; includes waiting for its turn and for the LMDB commit):');
  const noisy = scenarios.filter((s) => s.otherLoadCores > 0.15);
  if (noisy.length) out.push(`WARNING: other load on the machine during ${noisy.length} scenario(s) (up to ${f2(Math.max(...noisy.map((s) => s.otherLoadCores)))} cores): numbers are pessimistic; re-run on a quiet machine.`);
  out.push(cpuTable(scenarios));
  out.push('');
  out.push('In-process breakdown (this process; sync ops single-threaded; async ops: wall µs/op and CPU µs/op of all threads):');
  out.push(
    grid(
      ['operation', 'n', 'µs/op', 'ops/s', 'CPU µs/op'],
      micro.map((m) => [m.op + (m.note ? ` (${m.note})` : ''), String(m.n), f1(m.usPerOp), f0(m.opsPerSec), m.cpuUsPerOp === undefined ? '' : f1(m.cpuUsPerOp)]),
    ),
  );
  if (signers.length) {
    out.push('');
    out.push('Issuer key signatures in this process (issue 15): a key in memory (file) vs the same algorithm in a PKCS#11 token (SoftHSM2, C_SignAsync on the libuv pool):');
    out.push(signerBenchReport(signers));
  }
  const profileReport = analyseProfiles(profiles, profileBreakdown, problems);
  for (const [name, r] of Object.entries(profileReport)) {
    out.push('');
    out.push(`CPU profile of the ${name} process's JS thread over its whole run (--cpu-prof, ${f1(r.busySeconds)} s busy; share of busy time):`);
    out.push(...shareLines(r.shares));
  }
  const notes = scenarios.filter((s) => s.note?.startsWith('count-bounded'));
  for (const s of notes) out.push(`note: ${s.scenario} conc ${s.conc}: ${s.note}`);
  out.push(...problemLines(problems));
  out.push('');
  out.push(`${csrCount} CSRs pre-generated in ${f1(csrSeconds)} s (untimed); total bench wall time ${f0((performance.now() - wall0) / 1000)} s; JSON: ${RESULTS}`);
  process.stdout.write(out.join('\n') + '\n');

  writeResults(RESULTS, 'bench-issue', startedAt, {
    config: { concurrencies: CONCURRENCIES, measureSeconds: MEASURE_S, warmupSeconds: WARMUP_S, prewarmSeconds: PREWARM_S, sideSeconds: SIDE_S, stations: STATIONS, targetPerSecond: TARGET },
    baselinePerSecond: baselineRate,
    baselineRuns,
    best: best ? { perSecond: best.perSecond, conc: best.conc, p50Ms: best.p50Ms, p99Ms: best.p99Ms, vsBaseline: best.perSecond / baselineRate, vsTarget: best.perSecond / TARGET } : undefined,
    scenarios,
    breakdown: micro,
    signers,
    ...profilesJson(profiles, profileReport),
    verification,
    problems,
  });
  // For `make bench` (test/bench/bench-all.ts): the best RA→CA rate against the target and the naive baseline.
  printBenchResults('bench-issue', [
    { metric: 'issuance RA→CA, best conc', value: best?.perSecond ?? NaN, unit: 'cert/s', target: TARGET, better: 'higher' },
    { metric: 'issuance RA→CA, best conc', value: best?.perSecond ?? NaN, unit: 'cert/s', baseline: { name: 'naive @peculiar/x509, before+after', value: baselineRate }, target: BASELINE_RATIO_TARGET, better: 'higher' },
    { metric: 'issuance RA→CA p99 at 32 in flight', value: at32?.p99Ms ?? NaN, unit: 'ms', target: P99_AT_32_TARGET_MS, better: 'lower' },
  ]);
  if (problems.length) process.exitCode = 1;
}

function mainTable(rows: readonly ScenarioResult[], baseline: number): string {
  return grid(
    ['scenario', 'conc', 'certs', 'fail', 'cert/s', 'p50 ms', 'p99 ms', 'vs baseline', `vs ${TARGET}/s`],
    rows.map((r) => [
      r.scenario,
      String(r.conc),
      String(r.certs),
      String(r.failed),
      f0(r.perSecond),
      f2(r.p50Ms),
      f2(r.p99Ms),
      `${f2(r.perSecond / baseline)}x`,
      r.group === 'ra-ca' ? `${f2(r.perSecond / TARGET)}x` : '',
    ]),
  );
}

function cpuTable(rows: readonly ScenarioResult[]): string {
  const procs = ['ra', 'ca', 'server', 'client', 'baseline'].filter((p) => rows.some((r) => r.cpuMsPerReq[p] !== undefined));
  return grid(
    ['scenario', 'conc', ...procs.map((p) => `${p} ms`), 'total ms', 'RA main', 'CA main', 'srv main', 'machine busy', 'other load', 'iowait', 'CA pipeline ms', 'commits/cert'],
    rows.map((r) => [
      r.scenario,
      String(r.conc),
      ...procs.map((p) => (r.cpuMsPerReq[p] === undefined ? '' : f2(r.cpuMsPerReq[p]))),
      f2(r.cpuMsPerReq.total ?? NaN),
      pc(r.mainThreadBusy.ra),
      pc(r.mainThreadBusy.ca),
      pc(r.mainThreadBusy.server),
      `${f2(r.machine.busy * CORES)}/${CORES}`,
      f2(r.otherLoadCores),
      pc(r.machine.iowait),
      r.caSignMeanMs === undefined ? '' : f2(r.caSignMeanMs),
      r.commitsPerCert === undefined ? '' : f2(r.commitsPerCert),
    ]),
  );
}
