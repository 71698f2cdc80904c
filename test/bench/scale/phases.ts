/**
 * The phases: 1,000 records, then the rest up to TOTAL. Each: load (the big one with pre-signing
 * helpers), wait until all are pre-signed and no AOF rewrite runs, memory, the cache prefill, the
 * measurement (and at the big size a control over the first 1,000 records and the floor), the Redis round trip
 * alone, saturation with wrk, one answer checked with openssl.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { f0, f1, f2, log, stopProc } from '../bench-kit.js';
import { draws, opensslCheck, requestParts, type RequestParts } from './answers.js';
import { CONTROL_S, MEASURE_S, PRESIGN_HELPERS, PROBE_S, RATE, SERIAL_BYTES, SMALL, TOTAL, WARMUP_S, WRK_CONC, WRK_S } from './config.js';
import { cpuBetween, cpuSnap, procCpu, rssMb } from './cpu.js';
import { measureFloor, type Floor } from './floor.js';
import { load, waitPresigned, type LoadResult } from './loading.js';
import { measureOcsp, medianRound, prefill, type OcspRun } from './measure.js';
import { memorySample } from './memory.js';
import { responderMemory, type ResponderMemory } from './metrics.js';
import { openLoop, type OpenLoopRun } from './open-loop.js';
import { int } from './progress.js';
import { info, k, waitAofIdle } from './redis.js';
import type { ScaleRun } from './run.js';
import type { ScaleBench } from './setup.js';
import { runWrk, wrkScript, type WrkRun } from './wrk.js';

export interface Phase {
  readonly label: string;
  readonly records: number;
  readonly load: LoadResult;
  /** From the end of loading until everything was pre-signed. */
  readonly presignWaitSeconds: number;
  /** Records / (load start → all pre-signed). */
  readonly presignPerSecond: number;
  readonly aofRewriteWaitSeconds: number;
  readonly redis: { usedMemory: number; usedMemoryRss: number; bytesPerRecord: number; sample: Record<string, number> };
  /** The measured responder's RSS after pre-signing (its cache still empty at the big size). */
  readonly responderRssMb: number;
  /** Its RSS after the measurement: its caches at their steady state (the target's figure). */
  readonly responderRssAfterMb: number;
  /** What that RSS holds, after pre-signing and after measuring (its /metrics). */
  readonly responderMemory: { readonly presigned: ResponderMemory; readonly measured: ResponderMemory };
  /** Requests sent before measuring to bring the responder's cache to its steady state. */
  readonly prefill: { readonly requests: number; readonly seconds: number };
  /** The measurement: certificates drawn from the whole population. */
  readonly ocsp: OcspRun;
  /** At the big size: the same open loop over the first 1,000 records only. */
  readonly control?: OcspRun;
  /** At the big size: a bare node:http server under the same load, from memory and with one Redis GET per request (floor.ts). */
  readonly floor?: Floor;
  /** The responder's store read (GET of the pre-signed responses) from this process, same rate. */
  readonly redisProbe: OpenLoopRun;
  readonly wrk?: WrkRun;
  readonly sanity: { ok: boolean; detail: string };
}

export async function runPhases(run: ScaleRun, bench: ScaleBench): Promise<void> {
  const { hasWrk, work, problems, phases } = run;
  const { raw, store, probe, ocspUrl, ocsp, pids, issuer, files, template, baseline, pop, serialsFile, startHelpers } = bench;
  let parts: RequestParts | undefined;

  // --- the phases
  for (const [label, size] of [
    ['1k', SMALL],
    [TOTAL >= 1e6 ? `${TOTAL / 1e6}M` : `${TOTAL / 1000}k`, TOTAL],
  ] as const) {
    log(`phase ${label}: loading records ${int(pop.count + 1)} to ${int(size)}`);
    const from = pop.count;
    const tLoad = performance.now();
    const helpers = size > SMALL ? await startHelpers(PRESIGN_HELPERS) : [];
    const helperCpu = (): number => helpers.reduce((a, hp) => a + procCpu(hp.child.pid!), 0);
    const others = (h: number): string => (helpers.length ? `, helpers ${f2(h)}` : '');
    const h0 = helperCpu();
    const cpuL0 = cpuSnap(pids.responder, pids.redis);
    const loaded = await load(store, raw, pop, template, from, size, `loading ${label}`);
    const cpuL1 = cpuSnap(pids.responder, pids.redis);
    const h1 = helperCpu();
    const loadCpu = cpuBetween(cpuL0, cpuL1, loaded.seconds);
    log(
      `phase ${label}: ${int(size - from)} records in ${f1(loaded.seconds)} s (${int(loaded.perSecond)}/s, ${loaded.conflicts} serials drawn twice); cores: loader ${f2(loadCpu.loadGeneratorCores)}, ` +
        `Redis ${f2(loadCpu.redisCores)}, responder ${f2(loadCpu.responderCores)}${others((h1 - h0) / loaded.seconds)}, other ${f2(Math.max(0, loadCpu.otherLoadCores - (h1 - h0) / loaded.seconds))}`,
    );
    const presignWaitSeconds = await waitPresigned(raw, size - from, `pre-signing ${label}`, ocsp);
    const presignCpu = cpuBetween(cpuL1, cpuSnap(pids.responder, pids.redis), presignWaitSeconds);
    const rp = (parts ??= requestParts(issuer, pop.serial(0)));
    const h2 = helperCpu();
    log(
      `phase ${label}: pre-signing after the load: cores: responder ${f2(presignCpu.responderCores)}${others((h2 - h1) / presignWaitSeconds)}, Redis ${f2(presignCpu.redisCores)}, ` +
        `bench ${f2(presignCpu.loadGeneratorCores)}, other ${f2(Math.max(0, presignCpu.otherLoadCores - (h2 - h1) / presignWaitSeconds))}`,
    );
    for (const hp of helpers) await stopProc(hp, 10_000);
    const presignPerSecond = (size - from) / ((performance.now() - tLoad) / 1000);
    log(`phase ${label}: all pre-signed ${f1(presignWaitSeconds)} s after loading ended (${int(presignPerSecond)} records/s from the start of loading)`);
    const aofRewriteWaitSeconds = await waitAofIdle(raw);
    if (aofRewriteWaitSeconds > 1) log(`phase ${label}: waited ${f1(aofRewriteWaitSeconds)} s for an AOF rewrite to finish`);
    const mem = await info(raw, 'memory');
    const usedMemory = Number(mem.used_memory);
    const sample = await memorySample(raw, pop, issuer.id, 200);
    const responderRssMb = rssMb(pids.responder);
    const memoryPresigned = await responderMemory(ocspUrl);

    // open loop against the responder: certificates from the whole population
    const filled = await prefill(run, bench, label, rp, size);
    const measured = await medianRound((i) => measureOcsp(run, bench, `${label} round ${i + 1}`, rp, size, WARMUP_S, MEASURE_S));
    const responderRssAfterMb = rssMb(pids.responder);
    const memoryMeasured = await responderMemory(ocspUrl);
    // control at the big size: requests over the first 1,000 records only (answered from the
    // responder's memory, as at 1k), under the same machine and store state
    const control = size > SMALL ? await measureOcsp(run, bench, `${label} control`, rp, SMALL, 2, CONTROL_S) : undefined;
    const floor = size > SMALL ? await measureFloor(run, bench, rp, size) : undefined;

    // the store read alone, from this process
    const pidx = draws(Math.round(RATE * (1 + PROBE_S)), size);
    const redisProbe = await openLoop(
      (i, done) => {
        probe.getBuffer(k('o', issuer.id, pop.hex(pidx[i]!))).then(
          (b) => done(b && b.length > 0 ? undefined : 'no pre-signed response in the store'),
          (e: Error) => done(e.message),
        );
      },
      RATE,
      1,
      PROBE_S,
      pids,
    );
    if (redisProbe.errors) problems.push(`phase ${label}: Redis probe: ${redisProbe.errors} errors (first: ${redisProbe.firstError})`);
    log(`phase ${label}: Redis GET round trip from Node: p50 ${f2(redisProbe.latencyMs.p50)} ms, p99 ${f2(redisProbe.latencyMs.p99)} ms`);

    // saturation
    let wrk: WrkRun | undefined;
    if (hasWrk) {
      writeFileSync(serialsFile, pop.serials.subarray(0, size * SERIAL_BYTES));
      const script = wrkScript(join(work, 'scale.lua'), serialsFile, rp);
      await runWrk(ocspUrl, script, 2, pids);
      wrk = await runWrk(ocspUrl, script, WRK_S, pids);
      const bad = Object.entries(wrk.outcomes).filter(([o]) => o !== 'POST/presigned');
      if (wrk.errors || bad.length) problems.push(`phase ${label}: wrk: ${wrk.errors} errors, outcomes ${JSON.stringify(wrk.outcomes)}`);
      log(`phase ${label}: wrk -c${WRK_CONC}: ${f0(wrk.perSecond)} req/s`);
    }

    const sanity = await opensslCheck(ocspUrl, issuer, pop.serial(draws(1, size)[0]!), files, work);
    if (!sanity.ok) problems.push(`phase ${label}: openssl check failed: ${sanity.detail}`);

    phases.push({
      label,
      records: size,
      load: loaded,
      presignWaitSeconds,
      presignPerSecond,
      aofRewriteWaitSeconds,
      redis: { usedMemory, usedMemoryRss: Number(mem.used_memory_rss), bytesPerRecord: (usedMemory - baseline) / size, sample },
      responderRssMb,
      responderRssAfterMb,
      responderMemory: { presigned: memoryPresigned, measured: memoryMeasured },
      prefill: filled,
      ocsp: measured,
      ...(control ? { control } : {}),
      ...(floor ? { floor } : {}),
      redisProbe,
      ...(wrk ? { wrk } : {}),
      sanity,
    });
  }
}
