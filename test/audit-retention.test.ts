/**
 * Audit log retention (issue 14.5): `pki audit export` then `pki audit prune` (the real CLI, in its
 * own process) on both backends: only exported entries are pruned, the checkpoint keeps the
 * retained chain verifiable, and `pki audit verify --export` checks the exported part.
 */
import { deepStrictEqual, equal, match, ok } from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadStoreConfig } from '@evpki/service';
import { openStore, type AuditEntry, type Store } from '@evpki/store';
import { TEST_DIR } from './helpers/fixtures.js';
import { makeDevPki, type DevPki } from './helpers/pki.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

const PKI = join(TEST_DIR, '..', 'services', 'cli', 'bin', 'pki.js');

function pki(dev: DevPki, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PKI|RA|CA|OCSP|REDIS)_/.test(k)));
  return new Promise((resolve) =>
    execFile(process.execPath, [PKI, '--data-dir', dev.dataDir, ...args], { env: { ...clean, ...dev.storeEnv, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
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

const DAY = 86_400_000;
/** `days` ago (plus `i` seconds): entries as old as that, written through the store API. */
const ago = (days: number, i = 0): string => new Date(Date.now() - days * DAY + i * 1000).toISOString();
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

function retainSuite(name: string, setup: () => Promise<{ dev: DevPki; teardown: () => Promise<void> }>): void {
  describe(`pki audit retain: ${name}`, () => {
    let dev: DevPki;
    let teardown: () => Promise<void>;
    let exports: string;
    const withStore = async <T>(fn: (s: Store) => Promise<T>): Promise<T> => {
      const s = openStore({ ...loadStoreConfig(dev.storeEnv), dataDir: dev.dataDir });
      try {
        return await fn(s);
      } finally {
        await s.close();
      }
    };
    before(async () => {
      ({ dev, teardown } = await setup());
      exports = mkdtempSync(join(tmpdir(), 'evpki-audit-retain-'));
    });
    after(async () => {
      rmSync(exports, { recursive: true, force: true });
      await teardown();
    });

    test('issue 14.5: pki audit retain exports what is older than --keep into DIR/audit-<first>-<last>.jsonl and prunes it; re-runs, interrupted runs and two runs at once are safe', async () => {
      // Entries in groups by age, each one retention setting's cut: 500, 300, 200 and 150 days old, then recent ones.
      const groups: [number, number][] = [[500, 6], [300, 4], [200, 4], [150, 6], [0.1, 3]];
      const entries: AuditEntry[] = await withStore(async (s) => {
        const out: AuditEntry[] = [];
        for (const [days, n] of groups)
          for (let i = 0; i < n; i++) out.push(...(await s.appendAudit([{ event: 'certificate.issued', actor: 'ca', outcome: 'ok', tenant: i % 2 ? 'demo' : 'other', details: { days, i } }], ago(days, i))));
        return out;
      });
      deepStrictEqual(entries.map((e) => e.seq), Array.from({ length: 23 }, (_, i) => i + 1));
      const dir = join(exports, 'audit');
      const file = (a: number, b: number): string => join(dir, `audit-${a}-${b}.jsonl`);
      const retain = async (keep: string, ...more: string[]) => pki(dev, ['audit', 'retain', '--keep', keep, '--export-dir', dir, '--json', ...more]);
      const checkpoint = (): Promise<{ seq: number; hash: string }> => withStore((s) => s.auditCheckpoint());
      const head = (): Promise<number> => withStore((s) => s.auditHead().then((h) => h.seq));

      // --dry-run: the plan, nothing written (not even the directory), nothing pruned.
      const dry = await retain('400d', '--dry-run');
      equal(dry.code, 0, dry.stderr);
      deepStrictEqual(JSON.parse(dry.stdout).files, [{ file: file(1, 6), firstSeq: 1, lastSeq: 6, entries: 6, reused: false }]);
      ok(!existsSync(dir), 'a dry run writes nothing');
      equal((await checkpoint()).seq, 0);
      equal(await head(), 23, 'and appends nothing');

      // A file of that name with other content is never replaced, and nothing is pruned.
      mkdirSync(dir, { mode: 0o700 });
      writeFileSync(file(1, 6), JSON.stringify(entries[0]) + '\n', { mode: 0o600 });
      const clash = await retain('400d');
      equal(clash.code, 1, clash.stderr);
      match(clash.stderr, /audit-1-6\.jsonl exists and does not hold the entries it names/);
      equal(readFileSync(file(1, 6), 'utf8'), JSON.stringify(entries[0]) + '\n', 'left as it was');
      equal((await checkpoint()).seq, 0, 'nothing pruned');
      rmSync(file(1, 6));

      // The retention: entries older than 400 days (1..6) exported whole, 0600, and pruned.
      const first = await retain('400d');
      equal(first.code, 0, first.stderr);
      const r1 = JSON.parse(first.stdout);
      deepStrictEqual(r1.files, [{ file: file(1, 6), firstSeq: 1, lastSeq: 6, entries: 6, sha256: sha256(file(1, 6)), reused: false, pruned: 6 }]);
      deepStrictEqual({ keep: r1.keep, dryRun: r1.dryRun, checkpoint: r1.checkpoint }, { keep: '400d', dryRun: false, checkpoint: { seq: 6, hash: entries[5]!.hash } });
      deepStrictEqual(readFileSync(file(1, 6), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l)), entries.slice(0, 6), 'every entry with its hashes');
      equal(statSync(file(1, 6)).mode & 0o777, 0o600);
      deepStrictEqual(await checkpoint(), { seq: 6, hash: entries[5]!.hash });
      const pruned = (await withStore((s) => s.listAudit({ afterSeq: 23, limit: 10 }))).map((e) => ({ event: e.event, details: e.details }));
      deepStrictEqual(pruned, [{ event: 'audit.pruned', details: { throughSeq: 6, throughHash: entries[5]!.hash, exportFile: 'audit-1-6.jsonl', exportSha256: sha256(file(1, 6)), entries: 6 } }]);
      const v1 = await pki(dev, ['audit', 'verify', '--export', file(1, 6)]);
      equal(v1.code, 0, v1.stdout + v1.stderr);

      // Again: nothing to do, nothing written or appended.
      const again = await pki(dev, ['audit', 'retain', '--keep', '400d', '--export-dir', dir]);
      equal(again.code, 0, again.stderr);
      match(again.stdout, /^nothing to do: no retained entry older than 400d \(before \d{4}-.*\); checkpoint 6\n$/);
      equal(await head(), 24);
      deepStrictEqual(readdirSync(dir), ['audit-1-6.jsonl']);

      // Stopped between export and prune (the export of the same range is there): the file is reused as it is.
      equal((await pki(dev, ['audit', 'export', '--before', '11', '--out', file(7, 10)])).code, 0);
      const exported = readFileSync(file(7, 10), 'utf8');
      const resumed = await retain('250d');
      equal(resumed.code, 0, resumed.stderr);
      deepStrictEqual(JSON.parse(resumed.stdout).files, [{ file: file(7, 10), firstSeq: 7, lastSeq: 10, entries: 4, sha256: sha256(file(7, 10)), reused: true, pruned: 4 }]);
      equal(readFileSync(file(7, 10), 'utf8'), exported);
      deepStrictEqual(await checkpoint(), { seq: 10, hash: entries[9]!.hash });

      // Stopped after exporting a shorter range (11..12; 11..14 are due now): pruned with that file first, then the rest.
      equal((await pki(dev, ['audit', 'export', '--before', '13', '--out', file(11, 12)])).code, 0);
      const rest = await retain('180d');
      equal(rest.code, 0, rest.stderr);
      deepStrictEqual(
        JSON.parse(rest.stdout).files.map((f: { file: string; firstSeq: number; lastSeq: number; reused: boolean; pruned: number }) => [f.file, f.firstSeq, f.lastSeq, f.reused, f.pruned]),
        [
          [file(11, 12), 11, 12, true, 2],
          [file(13, 14), 13, 14, false, 2],
        ],
      );
      deepStrictEqual(await checkpoint(), { seq: 14, hash: entries[13]!.hash });

      // Two runs at once: the store's prune is a compare-and-set, so entries 15..20 are exported into one file and deleted once.
      const both = await Promise.all([retain('120d'), retain('120d')]);
      for (const b of both) equal(b.code, 0, b.stderr);
      // However they interleave: the later one finds nothing to do, reuses the file, or finds the entries pruned by the other.
      const results = both.flatMap((b) => JSON.parse(b.stdout).files as { file: string; firstSeq: number; lastSeq: number; sha256: string; pruned: number }[]);
      for (const f of results) deepStrictEqual([f.file, f.firstSeq, f.lastSeq, f.sha256], [file(15, 20), 15, 20, sha256(file(15, 20))]);
      deepStrictEqual(results.filter((f) => f.pruned > 0).map((f) => f.pruned), [6], 'exactly one run pruned them');
      const records = (await withStore((s) => s.listAudit({ afterSeq: 23, limit: 100 }))).filter((e) => e.details?.throughSeq === 20);
      ok(records.length >= 1 && records.every((e) => e.details?.exportFile === 'audit-15-20.jsonl' && e.details.exportSha256 === sha256(file(15, 20))), 'each pruning run recorded the same file');
      deepStrictEqual(await checkpoint(), { seq: 20, hash: entries[19]!.hash });
      deepStrictEqual(readdirSync(dir).sort(), ['audit-1-6.jsonl', 'audit-11-12.jsonl', 'audit-13-14.jsonl', 'audit-15-20.jsonl', 'audit-7-10.jsonl'], 'no temporary file is left');
      deepStrictEqual((await withStore((s) => s.listAudit({ limit: 3 }))).map((e) => e.seq), [21, 22, 23], 'the recent entries stay');

      // The files, oldest first, are one intact chain from the genesis hash through the store's checkpoint.
      const all = [file(1, 6), file(7, 10), file(11, 12), file(13, 14), file(15, 20)].flatMap((f) => ['--export', f]);
      const v = await pki(dev, ['audit', 'verify', '--json', ...all]);
      equal(v.code, 0, v.stdout + v.stderr);
      const vj = JSON.parse(v.stdout);
      deepStrictEqual([vj.ok, vj.export.ok, vj.export.entries, vj.checkpoint.seq], [true, true, 20, 20]);
    });

    test('issue 14.5: pki audit retain refuses a bad or too short retention (exit 2), from --keep or PKI_AUDIT_RETENTION', async () => {
      const dir = join(exports, 'bad');
      for (const keep of ['', '0d', '23h', '1', 'd', '1.5d', '-1d', '10m', '1y', '1 d', '36501d', '99999999999d']) {
        const r = await pki(dev, ['audit', 'retain', `--keep=${keep}`, '--export-dir', dir]);
        equal(r.code, 2, `--keep ${JSON.stringify(keep)}: ${r.stderr}`);
        match(r.stderr, /--keep .*(is not a duration like 400d|is out of range: at least 1 day)/);
      }
      const fromEnv = await pki(dev, ['audit', 'retain', '--export-dir', dir], { PKI_AUDIT_RETENTION: '12h' });
      equal(fromEnv.code, 2, fromEnv.stderr);
      match(fromEnv.stderr, /--keep 12h is out of range/);
      equal((await pki(dev, ['audit', 'retain', '--export-dir', dir])).code, 2, 'no retention at all');
      const noDir = await pki(dev, ['audit', 'retain', '--keep', '400d']);
      equal(noDir.code, 2);
      match(noDir.stderr, /--export-dir DIR is required/);
      const ok1 = await pki(dev, ['audit', 'retain', '--export-dir', dir, '--dry-run', '--json'], { PKI_AUDIT_RETENTION: '24h' });
      equal(ok1.code, 0, ok1.stderr);
      equal(JSON.parse(ok1.stdout).keep, '24h', 'the default from PKI_AUDIT_RETENTION');
      ok(!existsSync(dir));
    });
  });
}

const lmdb = async (): Promise<{ dev: DevPki; teardown: () => Promise<void> }> => {
  const dev = await makeDevPki();
  return { dev, teardown: async () => dev.cleanup() };
};

const redis = async (): Promise<{ dev: DevPki; teardown: () => Promise<void> }> => {
  const server: TestRedis = await startRedis();
  const dev = await makeDevPki('ecdsa-p256', server.env);
  return {
    dev,
    teardown: async () => {
      dev.cleanup();
      await server.stop();
    },
  };
};

backendSuite('lmdb', lmdb);
backendSuite('redis', redis);
retainSuite('lmdb', lmdb);
retainSuite('redis', redis);
