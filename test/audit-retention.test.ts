/**
 * Audit log retention (issue 14.5): `pki audit export` then `pki audit prune` (the real CLI, in its
 * own process) on both backends: only exported entries are pruned, the checkpoint keeps the
 * retained chain verifiable, and `pki audit verify --export` checks the exported part.
 */
import { deepStrictEqual, equal, match, ok } from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadStoreConfig } from '@evpki/service';
import { openStore, type AuditEntry, type Store } from '@evpki/store';
import { TEST_DIR } from './helpers/fixtures.js';
import { makeDevPki, type DevPki } from './helpers/pki.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

const PKI = join(TEST_DIR, '..', 'services', 'cli', 'bin', 'pki.js');

function pki(dev: DevPki, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PKI|RA|CA|OCSP|REDIS)_/.test(k)));
  return new Promise((resolve) =>
    execFile(process.execPath, [PKI, '--data-dir', dev.dataDir, ...args], { env: { ...clean, ...dev.storeEnv }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
}

const at = (i: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();

function backendSuite(name: string, setup: () => Promise<{ dev: DevPki; teardown: () => Promise<void> }>): void {
  describe(`pki audit export / prune: ${name}`, () => {
    let dev: DevPki;
    let teardown: () => Promise<void>;
    const withStore = async <T>(fn: (s: Store) => Promise<T>): Promise<T> => {
      const s = openStore({ ...loadStoreConfig(dev.storeEnv), dataDir: dev.dataDir });
      try {
        return await fn(s);
      } finally {
        await s.close();
      }
    };
    /** Where the exports go: outside the data directory, as an operator keeps them. */
    let exports: string;
    before(async () => {
      ({ dev, teardown } = await setup());
      exports = mkdtempSync(join(tmpdir(), 'evpki-audit-export-'));
    });
    after(async () => {
      rmSync(exports, { recursive: true, force: true });
      await teardown();
    });

    test('issue 14.5: only exported entries are pruned; the checkpoint keeps the retained chain and the export verifiable', async () => {
      // Entries 1..25, one a second (pki init --dev wrote none).
      const entries: AuditEntry[] = await withStore(async (s) => {
        const out: AuditEntry[] = [];
        for (let i = 1; i <= 25; i++) out.push(...(await s.appendAudit([{ event: 'certificate.issued', actor: 'ca', outcome: 'ok', tenant: i % 2 ? 'demo' : 'other', details: { i } }], at(i))));
        return out;
      });
      equal(entries[0]!.seq, 1);
      const file = (n: string): string => join(exports, `${name}-${n}.jsonl`);

      const noExport = await pki(dev, ['audit', 'prune', '--before', '11']);
      equal(noExport.code, 2);
      match(noExport.stderr, /--export-file FILE is required/);

      const exp = await pki(dev, ['audit', 'export', '--before', '11', '--out', file('a'), '--json']);
      equal(exp.code, 0, exp.stderr);
      const summary = JSON.parse(exp.stdout);
      deepStrictEqual({ entries: summary.entries, firstSeq: summary.firstSeq, lastSeq: summary.lastSeq, lastHash: summary.lastHash }, { entries: 10, firstSeq: 1, lastSeq: 10, lastHash: entries[9]!.hash });
      equal(summary.prune, `pki audit prune --before 11 --export-file ${file('a')}`);
      const lines = readFileSync(file('a'), 'utf8').trimEnd().split('\n');
      deepStrictEqual(lines.map((l) => JSON.parse(l)), entries.slice(0, 10), 'every entry with its hashes');
      equal(statSync(file('a')).mode & 0o777, 0o600);

      // An export that does not cover what is pruned, or does not match the store: nothing pruned.
      equal((await pki(dev, ['audit', 'export', '--before', '6', '--out', file('short')])).code, 0);
      const short = await pki(dev, ['audit', 'prune', '--before', '11', '--export-file', file('short')]);
      equal(short.code, 2, short.stderr);
      match(short.stderr, /does not hold entries 1\.\.10/);
      const changed = lines.map((l, i) => (i === 2 ? l.replace('"i":3', '"i":33') : l)).join('\n') + '\n';
      writeFileSync(file('changed'), changed);
      const bad = await pki(dev, ['audit', 'prune', '--before', '11', '--export-file', file('changed')]);
      equal(bad.code, 1, bad.stderr);
      match(bad.stderr, /not an intact chain \(entry 3 does not match its hash\)/);
      equal(await withStore((s) => s.auditCheckpoint().then((c) => c.seq)), 0, 'nothing pruned');

      const pruned = await pki(dev, ['audit', 'prune', '--before', '11', '--export-file', file('a'), '--json']);
      equal(pruned.code, 0, pruned.stderr);
      deepStrictEqual(JSON.parse(pruned.stdout), { pruned: 10, firstSeq: 1, checkpoint: { seq: 10, hash: entries[9]!.hash } });
      const left = await withStore((s) => s.listAudit({ limit: 1000 }));
      deepStrictEqual(left.slice(0, 15), entries.slice(10), 'entries 11.. are retained');
      equal(left[15]!.event, 'audit.pruned');
      deepStrictEqual(left[15]!.details, { throughSeq: 10, throughHash: entries[9]!.hash, exportFile: `${name}-a.jsonl`, exportSha256: summary.sha256, entries: 10 });
      equal((await pki(dev, ['audit', 'prune', '--before', '11', '--export-file', file('a')])).code, 0, 'again: nothing to do');

      const v = await pki(dev, ['audit', 'verify', '--json', '--export', file('a')]);
      equal(v.code, 0, v.stdout + v.stderr);
      const vj = JSON.parse(v.stdout);
      deepStrictEqual({ ok: vj.ok, verified: vj.verified, checkpoint: vj.checkpoint, exportOk: vj.export.ok }, { ok: true, verified: 16, checkpoint: { seq: 10, hash: entries[9]!.hash }, exportOk: true });
      const vBad = await pki(dev, ['audit', 'verify', '--export', file('changed')]);
      equal(vBad.code, 1);
      match(vBad.stdout, /export BROKEN: .*entry 3 does not match its hash/);
      const vShort = await pki(dev, ['audit', 'verify', '--export', file('short')]);
      equal(vShort.code, 1);
      match(vShort.stdout, /ends at entry 5, before the store's checkpoint 10/);

      // A second round by date: the entries before at(16) (11..15); both exports verify as one chain.
      const exp2 = await pki(dev, ['audit', 'export', '--before', at(16), '--out', file('b'), '--json']);
      equal(exp2.code, 0, exp2.stderr);
      const s2 = JSON.parse(exp2.stdout);
      deepStrictEqual([s2.firstSeq, s2.lastSeq], [11, 15]);
      equal((await pki(dev, ['audit', 'prune', '--before', '16', '--export-file', file('b')])).code, 0);
      const both = await pki(dev, ['audit', 'verify', '--export', file('a'), '--export', file('b')]);
      equal(both.code, 0, both.stdout + both.stderr);
      match(both.stdout, /audit log intact: 12 entries verified, .*\(entries up to 15 pruned; checkpoint [0-9a-f]{64}\)\nexport intact: 15 entries: an intact chain from the genesis hash to entry 15, through the store's checkpoint 15\n/);
      ok(!(await withStore((s) => s.listAudit({ tenant: 'demo', limit: 1000 }))).some((e) => e.seq <= 15), 'the tenant index follows');
    });
  });
}

backendSuite('lmdb', async () => {
  const dev = await makeDevPki();
  return { dev, teardown: async () => dev.cleanup() };
});

let redis: TestRedis | undefined;
backendSuite('redis', async () => {
  redis = await startRedis();
  const dev = await makeDevPki('ecdsa-p256', redis.env);
  return {
    dev,
    teardown: async () => {
      dev.cleanup();
      await redis!.stop();
    },
  };
});
