/**
 * ApacheBench (`ab`): POST without keep-alive, a new connection per request (HTTP/1.0, closed after
 * the answer), as real OCSP clients ask (a CSMS for a charge point, `openssl ocsp`, TLS stacks).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnProc } from '../bench-kit.js';
import { AB_CONC, AB_REQUESTS } from './config.js';
import { cpuBetween, snap, type CpuUse } from './cpu.js';
import { pooled } from './pool.js';

export interface AbRun {
  readonly requests: number;
  readonly seconds: number;
  /**
   * Connect, receive and exception failures. Not ab's "Length" ones: a body of another length than
   * the first (openssl signs each answer anew, and ECDSA signatures vary by a byte or two).
   */
  readonly failed: number;
  readonly non2xx: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly cpu: CpuUse;
}

/** The request body file for ab (-p). */
export function abBody(work: string, body: Buffer): string {
  const file = join(work, 'ab-request.der');
  writeFileSync(file, body);
  return file;
}

export async function runAb(url: string, bodyFile: string, serverPid: number, requests = AB_REQUESTS): Promise<AbRun> {
  const a = snap(serverPid);
  const t0 = performance.now();
  const p = spawnProc('ab', 'ab', ['-q', '-r', '-s', '20', `-c${AB_CONC}`, `-n${requests}`, '-p', bodyFile, '-T', 'application/ocsp-request', `${url}/ocsp`], process.env);
  const code = await new Promise<number | null>((r) => p.child.once('exit', (c) => r(c)));
  const wall = (performance.now() - t0) / 1000;
  const b = snap(serverPid);
  const out = p.output();
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  const complete = num(/Complete requests:\s+(\d+)/);
  if (code !== 0 || !Number.isFinite(complete)) throw new Error(`ab failed (exit ${code}):\n${out}`);
  return {
    requests: complete,
    seconds: num(/Time taken for tests:\s+([\d.]+)/),
    failed: ['Connect', 'Receive', 'Exceptions'].reduce((n, k) => n + (Number(new RegExp(`${k}: (\\d+)`).exec(out)?.[1] ?? 0)), 0),
    non2xx: /Non-2xx responses:\s+(\d+)/.test(out) ? num(/Non-2xx responses:\s+(\d+)/) : 0,
    perSecond: num(/Requests per second:\s+([\d.]+)/),
    p50Ms: num(/^\s+50%\s+(\d+)/m),
    p99Ms: num(/^\s+99%\s+(\d+)/m),
    maxMs: num(/^\s+100%\s+(\d+)/m),
    cpu: cpuBetween(a, b, wall),
  };
}

/**
 * One side of an A/B measurement without keep-alive: AB_ROUNDS runs of ab, alternated with the
 * other side's by the caller, pooled (all requests over all their seconds), so that a burst of other
 * load on the shared machine weighs on both sides; p50 and p99 are the median of the runs', max the largest.
 */
export function poolAb(runs: readonly AbRun[]): AbRun {
  const { sum, median, seconds, cpu } = pooled(runs);
  return {
    requests: sum((a) => a.requests),
    seconds,
    failed: sum((a) => a.failed),
    non2xx: sum((a) => a.non2xx),
    perSecond: sum((a) => a.requests) / seconds,
    p50Ms: median((a) => a.p50Ms),
    p99Ms: median((a) => a.p99Ms),
    maxMs: Math.max(...runs.map((a) => a.maxMs)),
    cpu,
  };
}
