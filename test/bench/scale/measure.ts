/** Measuring the responder at a size: the cache prefill before it, and the checked open loop with what the responder and Redis did over it. */
import { f0, f1, f2, log } from '../bench-kit.js';
import { delta } from '../ocsp/shared.js';
import { checkAnswer, draws, type RequestParts } from './answers.js';
import { CONNECTIONS, PREFILL, RATE, ROUNDS } from './config.js';
import { responderMetrics } from './metrics.js';
import { openLoop, type OpenLoopRun } from './open-loop.js';
import { int } from './progress.js';
import { RawHttpPool } from './raw-http.js';
import { commandStats } from './redis.js';
import type { ScaleRun } from './run.js';
import type { ScaleBench } from './setup.js';

export interface OcspRun {
  readonly run: OpenLoopRun;
  /** The responder's answers by method/outcome (its /metrics) over the run. */
  readonly outcomes: Record<string, number>;
  /** Store reads (Redis GETs) per OCSP request over the run: 0 = everything from the responder's memory. */
  readonly storeReadsPerRequest: number;
  /** Server time (µs) per store read: GET of the pre-signed responses (HGET for a store from before schema 5). */
  readonly hgetServerUsec: number;
  /** The responder's CPU time (all threads) per request. */
  readonly responderUsPerRequest: number;
  /** The responder's GC time during the run (warm-up included), ms by kind. */
  readonly responderGcMs: Record<string, number>;
  /** The responder's event-loop delay during the run (warm-up included; 10 ms sampling). */
  readonly loopDelayMaxMs: number;
  readonly loopDelayP99Ms: number;
  /** Every round's p99 (medianRound), in the order measured. */
  readonly p99Rounds?: readonly number[];
}

/**
 * `measure` ROUNDS times, back to back: the round with the median p99 stands for the measurement
 * (all its figures are that round's), with every round's p99.
 */
export async function medianRound<T extends { readonly run: OpenLoopRun }>(measure: (round: number) => Promise<T>): Promise<T & { readonly p99Rounds: readonly number[] }> {
  const rounds: T[] = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await measure(i));
  const median = [...rounds].sort((a, b) => a.run.latencyMs.p99 - b.run.latencyMs.p99)[(rounds.length - 1) >> 1]!;
  return { ...median, p99Rounds: rounds.map((r) => r.run.latencyMs.p99) };
}

/**
 * Before measuring: PREFILL requests for random certificates of the population, closed loop, so
 * that the responder's in-memory cache is in its steady state (at the big size: full, every
 * miss evicting the oldest answer), as in a responder that has been serving for a while.
 */
export async function prefill({ problems }: ScaleRun, { ocspPort, pop }: ScaleBench, label: string, rp: RequestParts, population: number): Promise<{ requests: number; seconds: number }> {
  const idx = draws(PREFILL, population);
  const pool = await RawHttpPool.open(ocspPort, CONNECTIONS);
  const t0 = performance.now();
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  try {
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (next < idx.length) {
          const serial = pop.serial(idx[next++]!);
          const error = await new Promise<string | undefined>((res) => pool.request(Buffer.concat([rp.http, serial]), (e, status, body) => res(e ?? checkAnswer(status, body, rp, serial))));
          if (error !== undefined) {
            errors++;
            firstError ??= error;
          }
        }
      }),
    );
  } finally {
    pool.close();
  }
  if (errors) problems.push(`${label} cache prefill: ${errors} wrong or missing answers (first: ${firstError})`);
  const seconds = (performance.now() - t0) / 1000;
  log(`${label}: responder cache prefilled with ${int(PREFILL)} requests over ${int(population)} certificates in ${f1(seconds)} s`);
  return { requests: PREFILL, seconds };
}

/** The open loop over records [0, population), checked; with the responder's outcomes and Redis's GETs over the run. */
export async function measureOcsp({ problems }: ScaleRun, { raw, ocspUrl, ocspPort, pop, pids }: ScaleBench, label: string, rp: RequestParts, population: number, warmupS: number, measureS: number): Promise<OcspRun> {
  const idx = draws(Math.round(RATE * (warmupS + measureS)), population);
  const m0 = await responderMetrics(ocspUrl);
  const c0 = await commandStats(raw);
  // fresh connections for each run (the responder closes idle keep-alive connections)
  const pool = await RawHttpPool.open(ocspPort, CONNECTIONS);
  let run: OpenLoopRun;
  try {
    run = await openLoop(
      (i, done) => {
        const serial = pop.serial(idx[i]!);
        pool.request(Buffer.concat([rp.http, serial]), (error, status, body) => done(error ?? checkAnswer(status, body, rp, serial)));
      },
      RATE,
      warmupS,
      measureS,
      pids,
    );
  } finally {
    pool.close();
  }
  const c1 = await commandStats(raw);
  const m1 = await responderMetrics(ocspUrl);
  const outcomes = delta(m0.outcomes, m1.outcomes);
  const requests = Object.values(outcomes).reduce((a, b) => a + b, 0);
  // The responder's store reads: GET of o:<issuer>:<serial> (schema 5; HGET before). Its OCSP epoch
  // poll (a GET every 500 ms) is counted too: 0.001 per request at this rate.
  const calls = (c: typeof c0): number => (c.get?.calls ?? 0) + (c.hget?.calls ?? 0);
  const usec = (c: typeof c0): number => (c.get?.usec ?? 0) + (c.hget?.usec ?? 0);
  const reads = calls(c1) - calls(c0);
  const unexpected = Object.entries(outcomes).filter(([o]) => o !== 'POST/presigned');
  if (run.errors) problems.push(`${label}: ${run.errors} wrong or missing answers (first: ${run.firstError})`);
  if (unexpected.length) problems.push(`${label}: answers other than pre-signed: ${JSON.stringify(Object.fromEntries(unexpected))}`);
  const r = {
    run,
    outcomes,
    storeReadsPerRequest: reads / Math.max(1, requests),
    hgetServerUsec: reads ? (usec(c1) - usec(c0)) / reads : NaN,
    responderUsPerRequest: (run.cpu.responderCores * 1e6) / run.perSecond,
    responderGcMs: Object.fromEntries(Object.entries(delta(m0.gcSeconds, m1.gcSeconds)).map(([kind, v]) => [kind, v * 1000])),
    loopDelayMaxMs: m1.loopDelayMaxMs,
    loopDelayP99Ms: m1.loopDelayP99Ms,
  };
  log(
    `${label}: ${f0(run.perSecond)} req/s over ${int(population)} certificates, p50 ${f2(run.latencyMs.p50)} ms, p99 ${f2(run.latencyMs.p99)} ms (send lag p99 ${f2(run.sendLagMs.p99)} ms), ` +
      `${f2(r.storeReadsPerRequest)} store reads/request, responder ${f0(r.responderUsPerRequest)} µs CPU/request, errors ${run.errors}`,
  );
  return r;
}
