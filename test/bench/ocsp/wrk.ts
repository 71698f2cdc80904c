/** wrk: Lua scripts with pre-built raw HTTP requests, rotated per request; results from done(). */
import { writeFileSync } from 'node:fs';
import { spawnProc } from '../bench-kit.js';
import { CONC, NONCE_BYTES } from './config.js';
import { cpuBetween, snap, type CpuUse } from './cpu.js';
import { pooled } from './pool.js';
import { luaString } from './shared.js';

const LUA_DONE = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"max_us":%.0f,"mean_us":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
`;

/** A wrk script that sends the given raw requests in turn (one Lua state per wrk thread). */
export function rotationScript(file: string, raw: readonly Buffer[]): string {
  writeFileSync(
    file,
    `local reqs = {\n${raw.map(luaString).join(',\n')}\n}\nlocal n = #reqs\nlocal i = 0\n` +
      `function request()\n  i = i + 1\n  if i > n then i = 1 end\n  return reqs[i]\nend\n` +
      LUA_DONE,
  );
  return file;
}

/**
 * A wrk script for nonce requests: each pre-built request ends with its nonce's bytes (the nonce
 * is the last element of the DER), so every request gets NONCE_BYTES fresh random bytes there.
 */
export function nonceScript(file: string, heads: readonly Buffer[]): string {
  const rnd = Array.from({ length: NONCE_BYTES }, () => 'rnd(0, 255)').join(', ');
  writeFileSync(
    file,
    `local heads = {\n${heads.map(luaString).join(',\n')}\n}\nlocal n = #heads\nlocal i = 0\n` +
      `local char, rnd = string.char, math.random\nmath.randomseed(os.time())\n` +
      `function request()\n  i = i + 1\n  if i > n then i = 1 end\n  return heads[i] .. char(${rnd})\nend\n` +
      LUA_DONE,
  );
  return file;
}

export interface WrkRun {
  readonly requests: number;
  readonly seconds: number;
  readonly bytes: number;
  readonly socketErrors: { connect: number; read: number; write: number; timeout: number };
  readonly non2xx: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
  readonly cpu: CpuUse;
}

export async function runWrk(url: string, script: string, seconds: number, serverPid: number): Promise<WrkRun> {
  const a = snap(serverPid);
  const t0 = performance.now();
  const p = spawnProc('wrk', 'wrk', ['-t1', `-c${CONC}`, `-d${seconds}s`, '--timeout', '5s', '--latency', '-s', script, url], process.env);
  const code = await new Promise<number | null>((r) => p.child.once('exit', (c) => r(c)));
  const wall = (performance.now() - t0) / 1000;
  const b = snap(serverPid);
  const m = /WRKJSON (\{.*\})/.exec(p.output());
  if (code !== 0 || !m) throw new Error(`wrk failed (exit ${code}):\n${p.output()}`);
  const j = JSON.parse(m[1]!) as Record<string, number>;
  const n = (k: string): number => j[k] ?? NaN;
  return {
    requests: n('requests'),
    seconds: n('duration_us') / 1e6,
    bytes: n('bytes'),
    socketErrors: { connect: n('connect'), read: n('read'), write: n('write'), timeout: n('timeout') },
    non2xx: n('status'),
    p50Ms: n('p50_us') / 1000,
    p90Ms: n('p90_us') / 1000,
    p99Ms: n('p99_us') / 1000,
    maxMs: n('max_us') / 1000,
    meanMs: n('mean_us') / 1000,
    cpu: cpuBetween(a, b, wall),
  };
}

/**
 * One side of a keep-alive A/B: KA_ROUNDS runs of wrk, alternated with the other side's by the
 * caller, pooled as ab's are (ab.ts poolAb): all requests over all their seconds; p50, p90, p99 and
 * the mean the median of the runs', max the largest.
 */
export function poolWrk(runs: readonly WrkRun[]): WrkRun {
  const { sum, median, seconds, cpu } = pooled(runs);
  return {
    requests: sum((w) => w.requests),
    seconds,
    bytes: sum((w) => w.bytes),
    socketErrors: {
      connect: sum((w) => w.socketErrors.connect),
      read: sum((w) => w.socketErrors.read),
      write: sum((w) => w.socketErrors.write),
      timeout: sum((w) => w.socketErrors.timeout),
    },
    non2xx: sum((w) => w.non2xx),
    p50Ms: median((w) => w.p50Ms),
    p90Ms: median((w) => w.p90Ms),
    p99Ms: median((w) => w.p99Ms),
    maxMs: Math.max(...runs.map((w) => w.maxMs)),
    meanMs: median((w) => w.meanMs),
    cpu,
  };
}
