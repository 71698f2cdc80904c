import { mintToken } from '@evpki/cli';
import { RedisStore } from '@evpki/store';
import { makeDevPki, type DevPki } from './pki.js';
import { freePort, spawnService, stopAll, stopProc, waitReady, type Proc } from './processes.js';
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
  readonly store: RedisStore;
  token(): Promise<string>;
  /** SIGKILL, as a crash. */
  kill(i: Instance): Promise<void>;
  /** Starts the instance again on its port and waits until it is ready. */
  restart(i: Instance): Promise<void>;
  stop(): Promise<void>;
}

export async function startCluster(opts: { ras?: number; ocsps?: number; env?: Record<string, string> } = {}): Promise<Cluster> {
  const redis = await startRedis();
  const procs: Proc[] = [];
  let pki: DevPki | undefined;
  let store: RedisStore | undefined;
  try {
    pki = await makeDevPki('ecdsa-p256', redis.env);
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
    const ca = make('ca', 'ca', caOpsPort, { ...base, CA_PORT: String(caPort), CA_OPS_PORT: String(caOpsPort) });
    await launch(ca);
    const ocsps: Instance[] = [];
    for (let n = 0; n < (opts.ocsps ?? 2); n++) {
      const port = await freePort();
      ocsps.push(make('ocsp', `ocsp-${n}`, port, { ...base, OCSP_PORT: String(port), OCSP_CA_URL: caUrl }));
    }
    const ras: Instance[] = [];
    for (let n = 0; n < (opts.ras ?? 2); n++) {
      const port = await freePort();
      ras.push(make('ra', `ra-${n}`, port, { ...base, RA_PORT: String(port), RA_CA_URL: caUrl, RA_OCSP_URL: ocsps[n % ocsps.length]?.url ?? 'http://127.0.0.1:1' }));
    }
    await Promise.all([...ocsps, ...ras].map(launch));
    store = new RedisStore({ url: redis.url, commandTimeoutMs: 2000, waitReplicas: 0, waitTimeoutMs: 1000 });
    const own = { pki, store };
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
