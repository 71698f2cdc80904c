/** wrk: saturation throughput, a random certificate of the whole population per request. */
import { writeFileSync } from 'node:fs';
import { spawnProc } from '../bench-kit.js';
import { delta, luaString } from '../ocsp/shared.js';
import type { RequestParts } from './answers.js';
import { SERIAL_BYTES, WRK_CONC } from './config.js';
import { cpuBetween, cpuSnap, type CpuUse } from './cpu.js';
import { responderOutcomes } from './metrics.js';

/**
 * A wrk script whose every request names a serial drawn at random from `serialsFile` (16 bytes
 * each): the request is a fixed prefix (HTTP head and the DER up to the serial) and the serial,
 * which is the last element of a one-CertID OCSPRequest.
 */
export function wrkScript(file: string, serialsFile: string, parts: RequestParts): string {
  const head = parts.http;
  writeFileSync(
    file,
    `local f = assert(io.open(${luaString(Buffer.from(serialsFile))}, "rb"))\nlocal all = f:read("*a")\nf:close()\n` +
      `local n = #all / ${SERIAL_BYTES}\nlocal head = ${luaString(head)}\n` +
      `math.randomseed(os.time())\nlocal rnd, sub = math.random, string.sub\n` +
      `function request()\n  local i = rnd(0, n - 1) * ${SERIAL_BYTES}\n  return head .. sub(all, i + 1, i + ${SERIAL_BYTES})\nend\n` +
      `function done(summary, latency, requests)\n  local e = summary.errors\n` +
      `  io.write(string.format('WRKJSON {"requests":%.0f,"duration_us":%.0f,"errors":%.0f,"status":%.0f,"p50_us":%.0f,"p99_us":%.0f}\\n',\n` +
      `    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(50), latency:percentile(99)))\nend\n`,
  );
  return file;
}

export interface WrkRun {
  readonly perSecond: number;
  readonly requests: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpu: CpuUse;
  readonly outcomes: Record<string, number>;
}

export async function runWrk(url: string, script: string, seconds: number, pids: { responder: number; redis: number }): Promise<WrkRun> {
  const o0 = await responderOutcomes(url);
  const a = cpuSnap(pids.responder, pids.redis);
  const t0 = performance.now();
  const p = spawnProc('wrk', 'wrk', ['-t1', `-c${WRK_CONC}`, `-d${seconds}s`, '--timeout', '5s', '-s', script, url], process.env);
  const code = await new Promise<number | null>((r) => p.child.once('exit', (c) => r(c)));
  const cpu = cpuBetween(a, cpuSnap(pids.responder, pids.redis), (performance.now() - t0) / 1000);
  const m = /WRKJSON (\{.*\})/.exec(p.output());
  if (code !== 0 || !m) throw new Error(`wrk failed (exit ${code}):\n${p.output()}`);
  const j = JSON.parse(m[1]!) as Record<string, number>;
  return {
    perSecond: j.requests! / (j.duration_us! / 1e6),
    requests: j.requests!,
    errors: j.errors! + j.status!,
    p50Ms: j.p50_us! / 1000,
    p99Ms: j.p99_us! / 1000,
    cpu,
    outcomes: delta(o0, await responderOutcomes(url)),
  };
}
