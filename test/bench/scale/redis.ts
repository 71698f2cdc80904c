/** Redis: a server of the bench's own (killed by cleanup() on any exit), INFO parsing, the store's keys. */
import { Redis } from 'ioredis';
import { redisKey } from '@evpki/store';
import { freePort, sleep, spawnProc, type Proc } from '../bench-kit.js';
import { REDIS_ARGS } from './config.js';

export async function startRedis(dir: string): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = spawnProc('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...REDIS_ARGS], process.env);
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    for (let i = 0; i < 400; i++) {
      if (proc.child.exitCode !== null) throw new Error(`redis-server exited:\n${proc.output()}`);
      try {
        if (probe.status !== 'ready') await probe.connect();
        await probe.ping();
        return { proc, url: `redis://127.0.0.1:${port}` };
      } catch {
        await sleep(25);
      }
    }
  } finally {
    probe.disconnect();
  }
  throw new Error(`redis-server did not start:\n${proc.output()}`);
}

export async function info(r: Redis, section: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of (await r.info(section)).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** calls and usec per command from INFO commandstats. */
export async function commandStats(r: Redis): Promise<Record<string, { calls: number; usec: number }>> {
  const out: Record<string, { calls: number; usec: number }> = {};
  for (const [k, v] of Object.entries(await info(r, 'commandstats'))) {
    const calls = /calls=(\d+)/.exec(v);
    const usec = /usec=(\d+)/.exec(v);
    if (calls && usec) out[k.replace(/^cmdstat_/, '')] = { calls: Number(calls[1]), usec: Number(usec[1]) };
  }
  return out;
}

/** Waits until no AOF rewrite is running or scheduled (a rewrite forks and copies the dataset). */
export async function waitAofIdle(r: Redis): Promise<number> {
  const t = performance.now();
  for (;;) {
    const p = await info(r, 'persistence');
    if (p.aof_rewrite_in_progress === '0' && p.aof_rewrite_scheduled === '0') return (performance.now() - t) / 1000;
    if (performance.now() - t > 600_000) throw new Error('an AOF rewrite has been running for 10 minutes');
    await sleep(500);
  }
}

export const k = redisKey;
export const OCSP_DUE = k('ocspdue');
