/** Open-loop load generator: constant rate, latency from the scheduled send time (no coordinated omission). */
import { Worker } from 'node:worker_threads';
import { sleep } from '../bench-kit.js';
import { cpuBetween, cpuSnap, type CpuSnap, type CpuUse } from './cpu.js';

/** The generator's clock, a worker thread (test/bench/scale-clock.ts). */
const CLOCK_WORKER = new URL('../scale-clock.js', import.meta.url);

export interface Latencies {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export function latencies(values: ArrayLike<number>): Latencies {
  const s = Float64Array.from(values).sort();
  const q = (p: number): number => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]! : NaN);
  let sum = 0;
  for (const v of s) sum += v;
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: s.length ? s[s.length - 1]! : NaN, mean: sum / s.length };
}

export interface OpenLoopRun {
  readonly rate: number;
  readonly warmupSeconds: number;
  readonly measureSeconds: number;
  /** Requests scheduled in the measured window (after the warm-up). */
  readonly measured: number;
  /** Completed per second over the measured window. */
  readonly perSecond: number;
  readonly errors: number;
  readonly firstError?: string;
  /** Scheduled send time → response complete (what is reported). */
  readonly latencyMs: Latencies;
  /** Actual send time → response complete. */
  readonly serviceMs: Latencies;
  /** Scheduled → actual send time: the generator's own lateness. */
  readonly sendLagMs: Latencies;
  /** Per second of the measured window (by scheduled time): requests, p50, p99 and max latency, ms. */
  readonly timeline: readonly { readonly second: number; readonly requests: number; readonly p50: number; readonly p99: number; readonly max: number }[];
  readonly cpu: CpuUse;
}

/** A request: calls back once with an error text (undefined: correct answer). */
export type Send = (i: number, done: (error?: string) => void) => void;

export async function openLoop(send: Send, rate: number, warmupS: number, measureS: number, pids: { responder: number; redis: number }): Promise<OpenLoopRun> {
  const n = Math.round(rate * (warmupS + measureS));
  const first = Math.round(rate * warmupS);
  const interval = 1000 / rate;
  const abs = (): number => performance.timeOrigin + performance.now();
  const t0 = abs() + 50;
  const sentAt = new Float64Array(n).fill(NaN);
  const doneAt = new Float64Array(n).fill(NaN);
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  let completed = 0;
  let snapA: CpuSnap | undefined;
  let snapATime = 0;
  const stop = new SharedArrayBuffer(4);
  const clock = new Worker(CLOCK_WORKER, { workerData: { t0, intervalMs: interval, n, stop } });
  let resolveAll: () => void = () => undefined;
  const allDone = new Promise<void>((r) => (resolveAll = r));
  const finish = (i: number) => (error?: string): void => {
    doneAt[i] = abs();
    if (error !== undefined) {
      errors += i >= first ? 1 : 0;
      firstError ??= error;
    }
    if (++completed === n) resolveAll();
  };
  const fire = (): void => {
    const now = abs();
    while (next < n && t0 + next * interval <= now) {
      const i = next++;
      if (i === first) {
        snapA = cpuSnap(pids.responder, pids.redis);
        snapATime = performance.now();
      }
      sentAt[i] = abs();
      send(i, finish(i));
    }
  };
  clock.on('message', (m: number) => void (m >= 0 ? fire() : undefined));
  const clockError = new Promise<never>((_, rej) => clock.once('error', rej));
  try {
    const timeoutMs = (warmupS + measureS) * 1000 + 30_000;
    await Promise.race([allDone, clockError, sleep(timeoutMs)]);
  } finally {
    new Int32Array(stop)[0] = 1;
    await clock.terminate();
  }
  const snapB = cpuSnap(pids.responder, pids.redis);
  const cpu = cpuBetween(snapA ?? snapB, snapB, (performance.now() - snapATime) / 1000);
  // Unanswered requests count as errors with the time waited so far (never silently dropped).
  const end = abs();
  const lat: number[] = [];
  const svc: number[] = [];
  const lag: number[] = [];
  let measuredDone = 0;
  let lastDone = t0 + first * interval;
  for (let i = first; i < n; i++) {
    const scheduled = t0 + i * interval;
    if (Number.isNaN(doneAt[i]!)) {
      errors++;
      firstError ??= 'no answer within 30 s of the end of the run';
      lat.push(end - scheduled);
      continue;
    }
    measuredDone++;
    lastDone = Math.max(lastDone, doneAt[i]!);
    lat.push(doneAt[i]! - scheduled);
    svc.push(doneAt[i]! - sentAt[i]!);
    lag.push(sentAt[i]! - scheduled);
  }
  const window = (Math.max(lastDone, t0 + n * interval) - (t0 + first * interval)) / 1000;
  const timeline = Array.from({ length: Math.ceil(measureS) }, (_, second) => {
    const per = Math.round(rate);
    const l = latencies(lat.slice(second * per, (second + 1) * per));
    return { second, requests: Math.min(per, Math.max(0, lat.length - second * per)), p50: l.p50, p99: l.p99, max: l.max };
  });
  return {
    rate,
    warmupSeconds: warmupS,
    measureSeconds: measureS,
    measured: n - first,
    perSecond: measuredDone / window,
    errors,
    ...(firstError ? { firstError } : {}),
    latencyMs: latencies(lat),
    serviceMs: latencies(svc),
    sendLagMs: latencies(lag),
    timeline,
    cpu,
  };
}
