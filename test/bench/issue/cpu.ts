/** CPU accounting from /proc: per process (main thread vs all other threads) and machine-wide. */
import { readdirSync } from 'node:fs';
import { cpuSeconds, machineCpu, machineShares, statFields, type MachineShares } from '../bench-kit.js';

export interface ThreadCpu {
  /** The JS thread (tid = pid): event loop, JS, sync crypto, sync LMDB reads. */
  main: number;
  /** Every other thread: GC helpers, libuv pool, LMDB commit thread. */
  other: number;
}

export function procCpu(pid: number): ThreadCpu {
  const r: ThreadCpu = { main: 0, other: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const t = cpuSeconds(statFields(`/proc/${pid}/task/${tid}/stat`), 11, 12);
      if (Number(tid) === pid) r.main += t;
      else r.other += t;
    } catch {
      /* thread gone */
    }
  }
  return r;
}

export interface CpuSnap {
  readonly procs: Record<string, ThreadCpu>;
  readonly machine: number[];
  readonly client: NodeJS.CpuUsage;
  readonly t: number;
}

export function snap(pids: Record<string, number>): CpuSnap {
  const procs: Record<string, ThreadCpu> = {};
  for (const [k, pid] of Object.entries(pids)) procs[k] = procCpu(pid);
  return { procs, machine: machineCpu(), client: process.cpuUsage(), t: performance.now() };
}

export interface CpuDelta {
  readonly seconds: number;
  /** CPU seconds per process (`client` = this load generator), split main / other threads. */
  readonly procs: Record<string, ThreadCpu>;
  /** Machine-wide shares of all cores' time. */
  readonly machine: MachineShares;
}

export function cpuSince(a: CpuSnap, pids: Record<string, number>): CpuDelta {
  const b = snap(pids);
  const procs: Record<string, ThreadCpu> = {};
  const cu = process.cpuUsage(a.client);
  procs.client = { main: (cu.user + cu.system) / 1e6, other: 0 }; // process-wide: main + undici has no threads
  for (const k of Object.keys(pids)) procs[k] = { main: b.procs[k]!.main - a.procs[k]!.main, other: b.procs[k]!.other - a.procs[k]!.other };
  return { seconds: (b.t - a.t) / 1000, procs, machine: machineShares(a.machine, b.machine) };
}
