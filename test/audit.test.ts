/**
 * The hash-chained audit log end to end: entries appended through the store, then tampered with
 * directly in the backend (the raw LMDB environment, a raw Redis client), then `pki audit verify`
 * (the real CLI, in its own process) must exit 1 and name the entry; an intact log exits 0.
 */
import { deepStrictEqual, equal, match, ok } from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { open } from 'lmdb';
import { pack, unpack } from 'msgpackr';
import { loadStoreConfig } from '@evpki/service';
import { AUDIT_GENESIS_HASH, auditEntryHash, openStore, redisKey, type AuditEntry, type AuditEvent, type Store } from '@evpki/store';
import { TEST_DIR } from './helpers/fixtures.js';
import { makeDevPki, type DevPki } from './helpers/pki.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

const REPO = join(TEST_DIR, '..');
const PKI = join(REPO, 'services', 'cli', 'bin', 'pki.js');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The real CLI in its own process, with only the store's environment of ours. */
function pki(dev: DevPki, args: string[]): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PKI|RA|CA|OCSP|REDIS)_/.test(k)));
  return new Promise((resolve) =>
    execFile(process.execPath, [PKI, '--data-dir', dev.dataDir, ...args], { env: { ...clean, ...dev.storeEnv }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
}

/** Direct access to one backend's audit records, behind the store's back. */
interface Tamper {
  /** Empties the audit log (entries, tenant indexes, head). */
  reset(): Promise<void>;
  /** Rewrites entry `seq` (as stored under its seq) with `fn`'s result. */
  rewrite(seq: number, fn: (e: AuditEntry) => AuditEntry): Promise<void>;
  remove(seq: number): Promise<void>;
  /** Entry `a` stored where `b` was and `b` where `a` was. */
  swap(a: number, b: number): Promise<void>;
  /** Removes every entry from `seq` on, leaving the head. */
  truncateFrom(seq: number): Promise<void>;
}

/** LMDB: the environment the store opens (one per process at a time: the store is closed meanwhile). */
function lmdbTamper(dev: DevPki): Tamper {
  const withDb = async (fn: (db: ReturnType<typeof open>) => void): Promise<void> => {
    const db = open({ path: join(dev.dataDir, 'store'), compression: false, maxReaders: 256 });
    try {
      await db.transaction(() => fn(db));
    } finally {
      await db.close();
    }
  };
  const entryKey = (seq: number): (string | number)[] => ['audit', seq];
  return {
    reset: () =>
      withDb((db) => {
        for (const k of [...db.getKeys({ start: ['audit'], end: ['audit', Number.MAX_SAFE_INTEGER] })]) db.removeSync(k);
        for (const k of [...db.getKeys({ start: ['auditt'], end: ['auditt', '\uffff'] })]) db.removeSync(k);
        db.removeSync(['meta', 'audit-head']);
      }),
    rewrite: (seq, fn) => withDb((db) => db.putSync(entryKey(seq), fn(db.get(entryKey(seq)) as AuditEntry))),
    remove: (seq) => withDb((db) => void db.removeSync(entryKey(seq))),
    swap: (a, b) =>
      withDb((db) => {
        const [ea, eb] = [db.get(entryKey(a)), db.get(entryKey(b))];
        db.putSync(entryKey(a), eb);
        db.putSync(entryKey(b), ea);
      }),
    truncateFrom: (seq) =>
      withDb((db) => {
        for (const k of [...db.getKeys({ start: entryKey(seq), end: entryKey(Number.MAX_SAFE_INTEGER) })]) db.removeSync(k);
      }),
  };
}

/** Redis: the sorted set of entries (score: seq) and the head, with a raw client. */
function redisTamper(url: string): Tamper & { close(): void } {
  const raw = new Redis(url);
  const LOG = redisKey('audit');
  const member = async (seq: number): Promise<Buffer> => {
    const [m] = await raw.zrangebyscoreBuffer(LOG, seq, seq);
    ok(m, `entry ${seq} is stored`);
    return m;
  };
  return {
    async reset() {
      const tenants = await raw.keys(`${redisKey('audit-t')}:*`);
      await raw.del(LOG, redisKey('audit-head'), ...tenants);
    },
    async rewrite(seq, fn) {
      const m = await member(seq);
      await raw.multi().zrem(LOG, m).zadd(LOG, seq, pack(fn(unpack(m) as AuditEntry))).exec();
    },
    async remove(seq) {
      await raw.zremrangebyscore(LOG, seq, seq);
    },
    async swap(a, b) {
      const [ma, mb] = [await member(a), await member(b)];
      await raw.multi().zadd(LOG, b, ma).zadd(LOG, a, mb).exec();
    },
    async truncateFrom(seq) {
      await raw.zremrangebyscore(LOG, seq, '+inf');
    },
    close: () => raw.disconnect(),
  };
}

const at = (i: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();

/** Ten entries in three appends: issuances, a rejection with its rules, a revocation, a rotation step, an auth failure. */
async function appendTen(store: Store): Promise<AuditEntry[]> {
  const issued = (i: number): AuditEvent => ({ event: 'certificate.issued', actor: 'ca', outcome: 'ok', tenant: 'demo', details: { serial: `0a${i}`, stationId: `st-${i}` } });
  return [
    ...(await store.appendAudit([issued(1), issued(2), issued(3), { event: 'certificate.rejected', actor: 'ra', outcome: 'refused', tenant: 'demo', rules: ['A00.FR.511'], details: { stationId: 'st-9' } }], at(1))),
    ...(await store.appendAudit([{ event: 'certificate.revoked', actor: 'demo-csms', outcome: 'ok', tenant: 'demo', details: { serial: '0a1', reason: 'keyCompromise' } }, issued(4), issued(5)], at(2))),
    ...(await store.appendAudit(
      [
        { event: 'rotation.root.prepare', actor: 'cli', outcome: 'ok', details: { issuerId: 'root-2' } },
        { event: 'auth.failed', actor: 'ra', outcome: 'failed', details: { reason: 'expired token', remote: '127.0.0.1' } },
        { event: 'certificate.issued', actor: 'ca', outcome: 'ok', tenant: 'other', details: { serial: '0b1' } },
      ],
      at(3),
    )),
  ];
}

function backendSuite(name: string, setup: () => Promise<{ dev: DevPki; tamper: Tamper; teardown: () => Promise<void> }>): void {
  describe(`pki audit verify: ${name}`, () => {
    let dev: DevPki;
    let tamper: Tamper;
    let teardown: () => Promise<void>;
    const openDevStore = (): Store => openStore({ ...loadStoreConfig(dev.storeEnv), dataDir: dev.dataDir });

    before(async () => {
      ({ dev, tamper, teardown } = await setup());
    });
    after(async () => teardown());

    /** A fresh log of ten entries; the store is closed again before any tampering. */
    const freshLog = async (): Promise<AuditEntry[]> => {
      await tamper.reset();
      const store = openDevStore();
      try {
        return await appendTen(store);
      } finally {
        await store.close();
      }
    };

    test('an intact log: exit 0, every entry verified', async () => {
      const entries = await freshLog();
      equal(entries.length, 10);
      const r = await pki(dev, ['audit', 'verify']);
      equal(r.code, 0, r.stderr + r.stdout);
      match(r.stdout, /audit log intact: 10 entries verified, head 10 [0-9a-f]{64}/);
      const j = await pki(dev, ['audit', 'verify', '--json']);
      equal(j.code, 0, j.stderr);
      deepStrictEqual(JSON.parse(j.stdout), { ok: true, verified: 10, head: { seq: 10, hash: entries[9]!.hash }, checkpoint: { seq: 0, hash: AUDIT_GENESIS_HASH } });
    });

    const cases: { name: string; tamper: (t: Tamper, entries: AuditEntry[]) => Promise<void>; seq: number; kind: string; verified: number }[] = [
      {
        name: 'a changed entry (its hash kept)',
        tamper: (t) => t.rewrite(4, (e) => ({ ...e, rules: [] })),
        seq: 4,
        kind: 'changed',
        verified: 3,
      },
      {
        name: 'a changed detail in an entry',
        tamper: (t) => t.rewrite(6, (e) => ({ ...e, details: { ...e.details, serial: '0ff' } })),
        seq: 6,
        kind: 'changed',
        verified: 5,
      },
      {
        name: 'a changed entry re-hashed by whoever changed it (the next entry no longer links to it)',
        tamper: (t) =>
          t.rewrite(5, (e) => {
            const { hash: _h, ...body } = { ...e, outcome: 'failed' as const };
            return { ...body, hash: auditEntryHash(body) };
          }),
        seq: 5,
        kind: 'changed',
        verified: 5,
      },
      { name: 'a removed entry', tamper: (t) => t.remove(5), seq: 5, kind: 'removed', verified: 4 },
      { name: 'the first entry removed', tamper: (t) => t.remove(1), seq: 1, kind: 'removed', verified: 0 },
      { name: 'two swapped entries', tamper: (t) => t.swap(3, 7), seq: 3, kind: 'reordered', verified: 2 },
      { name: 'two neighbours swapped', tamper: (t) => t.swap(8, 9), seq: 8, kind: 'reordered', verified: 7 },
      { name: 'a truncated tail (the head is left)', tamper: (t) => t.truncateFrom(9), seq: 9, kind: 'head-mismatch', verified: 8 },
    ];
    for (const c of cases)
      test(`${c.name}: exit 1, entry ${c.seq} named (${c.kind})`, async () => {
        const entries = await freshLog();
        await c.tamper(tamper, entries);
        const r = await pki(dev, ['audit', 'verify']);
        equal(r.code, 1, r.stderr + r.stdout);
        match(r.stdout, new RegExp(`audit log BROKEN at entry ${c.seq} \\(${c.kind}\\): `));
        const j = await pki(dev, ['audit', 'verify', '--json']);
        equal(j.code, 1, j.stderr);
        const v = JSON.parse(j.stdout);
        deepStrictEqual({ ok: v.ok, verified: v.verified, seq: v.break.seq, kind: v.break.kind }, { ok: false, verified: c.verified, seq: c.seq, kind: c.kind });
      });

    test('pki audit list: all entries or one tenant, in pages', async () => {
      const entries = await freshLog();
      const all = await pki(dev, ['audit', 'list', '--json', '--limit', '1000']);
      equal(all.code, 0, all.stderr);
      deepStrictEqual(JSON.parse(all.stdout), { entries, next: null });
      const demo = entries.filter((e) => e.tenant === 'demo');
      const first = JSON.parse((await pki(dev, ['audit', 'list', '--tenant', 'demo', '--limit', '4', '--json'])).stdout);
      deepStrictEqual(first, { entries: demo.slice(0, 4), next: demo[3]!.seq });
      const rest = JSON.parse((await pki(dev, ['audit', 'list', '--tenant', 'demo', '--after', String(first.next), '--json'])).stdout);
      deepStrictEqual(rest, { entries: demo.slice(4), next: null });
      const text = await pki(dev, ['audit', 'list', '--after', '3', '--limit', '1']);
      equal(text.code, 0, text.stderr);
      equal(text.stdout, `4 ${at(1)} certificate.rejected refused actor=ra tenant=demo rules=A00.FR.511 stationId="st-9"\n`);
      match(text.stderr, /more entries: pki audit list --after 4 --limit 1/);
      const bad = await pki(dev, ['audit', 'list', '--limit', '0']);
      equal(bad.code, 2);
      match(bad.stderr, /--limit must be a whole number 1\.\.1000/);
    });
  });
}

backendSuite('lmdb', async () => {
  const dev = await makeDevPki();
  return { dev, tamper: lmdbTamper(dev), teardown: async () => dev.cleanup() };
});

let redis: TestRedis | undefined;
backendSuite('redis', async () => {
  redis = await startRedis();
  const dev = await makeDevPki('ecdsa-p256', redis.env);
  const tamper = redisTamper(redis.url);
  return {
    dev,
    tamper,
    teardown: async () => {
      tamper.close();
      dev.cleanup();
      await redis!.stop();
    },
  };
});

describe('audit log on LMDB shared by processes', () => {
  test('two processes appending at once form one chain (LMDB write lock), and it verifies', async () => {
    const dev = await makeDevPki();
    try {
      // Each child: 100 appends in flight at once into the PKI's store.
      const child = `
        import { LmdbStore } from '@evpki/store';
        const s = new LmdbStore(process.env.AUDIT_STORE);
        await Promise.all(Array.from({ length: 100 }, (_, i) =>
          s.appendAudit([{ event: 'certificate.issued', actor: 'p' + process.pid, outcome: 'ok', tenant: 'demo', details: { i } }], new Date().toISOString())));
        await s.close();
      `;
      const run = (): Promise<number | null> =>
        new Promise((resolve, reject) => {
          const p = spawn(process.execPath, ['--input-type=module', '-e', child], { cwd: REPO, env: { ...process.env, AUDIT_STORE: join(dev.dataDir, 'store') }, stdio: ['ignore', 'ignore', 'inherit'] });
          p.on('error', reject);
          p.on('exit', (code) => resolve(code));
        });
      deepStrictEqual(await Promise.all([run(), run()]), [0, 0]);
      const r = await pki(dev, ['audit', 'verify', '--json']);
      equal(r.code, 0, r.stdout + r.stderr);
      const v = JSON.parse(r.stdout);
      equal(v.verified, 200);
      const list = JSON.parse((await pki(dev, ['audit', 'list', '--tenant', 'demo', '--limit', '1000', '--json'])).stdout);
      deepStrictEqual(list.entries.map((e: AuditEntry) => e.seq), Array.from({ length: 200 }, (_, i) => i + 1));
      equal(new Set(list.entries.map((e: AuditEntry) => e.actor)).size, 2, 'both processes wrote');
    } finally {
      dev.cleanup();
    }
  });
});
