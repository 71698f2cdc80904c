/** CPU accounting (/proc): responder, redis-server, this process, the machine; a process's RSS. */
import { readFileSync } from 'node:fs';
import { CORES, cpuSeconds, machineCpu, machineShares, statFields } from '../bench-kit.js';

export interface CpuSnap {
  readonly responder: number;
  readonly redis: number;
  readonly self: number;
  readonly reaped: number;
  readonly machine: number[];
}

export function procCpu(pid: number): number {
  try {
    return cpuSeconds(statFields(`/proc/${pid}/stat`), 11, 12);
  } catch {
    return NaN;
  }
}

export function cpuSnap(responderPid: number, redisPid: number): CpuSnap {
  const f = statFields('/proc/self/stat');
  return { responder: procCpu(responderPid), redis: procCpu(redisPid), self: cpuSeconds(f, 11, 12), reaped: cpuSeconds(f, 13, 14), machine: machineCpu() };
}

export interface CpuUse {
  readonly responderCores: number;
  readonly redisCores: number;
  /** This process (the load generator) and, for wrk runs, wrk. */
  readonly loadGeneratorCores: number;
  /** Busy cores not explained by the above and softirq: other tenants; > 0.15 = noisy. */
  readonly otherLoadCores: number;
}

export function cpuBetween(a: CpuSnap, b: CpuSnap, seconds: number): CpuUse {
  const m = machineShares(a.machine, b.machine);
  const responder = (b.responder - a.responder) / seconds;
  const redis = (b.redis - a.redis) / seconds;
  const gen = (b.self - a.self + b.reaped - a.reaped) / seconds;
  return {
    responderCores: responder,
    redisCores: redis,
    loadGeneratorCores: gen,
    otherLoadCores: Math.max(0, (m.busy - m.softirq) * CORES - responder - redis - gen),
  };
}

export const rssMb = (pid: number): number => {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};
