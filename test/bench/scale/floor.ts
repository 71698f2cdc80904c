/**
 * The floor at the big size: a bare node:http server (test/bench/http-floor-server.ts scale-floor)
 * under the same open loop, answering from memory, then with one Redis GET per request. Its p99
 * ratio is the least any responder pays at the big size when its answers live in Redis (RSS flat)
 * rather than in memory, on this machine: a target below it cannot be met by the responder's code.
 */
import { FLOOR_SERVER, f0, f2, log, serviceEnv, spawnNode, stopProc, waitListening } from '../bench-kit.js';
import { draws, type RequestParts } from './answers.js';
import { CONNECTIONS, CONTROL_S, RATE } from './config.js';
import { openLoop, type OpenLoopRun } from './open-loop.js';
import { medianRound } from './measure.js';
import { RawHttpPool } from './raw-http.js';
import { k } from './redis.js';
import type { ScaleRun } from './run.js';
import type { ScaleBench } from './setup.js';

export interface FloorRun {
  /** The round with the median p99 (measure.ts medianRound). */
  readonly run: OpenLoopRun;
  readonly p99Rounds: readonly number[];
  /** The floor server's CPU time (all threads) per request. */
  readonly serverUsPerRequest: number;
}

export interface Floor {
  readonly memory: FloorRun;
  readonly redis: FloorRun;
}

export async function measureFloor({ procs, problems }: ScaleRun, { redisUrl, issuer, pop, pids }: ScaleBench, rp: RequestParts, population: number): Promise<Floor> {
  const measure = async (from: 'memory' | 'redis'): Promise<FloorRun> => {
    const proc = spawnNode(`scale floor (${from})`, [FLOOR_SERVER, 'scale-floor', from, redisUrl, k('o', issuer.id, ''), pop.hex(0)], serviceEnv({}));
    procs.push(proc);
    const port = await waitListening(proc);
    try {
      return await medianRound(async (round) => {
        const pool = await RawHttpPool.open(port, CONNECTIONS);
        const idx = draws(Math.round(RATE * (2 + CONTROL_S)), population);
        try {
          const run = await openLoop(
            (i, done) => pool.request(Buffer.concat([rp.http, pop.serial(idx[i]!)]), (error, status, body) => done(error ?? (status === 200 && body.length > 0 ? undefined : `HTTP ${status}`))),
            RATE,
            2,
            CONTROL_S,
            { responder: proc.child.pid!, redis: pids.redis },
          );
          if (run.errors) problems.push(`floor (${from}): ${run.errors} errors (first: ${run.firstError})`);
          const r = { run, serverUsPerRequest: (run.cpu.responderCores * 1e6) / run.perSecond };
          log(`floor, ${from === 'memory' ? 'from memory' : 'one Redis GET per request'}, round ${round + 1}: p50 ${f2(run.latencyMs.p50)} ms, p99 ${f2(run.latencyMs.p99)} ms, server ${f0(r.serverUsPerRequest)} µs CPU/request`);
          return r;
        } finally {
          pool.close();
        }
      });
    } finally {
      await stopProc(proc, 5_000);
    }
  };
  return { memory: await measure('memory'), redis: await measure('redis') };
}
