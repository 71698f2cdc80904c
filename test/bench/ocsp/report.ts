/** The report: the table, the targets (ratios of rates measured in the run), the sanity checks on stdout; the results file (bench-results/ocsp.json). */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { CORES, PROFILE_DIR, QUICK, SERVICE_ALLOCATOR, SERVICE_IMPORT, analyseProfiles, f0, f2, grid, pc, printBenchResults, problemLines, verdictOf, profilesJson, shareLines, writeResults, type BenchResult } from '../bench-kit.js';
import { AB_CONC, AB_REQUESTS, AB_ROUNDS, CERTS, CONC, MEASURE_S, PREWARM_S, RESULTS, TARGET, WARMUP_S, WORKERS } from './config.js';
import { profileBreakdown } from './profile.js';
import type { OcspResults } from './run.js';
import type { Scenario, ScenarioId } from './scenario.js';

/** Prints the report and writes the results file; a problem (errors, a failed sanity check, an unreadable profile) sets a non-zero exit code. */
export function report({ scenarios, problems, profiles, presignSeconds, presignedBytes }: OcspResults, startedAt: Date, wall0: number): void {
  for (const s of scenarios) if (s.errors) problems.push(`${s.label}: ${s.errors} errors (${JSON.stringify({ ...(s.wrk ? { ...s.wrk.socketErrors, non2xx: s.wrk.non2xx } : { failed: s.ab?.failed, non2xx: s.ab?.non2xx }), ...(s.outcomes ? { outcomes: s.outcomes } : {}) })})`);
  const by = (id: ScenarioId): Scenario | undefined => scenarios.find((s) => s.id === id);
  const rate = (id: ScenarioId): number => by(id)?.perSecond ?? NaN;
  const vs = (metric: string, id: ScenarioId, base: ScenarioId, baseName: string, target?: number): BenchResult => ({
    metric,
    value: rate(id),
    unit: 'req/s',
    baseline: { name: baseName, value: rate(base) },
    ...(target === undefined ? {} : { target }),
    better: 'higher',
  });
  const results: BenchResult[] = [
    vs('OCSP keep-alive GET (wrk)', 'presigned-get', 'floor-get', 'bare node:http', TARGET.keepAliveVsFloor),
    vs('OCSP keep-alive POST (wrk)', 'presigned-post', 'floor-post', 'bare node:http', TARGET.keepAliveVsFloor),
    vs('OCSP keep-alive GET (wrk)', 'presigned-get', 'openssl-post', 'openssl ocsp -multi 2', TARGET.vsOpenssl),
    vs('OCSP no keep-alive POST (ab)', 'presigned-post-close', 'openssl-post-close', 'openssl ocsp -multi 2', TARGET.noKeepAliveVsOpenssl),
    vs('OCSP no keep-alive POST (ab)', 'presigned-post-close', 'floor-post-close', 'bare node:http', TARGET.noKeepAliveVsFloor),
    // Info, no target: how far the runtime itself goes without keep-alive (node:net, canned bytes, no HTTP).
    vs('OCSP no keep-alive, raw TCP floor (ab)', 'raw-floor-post-close', 'openssl-post-close', 'openssl ocsp -multi 2'),
    { metric: 'OCSP nonce POST, signed live (wrk)', value: rate('nonce-post'), unit: 'req/s', target: TARGET.noncePerSecond, better: 'higher' },
  ];
  const checks = results.map((r) => ({ name: r.baseline ? `${r.metric} / ${r.baseline.name}` : `${r.metric}, req/s`, value: r.baseline ? r.value / r.baseline.value : r.value, target: r.target, unit: r.baseline ? 'x' : '/s', verdict: verdictOf(r) }));

  const out: string[] = [];
  out.push('');
  out.push(`bench-ocsp: ${CORES} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]?.split(' [')[0] ?? 'wrk'}, ${spawnSync('openssl', ['version'], { encoding: 'utf8' }).stdout.trim().split(' (')[0] ?? ''}; our responder on ${SERVICE_ALLOCATOR}`);
  out.push(`load: wrk -t1 -c${CONC}, ${MEASURE_S} s per scenario after a ${WARMUP_S} s warm-up, keep-alive; requests rotate over ${CERTS} certificates (SHA-256 CertIDs, one per request)`);
  out.push(`no keep-alive: ab -c${AB_CONC} -n${AB_REQUESTS} -p req.der -T application/ocsp-request (a connection per request; one certificate), ${AB_ROUNDS} runs per side, the floor's and ours alternated, pooled; our responder and the floor with ${WORKERS} workers (OCSP_WORKERS, node:cluster)`);
  out.push(`pre-signed response: ${f0(presignedBytes)} B DER (includes the delegated signer certificate); ${CERTS} certificates pre-signed (x2 CertID hashes) within ${f2(presignSeconds)} s of responder start`);
  if (SERVICE_IMPORT) out.push(`EXPERIMENT: responder started with --import ${SERVICE_IMPORT}`);
  if (PROFILE_DIR) out.push('NOTE: the responder ran with --cpu-prof (slower than normal)');
  out.push('');
  out.push(
    grid(
      ['scenario', 'conc', 'requests', 'errors', 'req/s', 'p50 ms', 'p99 ms', 'B/resp', 'srv CPU µs/req', 'srv cores', 'srv main', 'client cores', 'other load'],
      scenarios.map((s) => [
        s.label,
        String(s.conc),
        String(s.requests),
        String(s.errors),
        f0(s.perSecond),
        f2(s.p50Ms),
        f2(s.p99Ms),
        f0(s.bytesPerResponse),
        f0(s.serverCpuUsPerReq),
        f2(s.cpu.serverCores),
        pc(s.cpu.serverMainBusy),
        f2(s.cpu.wrkCores),
        f2(s.cpu.otherLoadCores),
      ]),
    ),
  );
  out.push('(B/resp: response bytes incl. HTTP headers; srv CPU: all threads and processes of the server; srv main: the server main thread busy share');
  out.push(' (node: the JS thread; with workers, the primary); client cores: the load generator (wrk or ab); other load: busy cores not explained by server, wrk and softirq, > 0.15 = noisy run)');
  const noisy = scenarios.filter((s) => s.cpu.otherLoadCores > 0.15);
  if (noisy.length) out.push(`WARNING: other load on the machine during ${noisy.map((s) => s.id).join(', ')} (up to ${f2(Math.max(...noisy.map((s) => s.cpu.otherLoadCores)))} cores): numbers are pessimistic; re-run on a quiet machine.`);
  for (const s of scenarios) if (s.note) out.push(`note: ${s.label}: ${s.note}`);
  out.push('');
  out.push('Targets (ratios of rates measured in this run):');
  out.push(grid(['', 'measured', 'target', ''], checks.map((c) => [c.name, c.unit === 'x' ? `${f2(c.value)}x` : f0(c.value), c.target === undefined ? '' : c.unit === 'x' ? `>= ${f2(c.target)}x` : `>= ${c.target}`, c.verdict])));
  out.push('');
  out.push('Sanity (one request per scenario via fetch, checked with `openssl ocsp -respin -CAfile root -verify_other sub`; responder outcomes from its /metrics):');
  for (const s of scenarios) {
    if (!s.sanity && !s.outcomes) continue;
    const parts = [s.sanity ? `${s.sanity.ok ? 'OK' : 'FAILED'}: ${s.sanity.detail} (${s.sanity.bodyBytes} B)` : ''];
    if (s.outcomes) parts.push(`outcomes ${Object.entries(s.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    if (s.sweep) parts.push(`${s.sweep.checked - s.sweep.bad}/${s.sweep.checked} sampled answers successful`);
    out.push(`  ${s.label}: ${parts.filter(Boolean).join('; ')}`);
  }
  const profileReport = analyseProfiles(profiles, profileBreakdown, problems);
  for (const [name, r] of Object.entries(profileReport)) {
    out.push('');
    out.push(`CPU profile of the ${name} responder's JS thread over its whole run (--cpu-prof, ${f2(r.busySeconds)} s busy; share of busy time):`);
    out.push(...shareLines(r.components));
    out.push('  top functions by self time:');
    out.push(...shareLines(r.functions));
  }
  out.push(...problemLines(problems));
  out.push('');
  out.push(`total bench wall time ${f0((performance.now() - wall0) / 1000)} s; JSON: ${RESULTS}`);
  process.stdout.write(out.join('\n') + '\n');

  writeResults(RESULTS, 'bench-ocsp', startedAt, {
    config: { concurrency: CONC, abRounds: AB_ROUNDS, measureSeconds: MEASURE_S, warmupSeconds: WARMUP_S, prewarmSeconds: PREWARM_S, certificates: CERTS, quick: QUICK, serviceImport: SERVICE_IMPORT },
    presignedResponseBytes: presignedBytes,
    targets: checks,
    scenarios,
    ...profilesJson(profiles, profileReport),
    problems,
  });
  printBenchResults('bench-ocsp', results);
  if (problems.length) process.exitCode = 1;
}
