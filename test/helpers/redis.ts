import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort } from './processes.js';

/** A real redis-server of the test's own: a free port, its own directory, AOF on. */
export interface TestRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** The environment that points services at it. */
  readonly env: Record<string, string>;
  /** SIGKILL (no shutdown save), as a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (the AOF is replayed). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `aclfile`: Redis starts with these users (`pki redis-acl`); `probe`: who the readiness probe
 * authenticates as (the file's `default` user may only PING). `rdb`: an RDB snapshot (dump.rdb) it
 * starts with (loaded with AOF off, which is then turned on).
 */
export async function startRedis(opts: { appendonly?: boolean; aclfile?: string; probe?: { username?: string; password: string }; rdb?: string } = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'evpki-redis-'));
  const port = await freePort();
  if (opts.rdb) copyFileSync(opts.rdb, join(dir, 'dump.rdb'));
  const appendonly = opts.appendonly === false ? 'no' : 'yes';
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    // With AOF on at start, Redis would start from the (absent) AOF and not read the snapshot.
    '--appendonly', opts.rdb ? 'no' : appendonly,
    '--appendfsync', 'always',
    '--daemonize', 'no',
    '--loglevel', 'warning',
    ...(opts.aclfile ? ['--aclfile', opts.aclfile] : []),
  ];
  let proc: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const p = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc = p;
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false, ...opts.probe });
    probe.on('error', () => undefined);
    for (let i = 0; i < 200; i++) {
      if (p.exitCode !== null) throw new Error(`redis-server exited: ${stderr}`);
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        await sleep(25);
      }
    }
    probe.disconnect();
    p.kill('SIGKILL');
    throw new Error(`redis-server did not start: ${stderr}`);
  };
  const exited = (p: ChildProcess): Promise<void> => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', () => r())));
  await launch();
  const url = `redis://127.0.0.1:${port}`;
  if (opts.rdb && appendonly === 'yes') {
    const r = new Redis(url);
    await r.config('SET', 'appendonly', 'yes');
    // The AOF is written from the data set in the background: wait for it before anyone relies on it.
    while (/aof_rewrite_in_progress:1|aof_rewrite_scheduled:1/.test(await r.info('persistence'))) await sleep(25);
    r.disconnect();
    args[args.indexOf('--appendonly') + 1] = 'yes';
  }
  return {
    url,
    port,
    dir,
    env: { REDIS_URL: url },
    async kill() {
      if (!proc) return;
      const p = proc;
      proc = undefined;
      p.kill('SIGKILL');
      await exited(p);
    },
    async restart() {
      await launch();
    },
    async stop() {
      if (proc) {
        const p = proc;
        proc = undefined;
        p.kill('SIGTERM');
        await exited(p);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
