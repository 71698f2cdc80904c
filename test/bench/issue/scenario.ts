/** A measured scenario as the report and the results file have it, from a load phase and /proc. */
import { join } from 'node:path';
import { open } from 'lmdb';
import { CORES } from '../bench-kit.js';
import type { CpuDelta } from './cpu.js';
import type { Phase } from './load-client.js';

export interface ScenarioResult {
  readonly scenario: string;
  readonly group: 'baseline' | 'ra-ca' | 'ra-ca-limits' | 'ca' | 'ra' | 'floor';
  readonly conc: number;
  readonly certs: number;
  readonly failed: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly failures?: Record<string, number>;
  readonly failureSamples?: string[];
  /** CPU milliseconds per request, per process (all threads), plus `total`. */
  readonly cpuMsPerReq: Record<string, number>;
  /** Busy share of each process's main (JS) thread over the phase: 1 = saturated. */
  readonly mainThreadBusy: Record<string, number>;
  /** Machine-wide shares of all cores. */
  readonly machine: CpuDelta['machine'];
  /** Cores busy with work other than the processes measured here (other tenants, kernel threads): a noisy run shows here. */
  readonly otherLoadCores: number;
  /** Mean time inside the CA's sign pipeline (pki_ca_sign_duration_seconds), ms. */
  readonly caSignMeanMs?: number;
  /** Durable store commits (LMDB write transactions, each fsynced) per certificate, RA and CA together: < 1 is group commit. */
  readonly commitsPerCert?: number;
  readonly note?: string;
}

export function toScenario(group: ScenarioResult['group'], scenario: string, conc: number, p: Phase, extra: Partial<ScenarioResult> = {}): ScenarioResult {
  const cpuMsPerReq: Record<string, number> = {};
  const mainThreadBusy: Record<string, number> = {};
  let total = 0;
  for (const [k, v] of Object.entries(p.cpu.procs)) {
    const all = v.main + v.other;
    cpuMsPerReq[k] = p.ok ? (all * 1000) / p.ok : NaN;
    mainThreadBusy[k] = v.main / p.cpu.seconds;
    total += all;
  }
  cpuMsPerReq.total = p.ok ? (total * 1000) / p.ok : NaN;
  return {
    scenario,
    group,
    conc,
    certs: p.ok,
    failed: p.failed,
    seconds: p.seconds,
    perSecond: p.perSecond,
    p50Ms: p.p50,
    p99Ms: p.p99,
    meanMs: p.mean,
    ...(p.failed ? { failures: p.failures, failureSamples: p.failureSamples } : {}),
    cpuMsPerReq,
    mainThreadBusy,
    machine: p.cpu.machine,
    otherLoadCores: Math.max(0, p.cpu.machine.busy * CORES - total / p.cpu.seconds),
    ...extra,
  };
}

export async function caSignHistogram(caOpsUrl: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${caOpsUrl}/metrics`)).text();
  const sum = Number(/^pki_ca_sign_duration_seconds_sum(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? NaN);
  const count = Number(/^pki_ca_sign_duration_seconds_count(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? NaN);
  return { sum, count };
}

/** LMDB's last committed write transaction id in the bench PKI's store: the difference over a phase is its commits. */
export function lmdbCommits(dataDir: string): number {
  // The same environment as the store's, if this process has it open (lmdb shares one per path and process).
  const db = open({ path: join(dataDir, 'store'), compression: false, maxReaders: 256 });
  return (db.getStats() as { lastTxnId: number }).lastTxnId;
}
