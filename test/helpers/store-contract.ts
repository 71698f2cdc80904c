/**
 * The store contract's shared part (test/store-contract-*.test.ts): one contract, both backends.
 * storeContract() runs every case of a file unchanged against the embedded LMDB store and against
 * the Redis store on a real redis-server (own port and directory, AOF on); the records the cases
 * write (cert(), response(), withActiveIssuer()) and a way to reach the store from another process.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LmdbStore, RedisStore, type AuditEvent, type CertificateRecord, type OcspResponseRecord, type StationRemoval, type Store } from '@evpki/store';
import { TEST_DIR } from './fixtures.js';
import { startRedis } from './redis.js';
import { storeWrites } from './store-writes.js';

export const redisOptions = (url: string, extra: Partial<ConstructorParameters<typeof RedisStore>[0]> = {}) => ({ url, commandTimeoutMs: 1000, waitReplicas: 0, waitTimeoutMs: 500, ...extra });

let seq = 0;
/** A charge point certificate record of issuer `sub-1`, tenant cpo-a, station st-1; random serial, key and DER; each issued 1 ms after the one before. */
export function cert(over: Partial<CertificateRecord> = {}): CertificateRecord {
  seq++;
  const serial = over.serial ?? randomBytes(16).toString('hex').replace(/^0+/, '');
  return {
    serial,
    issuerId: 'sub-1',
    der: randomBytes(400),
    kind: 'ChargingStationCertificate',
    tenant: 'cpo-a',
    stationId: 'st-1',
    subject: 'CN=SN1,O=CPO A',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2027-01-01T00:00:00.000Z',
    issuedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, seq)).toISOString(),
    spkiSha256: randomBytes(32).toString('hex'),
    sha256Fingerprint: randomBytes(32).toString('hex'),
    status: 'good',
    ...over,
  };
}

/** Issuer `sub-1` of cert(), active: the store records leaves only under the active issuing CA. */
export async function withActiveIssuer<S extends Store>(store: S): Promise<S> {
  await store.putIssuer({ id: 'sub-1', hierarchy: 'csms', role: 'issuing', parentId: 'root-1', certificate: randomBytes(500), state: 'active', createdAt: 'c' });
  return store;
}

/** A pre-signed OCSP response for `c` (random bytes standing in for the DER). */
export function response(c: CertificateRecord, hash: OcspResponseRecord['hash'], nextUpdate = Date.now() + 3_600_000): OcspResponseRecord {
  return { issuerId: c.issuerId, serial: c.serial, hash, certId: randomBytes(60), der: randomBytes(300), thisUpdate: Date.now(), nextUpdate, etag: `"${hash}"` };
}

/**
 * `another`: a second instance on the same backend (for Redis; LMDB allows one environment per path and process).
 * `writes`: how many writes the backend has committed so far (helpers/store-writes.ts).
 * `childEnv`: where another process finds the store (STORE_LMDB: its path; STORE_REDIS: its URL).
 */
/** The CA's entries of a station removal (services/ca revoke.ts). */
export const removedEvents =
  (stationId: string) =>
  ({ deleted, revoked }: StationRemoval): AuditEvent[] => [
    ...(deleted ? [{ event: 'station.removed', actor: 'ra', outcome: 'ok' as const, tenant: 'cpo-a', details: { stationId, revoked: revoked.length } }] : []),
    ...revoked.map((r) => ({ event: 'certificate.revoked', actor: 'ra', outcome: 'ok' as const, tenant: 'cpo-a', details: { serialNumber: r.serial, stationId, reason: r.revocationReason!, changed: true } })),
  ];

export type Opened = { store: Store; another?: () => Store; writes: () => Promise<number>; childEnv: Record<string, string>; close(): Promise<void> };

/** A behaviour of the contract, run on a backend's store (`opened`: the rest of what the backend offers). */
export type ContractCase = (store: Store, opened: Opened) => Promise<void>;

const BACKENDS: readonly { readonly name: string; open(): Promise<Opened> }[] = [
  {
    name: 'lmdb',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'evpki-store-'));
      const store = new LmdbStore(join(dir, 'store'));
      return { store, writes: () => storeWrites({ lmdbPath: join(dir, 'store') }), childEnv: { STORE_LMDB: join(dir, 'store') }, close: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) };
    },
  },
  {
    name: 'redis',
    async open() {
      const redis = await startRedis();
      const store = new RedisStore(redisOptions(redis.url));
      return { store, another: () => new RedisStore(redisOptions(redis.url)), writes: () => storeWrites({ redisUrl: redis.url }), childEnv: { STORE_REDIS: redis.url }, close: async () => (await store.close(), await redis.stop()) };
    },
  },
];

/**
 * One describe per backend, one test per case. The cases of a file run in order on one fresh store
 * per backend, each on what the ones before it left (after `setup`, when given).
 */
export function storeContract(concern: string, cases: Readonly<Record<string, ContractCase>>, setup?: (store: Store) => Promise<unknown>): void {
  for (const backend of BACKENDS)
    describe(`store contract (${concern}): ${backend.name}`, () => {
      let opened: Opened;
      before(async () => {
        opened = await backend.open();
        await setup?.(opened.store);
      });
      after(async () => opened.close());
      for (const [name, run] of Object.entries(cases)) test(name, () => run(opened.store, opened));
    });
}

/** Runs an ES module in another process with `s`, its own instance of the store; resolves with its stdout. */
export function inStoreProcess(env: Record<string, string>, body: string): Promise<string> {
  const code = `
    import { LmdbStore, RedisStore } from '@evpki/store';
    const s = process.env.STORE_LMDB ? new LmdbStore(process.env.STORE_LMDB) : new RedisStore({ url: process.env.STORE_REDIS, commandTimeoutMs: 5000, waitReplicas: 0, waitTimeoutMs: 500 });
    ${body}
    await s.close();`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: TEST_DIR, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.on('error', reject);
    p.on('exit', (c) => (c === 0 ? resolve(out) : reject(new Error(`store process exited with ${c}`))));
  });
}
