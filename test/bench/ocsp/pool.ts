/** Pooling the alternated runs of one side of an A/B (ab.ts poolAb, wrk.ts poolWrk). */
import type { CpuUse } from './cpu.js';

interface Run {
  readonly seconds: number;
  readonly cpu: CpuUse;
}

/**
 * The figures of pooled runs: a count summed, a latency the median of the runs', the seconds all
 * together, and the CPU use with each run weighted by its seconds.
 */
export function pooled<R extends Run>(runs: readonly R[]) {
  const sum = (f: (r: R) => number): number => runs.reduce((n, r) => n + f(r), 0);
  const median = (f: (r: R) => number): number => runs.map(f).sort((x, y) => x - y)[Math.floor(runs.length / 2)]!;
  const seconds = sum((r) => r.seconds);
  const weighted = (f: (c: CpuUse) => number): number => sum((r) => f(r.cpu) * r.seconds) / seconds;
  const cpu: CpuUse = {
    serverCores: weighted((c) => c.serverCores),
    serverMainBusy: weighted((c) => c.serverMainBusy),
    wrkCores: weighted((c) => c.wrkCores),
    machineBusyCores: weighted((c) => c.machineBusyCores),
    softirqCores: weighted((c) => c.softirqCores),
    otherLoadCores: weighted((c) => c.otherLoadCores),
  };
  return { sum, median, seconds, cpu };
}
