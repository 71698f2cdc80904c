/** The report: the target (p99 at the big size within 1.2x the p99 at 1,000), the details, loading and memory, sanity, on stdout; the results file (bench-results/scale.json). */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { CORES, PROFILE_DIR, QUICK, SERVICE_ALLOCATOR, SERVICE_IMPORT, f0, f1, f2, grid, printBenchResults, problemLines, writeResults } from '../bench-kit.js';
import { CONNECTIONS, LOAD_CONCURRENCY, MEASURE_S, PREFILL, ROUNDS, PRESIGN_HELPERS, RATE, REDIS_ARGS, RESPONDER_CACHE, RESULTS, SMALL, STATION_SPREAD, TARGET_BYTES_PER_RECORD, RSS_MARGIN_MB, TARGET_RATIO, TARGET_RSS_RATIO, TOTAL, WARMUP_S, WRK_CONC } from './config.js';
import type { OcspRun } from './measure.js';
import type { ResponderMemory } from './metrics.js';
import type { Phase } from './phases.js';
import { dur, int } from './progress.js';
import type { ScaleResults } from './run.js';

/** Prints the report and writes the results file; a problem (a wrong answer, a failed step) sets a non-zero exit code, a missed target does not. */
export function report({ phases, problems, profiles, presignedBytes, templateBytes }: ScaleResults, startedAt: Date, wall0: number): void {
  const [small, big] = phases as [Phase, Phase];
  const ratio = big.ocsp.run.latencyMs.p99 / small.ocsp.run.latencyMs.p99;
  const verdict = !Number.isFinite(ratio) ? 'n/a' : ratio <= TARGET_RATIO ? 'PASS' : 'FAIL';
  const out: string[] = [];
  out.push('');
  out.push(`bench-scale: ${CORES} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim().split(' sha=')[0] ?? 'redis'}; CA and responder on ${SERVICE_ALLOCATOR}`);
  out.push(
    `store: Redis, appendonly yes, appendfsync everysec (production: always; only the bulk load and pre-signing write), one OCSP responder and the CA as processes` +
      (PRESIGN_HELPERS ? ` (${PRESIGN_HELPERS} more responders helped pre-sign the big phase, stopped before measuring)` : ''),
  );
  out.push(
    `records: synthetic ChargingStationCertificate records written with RedisStore.recordIssuance (${LOAD_CONCURRENCY} in flight), random 16-byte serials, ` +
      `${int(STATION_SPREAD)} stations; each carries the DER of one real certificate (${templateBytes} B) as a template: the responder never reads a record's DER`,
  );
  out.push(
    `load: open loop, ${RATE} req/s for ${MEASURE_S} s after ${WARMUP_S} s of warm-up, ${ROUNDS} rounds (the median p99's stands), POST /ocsp (one SHA-256 CertID, no nonce), certificates drawn uniformly from the whole population, ` +
      `${CONNECTIONS} keep-alive connections; latency from the scheduled send time; every answer checked (successful, CertID good); ` +
      `before it, ${int(PREFILL)} requests for random certificates bring the responder's cache (${int(RESPONDER_CACHE)} answers) to its steady state`,
  );
  if (SERVICE_IMPORT) out.push(`EXPERIMENT: responder started with --import ${SERVICE_IMPORT}`);
  if (PROFILE_DIR) out.push(`NOTE: the responder ran with --cpu-prof into ${PROFILE_DIR} (slower than normal)`);
  out.push('');
  out.push(
    grid(
      ['records', 'p50 ms', 'p99 ms', 'req/s', 'Redis bytes/record', 'responder RSS MB (after pre-signing / after measuring)'],
      phases.map((p) => [int(p.records), f2(p.ocsp.run.latencyMs.p50), f2(p.ocsp.run.latencyMs.p99), f0(p.ocsp.run.perSecond), f0(p.redis.bytesPerRecord), `${f0(p.responderRssMb)} / ${f0(p.responderRssAfterMb)}`]),
    ),
  );
  out.push('');
  out.push(`p99(${big.label})/p99(${small.label}) = ${f2(ratio)} (target ≤ ${f2(TARGET_RATIO)}) ${verdict}`);
  const rounds = (r: { p99Rounds?: readonly number[] }): string => (r.p99Rounds ?? []).map(f2).join(' / ');
  out.push(`  each p99 is the median of ${ROUNDS} rounds measured back to back (ms): ${phases.map((p) => `${p.label} ${rounds(p.ocsp)}`).join('; ')}`);
  const bytesVerdict = big.redis.bytesPerRecord <= TARGET_BYTES_PER_RECORD ? 'PASS' : 'FAIL';
  out.push(`Redis bytes per certificate at ${big.label}: ${f0(big.redis.bytesPerRecord)} (target ≤ ${TARGET_BYTES_PER_RECORD}) ${bytesVerdict}`);
  const rssRatio = big.responderRssAfterMb / small.responderRssAfterMb;
  const rssDelta = big.responderRssAfterMb - small.responderRssAfterMb;
  const rssVerdict = !Number.isFinite(rssRatio) ? 'n/a' : rssRatio <= TARGET_RSS_RATIO || Math.abs(rssDelta) <= RSS_MARGIN_MB ? 'PASS' : 'FAIL';
  out.push(
    `responder RSS after measuring: ${f0(small.responderRssAfterMb)} MB at ${small.label}, ${f0(big.responderRssAfterMb)} MB at ${big.label}, ratio ${f2(rssRatio)} ` +
      `(target ≤ ${f2(TARGET_RSS_RATIO)} or within ${RSS_MARGIN_MB} MB) ${rssVerdict}`,
  );
  // What the RSS holds: a growth outside V8's heap and buffers is the allocator keeping freed memory (issue 17).
  const split = (m: ResponderMemory): string => `${f0(m.rssMb)} = heap ${f0(m.heapMb)} + external ${f0(m.externalMb)} + other ${f0(m.otherMb)}`;
  for (const p of phases) out.push(`responder memory at ${p.label} (MB, its /metrics): after pre-signing ${split(p.responderMemory.presigned)}; after measuring ${split(p.responderMemory.measured)}`);
  if (big.control)
    out.push(
      `cross-check, not the target: p99(${big.label})/p99(${big.label} control) = ${f2(big.ocsp.run.latencyMs.p99 / big.control.run.latencyMs.p99)} ` +
        `(the control: 1,000 certificates answered from memory as at 1k, measured right after under the same machine and store state)`,
    );
  if (big.floor) {
    const { memory, redis } = big.floor;
    out.push(
      `floor, not the target: a bare node:http server under the same load at ${big.label} (http-floor-server.ts scale-floor): p99 ${f2(memory.run.latencyMs.p99)} ms from memory, ` +
        `${f2(redis.run.latencyMs.p99)} ms with one Redis GET per request, ratio ${f2(redis.run.latencyMs.p99 / memory.run.latencyMs.p99)} ` +
        `(server CPU ${f0(memory.serverUsPerRequest)} and ${f0(redis.serverUsPerRequest)} µs/request; p99 by round ${rounds(memory)} and ${rounds(redis)}): what a responder whose answers live in Redis pays at least`,
    );
  }
  out.push('');
  out.push('Details (open loop; the control row: at the big size, requests over the first 1,000 records only, answered from memory as at 1k):');
  const detailRow = (name: string, r: OcspRun, p: Phase, more: boolean): string[] => [
    name,
    f2(r.run.latencyMs.p50),
    f2(r.run.latencyMs.p90),
    f2(r.run.latencyMs.p99),
    f2(r.run.latencyMs.p999),
    f1(r.run.latencyMs.max),
    `${f2(r.run.serviceMs.p50)}/${f2(r.run.serviceMs.p99)}`,
    `${f2(r.run.sendLagMs.p50)}/${f2(r.run.sendLagMs.p99)}`,
    f2(r.storeReadsPerRequest),
    f0(r.responderUsPerRequest),
    f1(r.hgetServerUsec),
    more ? `${f2(p.redisProbe.latencyMs.p50)}/${f2(p.redisProbe.latencyMs.p99)}` : '',
    more ? (p.wrk ? f0(p.wrk.perSecond) : 'no wrk') : '',
    `${f0(r.responderGcMs.major ?? 0)}/${f0((r.responderGcMs.minor ?? 0) + (r.responderGcMs.incremental ?? 0))}`,
    `${f1(r.loopDelayP99Ms)}/${f1(r.loopDelayMaxMs)}`,
    f2(r.run.cpu.responderCores),
    f2(r.run.cpu.redisCores),
    f2(r.run.cpu.loadGeneratorCores),
    f2(r.run.cpu.otherLoadCores),
  ];
  out.push(
    grid(
      ['run', 'p50', 'p90', 'p99', 'p99.9', 'max', 'service p50/p99', 'send lag p50/p99', 'store reads/req', 'resp µs CPU/req', 'GET µs in Redis', 'Redis RTT p50/p99', 'wrk req/s', 'resp GC ms major/minor', 'resp loop delay p99/max', 'resp cores', 'redis cores', 'gen cores', 'other load'],
      phases.flatMap((p) => [
        detailRow(`${int(p.records)} records`, p.ocsp, p, true),
        ...(p.control ? [detailRow(`${int(p.records)}, control`, p.control, p, false)] : []),
      ]),
    ),
  );
  out.push('(ms unless noted; service: from the actual send; send lag: the generator sending late (included in the latencies); store reads/req: Redis GETs per');
  out.push(` OCSP request, 0 = all from the responder's in-memory cache of up to ${int(RESPONDER_CACHE)} pre-signed answers; Redis RTT: the same GET from this process at`);
  out.push(` the same rate; wrk: saturation, -c${WRK_CONC}, random certificates; resp GC: the responder's GC time during the run (its /metrics; minor includes incremental);`);
  out.push(' resp loop delay: its event-loop delay beyond the 10 ms interval of monitorEventLoopDelay; cores: responder, Redis, load generator, and other load: busy cores not');
  out.push(' explained by them, > 0.15 = noisy)');
  const runs = phases.flatMap((p) => [{ name: p.label, r: p.ocsp.run }, ...(p.control ? [{ name: `${p.label} control`, r: p.control.run }] : [])]);
  const noisy = runs.filter((x) => x.r.cpu.otherLoadCores > 0.15);
  if (noisy.length) out.push(`WARNING: other load on the machine during ${noisy.map((x) => x.name).join(', ')} (up to ${f2(Math.max(...noisy.map((x) => x.r.cpu.otherLoadCores)))} cores): latencies are pessimistic; re-run on a quiet machine.`);
  out.push('');
  out.push('Loading and memory:');
  out.push(
    grid(
      ['records', 'loaded', 'load s', 'load rec/s', 'pre-signed after load s', 'pre-sign rec/s', 'Redis used MB', 'bytes/record'],
      phases.map((p, i) => [
        int(p.records),
        int(p.records - (i ? phases[i - 1]!.records : 0)),
        f1(p.load.seconds),
        int(p.load.perSecond),
        f1(p.presignWaitSeconds),
        int(p.presignPerSecond),
        f0(p.redis.usedMemory / 2 ** 20),
        f0(p.redis.bytesPerRecord),
      ]),
    ),
  );
  out.push(`(bytes/record: Redis used_memory growth since before the first record, per record: record, indexes, two pre-signed responses of ${presignedBytes} B and the pre-signing queue entry;`);
  out.push(` MEMORY USAGE at ${big.label}, of a 200-record sample (the list indexes: all of the tenant's, per record): ${Object.entries(big.redis.sample).map(([key, v]) => `${key} ${f0(v)}`).join(', ')})`);
  out.push('');
  out.push('Sanity (one answer per phase checked with `openssl ocsp -respin -CAfile root -verify_other sub`; responder outcomes from its /metrics):');
  for (const p of phases) out.push(`  ${p.label}: ${p.sanity.ok ? 'OK' : 'FAILED'}: ${p.sanity.detail}; outcomes ${Object.entries(p.ocsp.outcomes).map(([key, v]) => `${key} ${v}`).join(', ')}`);
  out.push(...problemLines(problems));
  out.push('');
  out.push(`total bench wall time ${dur((performance.now() - wall0) / 1000)}; JSON: ${RESULTS}`);
  process.stdout.write(out.join('\n') + '\n');

  writeResults(RESULTS, 'bench-scale', startedAt, {
    config: {
      records: TOTAL,
      small: SMALL,
      rate: RATE,
      measureSeconds: MEASURE_S,
      warmupSeconds: WARMUP_S,
      connections: CONNECTIONS,
      loadConcurrency: LOAD_CONCURRENCY,
      stations: STATION_SPREAD,
      redis: REDIS_ARGS.join(' '),
      quick: QUICK,
      serviceImport: SERVICE_IMPORT,
      profileDir: PROFILE_DIR,
    },
    templateDerBytes: templateBytes,
    presignedResponseBytes: presignedBytes,
    target: { p99Ratio: TARGET_RATIO, measured: ratio, verdict, vsControl: big.control ? big.ocsp.run.latencyMs.p99 / big.control.run.latencyMs.p99 : undefined },
    phases,
    ...(PROFILE_DIR ? { profiles } : {}),
    problems,
    wallSeconds: (performance.now() - wall0) / 1000,
  });
  printBenchResults('bench-scale', [
    { metric: `OCSP p99 at ${big.label} records`, value: big.ocsp.run.latencyMs.p99, unit: 'ms', baseline: { name: `p99 at ${small.label}`, value: small.ocsp.run.latencyMs.p99 }, target: TARGET_RATIO, better: 'lower' },
    ...(big.floor
      ? [
          {
            metric: `floor p99, bare node:http + one Redis GET/request, ${big.label}`,
            value: big.floor.redis.run.latencyMs.p99,
            unit: 'ms',
            baseline: { name: 'same from memory', value: big.floor.memory.run.latencyMs.p99 },
            better: 'lower' as const,
          },
        ]
      : []),
    { metric: `Redis bytes per certificate at ${big.label}`, value: big.redis.bytesPerRecord, unit: 'B', target: TARGET_BYTES_PER_RECORD, better: 'lower' },
    {
      metric: `responder RSS at ${big.label} records (after measuring)`,
      value: big.responderRssAfterMb,
      unit: 'MB',
      baseline: { name: `RSS at ${small.label}`, value: small.responderRssAfterMb },
      target: TARGET_RSS_RATIO,
      margin: RSS_MARGIN_MB,
      better: 'lower',
    },
  ]);
  if (problems.length) process.exitCode = 1;
}
