/** CPU accounting from /proc: a server's process tree (openssl -multi forks), wrk (a reaped child of this process: cutime/cstime) and the machine. */
import { CORES, cpuSeconds, machineCpu, machineShares, processTree, statFields } from '../bench-kit.js';

export interface ServerCpu {
  /** All threads of all processes of the server. */
  readonly all: number;
  /** The root process's main thread (for node: the JS thread). */
  readonly main: number;
}

export function serverCpu(root: number): ServerCpu {
  let all = 0;
  let main = 0;
  for (const pid of processTree(root)) {
    try {
      all += cpuSeconds(statFields(`/proc/${pid}/stat`), 11, 12);
      if (pid === root) main = cpuSeconds(statFields(`/proc/${pid}/task/${pid}/stat`), 11, 12);
    } catch {
      /* gone */
    }
  }
  return { all, main };
}

export interface Snap {
  readonly server: ServerCpu;
  readonly self: number;
  readonly reaped: number;
  readonly machine: number[];
}

export function snap(serverPid: number): Snap {
  const f = statFields('/proc/self/stat');
  return { server: serverCpu(serverPid), self: cpuSeconds(f, 11, 12), reaped: cpuSeconds(f, 13, 14), machine: machineCpu() };
}

export interface CpuUse {
  /** Cores (CPU seconds per second) used by the server, all threads and processes. */
  readonly serverCores: number;
  /** Busy share of the server's main thread (node: the JS thread; 1 = saturated). */
  readonly serverMainBusy: number;
  readonly wrkCores: number;
  readonly machineBusyCores: number;
  readonly softirqCores: number;
  /** Busy cores not explained by the server, wrk, this process or softirq: other tenants; > 0.15 means a noisy run. */
  readonly otherLoadCores: number;
}

export function cpuBetween(a: Snap, b: Snap, seconds: number): CpuUse {
  const m = machineShares(a.machine, b.machine);
  const busy = m.busy * CORES;
  const softirq = m.softirq * CORES;
  const server = (b.server.all - a.server.all) / seconds;
  const wrk = (b.reaped - a.reaped) / seconds;
  const self = (b.self - a.self) / seconds;
  return {
    serverCores: server,
    serverMainBusy: (b.server.main - a.server.main) / seconds,
    wrkCores: wrk,
    machineBusyCores: busy,
    softirqCores: softirq,
    otherLoadCores: Math.max(0, busy - server - wrk - self - softirq),
  };
}

