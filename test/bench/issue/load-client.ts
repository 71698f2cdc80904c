/**
 * The load generator: requests (CSRs for the RA or the CA, each generated before any timing, each
 * with its own key, A02.FR.02) and a closed-loop HTTP load of `conc` workers over an undici Pool
 * with `conc` keep-alive connections.
 */
import type { Pool } from 'undici';
import { CERT_TYPE, TENANT, type CsrItem } from '../bench-kit.js';
import { cpuSince, snap, type CpuDelta } from './cpu.js';

export function pct(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export interface Req {
  readonly path: string;
  readonly body: string;
}
export type Source = () => Req | undefined;

export const raRequest = (c: CsrItem): Req => ({
  path: `/v1/stations/bench-${c.station}/certificates`,
  body: JSON.stringify({ csr: c.csr, certificateType: CERT_TYPE }),
});
export const caRequest = (c: CsrItem): Req => ({
  path: '/v1/sign',
  body: JSON.stringify({ tenant: TENANT, stationId: `bench-${c.station}`, csr: c.csr, certificateType: CERT_TYPE, actor: 'bench' }),
});

export function listSource(items: readonly Req[]): Source & { used(): number } {
  let i = 0;
  const f = (() => items[i++]) as Source & { used(): number };
  f.used = () => Math.min(i, items.length);
  return f;
}
export const cycleSource = (items: readonly Req[]): Source => {
  let i = 0;
  return () => items[i++ % items.length];
};

export interface Phase {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly failures: Record<string, number>;
  readonly failureSamples: string[];
  readonly samples: string[];
  readonly cpu: CpuDelta;
}

export interface LoadSpec {
  readonly pool: Pool;
  readonly conc: number;
  readonly source: Source;
  readonly headers: Record<string, string>;
  readonly seconds: number;
  readonly maxCount: number;
  readonly expect: number;
  readonly sampleEvery?: number;
  readonly pids?: Record<string, number>;
}

export async function runPhase(s: LoadSpec): Promise<Phase> {
  const lat = new Float64Array(Math.min(s.maxCount, 2_000_000) + s.conc);
  let n = 0;
  let ok = 0;
  let failed = 0;
  let started = 0;
  const failures: Record<string, number> = {};
  const failureSamples: string[] = [];
  const samples: string[] = [];
  const pids = s.pids ?? {};
  const c0 = snap(pids);
  const t0 = performance.now();
  const deadline = t0 + s.seconds * 1000;

  async function worker(): Promise<void> {
    for (;;) {
      if (started >= s.maxCount || n >= lat.length - s.conc || performance.now() >= deadline) return;
      const item = s.source();
      if (!item) return;
      started++;
      const a = performance.now();
      let status = 0;
      let text = '';
      try {
        const res = await s.pool.request({ path: item.path, method: 'POST', headers: s.headers, body: item.body });
        status = res.statusCode;
        text = await res.body.text();
      } catch (e) {
        status = -1;
        text = (e as Error).message;
      }
      lat[n++] = performance.now() - a;
      if (status === s.expect) {
        ok++;
        if (s.sampleEvery && ok % s.sampleEvery === 1) samples.push(text);
      } else {
        failed++;
        failures[String(status)] = (failures[String(status)] ?? 0) + 1;
        if (failureSamples.length < 3) failureSamples.push(`${status} ${text.slice(0, 400)}`);
      }
    }
  }
  await Promise.all(Array.from({ length: s.conc }, worker));
  const cpu = cpuSince(c0, pids);
  const sorted = lat.slice(0, n).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    ok,
    failed,
    seconds: cpu.seconds,
    perSecond: ok / cpu.seconds,
    p50: pct(sorted, 0.5),
    p99: pct(sorted, 0.99),
    mean: n ? sum / n : NaN,
    failures,
    failureSamples,
    samples,
    cpu,
  };
}

/** The RA's request headers: the dev tenant's bearer token, a JSON body. */
export const raHeaders = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
