import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mintToken } from '@evpki/cli';
import { RedisStore } from '@evpki/store';
import { makeDevPki, type DevPki } from './pki.js';
import { freePort, runPki, spawnService, stopAll, stopProc, tempDir, waitReady, type Proc } from './processes.js';
import { startRedis, type TestRedis } from './redis.js';

/** A service process with its URL (the CA: its ops listener); restartable on the same port. */
export interface Instance {
  readonly name: string;
  readonly url: string;
  proc: Proc;
}

/**
 * Real processes sharing one real Redis: one CA, `ras` RAs and `ocsps` OCSP responders, as an
 * operator runs them behind load balancers. The test holds its own RedisStore for checks.
 */
export interface Cluster {
  readonly redis: TestRedis;
  readonly pki: DevPki;
  readonly ca: Instance;
  readonly ras: readonly Instance[];
  readonly ocsps: readonly Instance[];
  /** The test's own store (with `acl`: as pki-cli). */
  readonly store: RedisStore;
  /** With `acl`: the password files of the ACL users (`pki redis-acl --password-dir`), by user name. */
  readonly redisPasswordDir?: string;
  token(): Promise<string>;
  /** SIGKILL, as a crash. */
  kill(i: Instance): Promise<void>;
  /** Starts the instance again on its port and waits until it is ready. */
  restart(i: Instance): Promise<void>;
  stop(): Promise<void>;
}

/** The ACL users of `pki redis-acl` and a Redis started with them; each service then connects as its own user. */
async function startAclRedis(): Promise<{ redis: TestRedis; passwordDir: string; as: (user: string) => Record<string, string> }> {
  const dir = tempDir('evpki-redis-acl-');
  const passwordDir = join(dir, 'passwords');
  const aclfile = join(dir, 'users.acl');
  const r = await runPki(['redis-acl', '--password-dir', passwordDir, '--out', aclfile, '--quiet']);
  if (r.code !== 0) throw new Error(`pki redis-acl failed: ${r.stderr}`);
  const password = (user: string) => readFileSync(join(passwordDir, user), 'utf8').trim();
  const redis = await startRedis({ aclfile, probe: { password: password('default') } });
  return { redis, passwordDir, as: (user) => ({ REDIS_USERNAME: user, REDIS_PASSWORD_FILE: join(passwordDir, user) }) };
}

/** `acl`: Redis with the ACL users of `pki redis-acl`, the services and pki as theirs (issue 15). */
export async function startCluster(opts: { ras?: number; ocsps?: number; env?: Record<string, string>; acl?: boolean } = {}): Promise<Cluster> {
  const acl = opts.acl ? await startAclRedis() : undefined;
  const redis = acl?.redis ?? (await startRedis());
  const as = (user: string): Record<string, string> => acl?.as(user) ?? {};
  const procs: Proc[] = [];
  let pki: DevPki | undefined;
  let store: RedisStore | undefined;
  try {
    pki = await makeDevPki('ecdsa-p256', { ...redis.env, ...as('pki-cli') });
    const base = { PKI_DATA_DIR: pki.dataDir, ...redis.env, REDIS_COMMAND_TIMEOUT_MS: '1000', ...opts.env };
    const caPort = await freePort();
    const caOpsPort = await freePort();
    // The API (mutual TLS with the service certificates `pki init` wrote); readiness on the ops port.
    const caUrl = `https://127.0.0.1:${caPort}`;
    // How each instance is (re)started: its service and environment.
    const launchers = new Map<Instance, () => Proc>();
    const launch = async (i: Instance): Promise<void> => {
      i.proc = launchers.get(i)!();
      procs.push(i.proc);
      await waitReady(i.proc, `${i.url}/readyz`, 30_000);
    };
    const make = (service: 'ca' | 'ra' | 'ocsp', name: string, port: number, env: Record<string, string>): Instance => {
      const i: Instance = { name, url: `http://127.0.0.1:${port}`, proc: undefined as unknown as Proc };
      launchers.set(i, () => spawnService(name, service, env));
      return i;
    };
    const ca = make('ca', 'ca', caOpsPort, { ...base, ...as('pki-ca'), CA_PORT: String(caPort), CA_OPS_PORT: String(caOpsPort) });
    await launch(ca);
    const ocsps: Instance[] = [];
    for (let n = 0; n < (opts.ocsps ?? 2); n++) {
      const port = await freePort();
      ocsps.push(make('ocsp', `ocsp-${n}`, port, { ...base, ...as('pki-ocsp'), OCSP_PORT: String(port), OCSP_CA_URL: caUrl }));
    }
    const ras: Instance[] = [];
    for (let n = 0; n < (opts.ras ?? 2); n++) {
      const port = await freePort();
      ras.push(make('ra', `ra-${n}`, port, { ...base, ...as('pki-ra'), RA_PORT: String(port), RA_CA_URL: caUrl, RA_OCSP_URL: ocsps[n % ocsps.length]?.url ?? 'http://127.0.0.1:1' }));
    }
    await Promise.all([...ocsps, ...ras].map(launch));
    const cli = acl ? { username: 'pki-cli', password: readFileSync(join(acl.passwordDir, 'pki-cli'), 'utf8').trim() } : {};
    store = new RedisStore({ url: redis.url, ...cli, commandTimeoutMs: 2000, waitReplicas: 0, waitTimeoutMs: 1000 });
    const own = { pki, store, ...(acl ? { redisPasswordDir: acl.passwordDir } : {}) };
    return {
      redis,
      ...own,
      ca,
      ras,
      ocsps,
      token: () => mintToken({ dataDir: own.pki.dataDir, tenant: 'demo', ttlSeconds: 3600 }),
      async kill(i) {
        i.proc.child.kill('SIGKILL');
        await new Promise<void>((r) => (i.proc.child.exitCode !== null || i.proc.child.signalCode !== null ? r() : i.proc.child.once('exit', () => r())));
      },
      restart: launch,
      async stop() {
        await stopAll(procs);
        await own.store.close();
        await redis.stop();
        own.pki.cleanup();
      },
    };
  } catch (e) {
    for (const p of procs) await stopProc(p).catch(() => undefined);
    await store?.close();
    await redis.stop();
    pki?.cleanup();
    throw e;
  }
}
