/**
 * The `pki` command line as an operator uses it: the real CLI (services/cli/bin/pki.js) spawned
 * asynchronously, against a dev PKI on LMDB and on a real Redis. Also the pieces it is made of:
 * the CSV reader, the progress reporter and the station rules shared with the RA.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CSV_RULE, EXIT, createProgress, csvField, csvRecords, importStations } from '@evpki/cli';
import { STATION_FIELDS, checkStationRegistration } from '@evpki/policy';
import { loadStoreConfig } from '@evpki/service';
import { openStore, type CertificateRecord, type Store } from '@evpki/store';
import { TEST_DIR } from './helpers/fixtures.js';
import { api, makeDevPki, startStack, type DevPki } from './helpers/pki.js';
import { runPki, type CliRun } from './helpers/processes.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { recordCert } from './helpers/record-cert.js';

const work = mkdtempSync(join(tmpdir(), 'evpki-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));



/** The real CLI, spawned asynchronously (a stack may be serving in this process). */
const pki = (args: string[], env: Record<string, string> = {}): Promise<CliRun> => runPki(args, env);

const file = (name: string, content: string | Buffer): string => {
  const path = join(work, name);
  writeFileSync(path, content);
  return path;
};

const storeOf = (p: DevPki): Store => openStore({ ...loadStoreConfig(p.storeEnv), dataDir: p.dataDir });

// ---------------------------------------------------------------------------------------------

describe('pki: commands, help, options', () => {
  it('pki --help lists every command with the exit codes; each command has its own --help', async () => {
    const r = await pki(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: pki /m);
    assert.match(r.stdout, /Exit codes:[\s\S]*\n {2}3 {3}done in part[\s\S]*\n {2}75 /);
    const section = r.stdout.slice(r.stdout.indexOf('Commands:\n') + 10, r.stdout.indexOf('\n\n', r.stdout.indexOf('Commands:\n')));
    const names = section.split('\n').map((l) => l.trim().split(/ {2,}/)[0]!);
    for (const name of ['init', 'token', 'renew', 'stations import', 'ocsp resign']) assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
    const helps = await Promise.all(names.map((name) => pki([...name.split(' '), '--help'])));
    names.forEach((name, i) => {
      const h = helps[i]!;
      assert.equal(h.code, 0, `${name} --help: ${h.stderr}`);
      assert.ok(h.stdout.includes(`pki ${name}`), `${name} --help prints its usage:\n${h.stdout}`);
      assert.equal(h.stderr, '');
    });
    const viaHelp = await pki(['help', 'stations', 'import']);
    assert.equal(viaHelp.code, 0);
    assert.match(viaHelp.stdout, /^Usage: pki stations import FILE\.csv --tenant ID/);
  });

  it('an unknown command, an unknown option, a missing value or a stray argument exits 2 with one line', async () => {
    const cases: [string, string[], RegExp][] = [
      ['unknown command', ['frobnicate'], /unknown command "frobnicate"/],
      ['unknown two-word command', ['stations', 'export'], /"stations" needs a subcommand: stations import/],
      ['a group without its subcommand', ['ocsp'], /"ocsp" needs a subcommand: ocsp resign/],
      ['unknown option', ['init', '--bogus'], /unknown option --bogus for pki init/],
      ['unknown option of another command', ['token', '--tenant', 'demo', '--dry-run'], /unknown option --dry-run for pki token/],
      ['unknown option on import', ['stations', 'import', 'x.csv', '--tenant', 'demo', '--frob'], /unknown option --frob for pki stations import/],
      ['unknown global option', ['--bogus'], /unknown option --bogus/],
      ['a missing value', ['stations', 'import', 'x.csv', '--tenant'], /--tenant/],
      ['a missing file argument', ['stations', 'import', '--tenant', 'demo'], /takes 1 argument/],
      ['a stray argument', ['ocsp', 'resign', 'now'], /takes no arguments \(got "now"\)/],
    ];
    const runs = await Promise.all(cases.map(([, args]) => pki(args)));
    cases.forEach(([name, , stderr], i) => {
      const r = runs[i]!;
      assert.equal(r.code, EXIT.badInput, `${name}: exit ${r.code} ${r.stderr}`);
      assert.match(r.stderr, /^pki: [^\n]+\n$/, name);
      assert.match(r.stderr, stderr, name);
      assert.equal(r.stdout, '', name);
    });
    const bare = await pki([]);
    assert.equal(bare.code, EXIT.badInput);
    assert.match(bare.stderr, /^pki: administer/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('CSV reader (RFC 4180)', () => {
  const cases: { name: string; text: string; records: { line: number; fields: string[]; error?: RegExp }[] }[] = [
    { name: 'LF and CRLF, last line without a break', text: 'a,b\r\nc,d\ne,f', records: [{ line: 1, fields: ['a', 'b'] }, { line: 2, fields: ['c', 'd'] }, { line: 3, fields: ['e', 'f'] }] },
    { name: 'empty lines skipped, line numbers kept', text: '\r\na,b\n\n\nc,d\n\n', records: [{ line: 2, fields: ['a', 'b'] }, { line: 5, fields: ['c', 'd'] }] },
    { name: 'empty fields', text: ',,\n', records: [{ line: 1, fields: ['', '', ''] }] },
    { name: 'quoted: comma, doubled quote, line break', text: '"a,b","say ""hi""","x\r\ny"\nnext,1', records: [{ line: 1, fields: ['a,b', 'say "hi"', 'x\r\ny'] }, { line: 3, fields: ['next', '1'] }] },
    { name: 'an empty quoted field is a field', text: '""\n', records: [{ line: 1, fields: [''] }] },
    { name: 'text after a closing quote', text: '"a"b,c\nok,1', records: [{ line: 1, fields: ['a'], error: /after the closing quote/ }, { line: 2, fields: ['ok', '1'] }] },
    { name: 'a quote inside an unquoted field', text: 'x,a"b\nok,1', records: [{ line: 1, fields: ['x'], error: /inside an unquoted field/ }, { line: 2, fields: ['ok', '1'] }] },
    { name: 'unterminated: reading goes on at the next line', text: 'x,"open\nok,1\n', records: [{ line: 1, fields: ['x'], error: /not closed/ }, { line: 2, fields: ['ok', '1'] }] },
  ];
  for (const c of cases)
    it(c.name, () => {
      const got = [...csvRecords(c.text)];
      assert.equal(got.length, c.records.length, JSON.stringify(got));
      c.records.forEach((want, i) => {
        assert.equal(got[i]!.line, want.line);
        assert.deepEqual(got[i]!.fields, want.fields);
        if (want.error) assert.match(got[i]!.error ?? '', want.error);
        else assert.equal(got[i]!.error, undefined);
      });
    });

  it('report fields are quoted when they must be, and formulas are defused', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "x"'), '"say ""x"""');
    assert.equal(csvField('=cmd()'), "'=cmd()");
    assert.equal(csvField(12), '12');
  });
});

describe('progress reporter', () => {
  const sink = (isTTY: boolean) => {
    const chunks: string[] = [];
    return { chunks, stream: { isTTY, columns: 100, write: (t: string) => chunks.push(t) } };
  };

  it('on a terminal: a bar redrawn in place, with count, rate and ETA, then a newline', () => {
    let t = 0;
    const { chunks, stream } = sink(true);
    const p = createProgress({ unit: 'rows', total: 100_000, stream, now: () => t, env: {} });
    for (let done = 0; done <= 100_000; done += 5_000) {
      t += 500;
      p.update(done);
    }
    p.finish();
    assert.ok(chunks.length > 5);
    assert.ok(chunks.every((c) => c.startsWith('\r')));
    const ERASE = '\x1b[K';
    assert.ok(chunks.includes(`\r[#########...........] 45,000/100,000 rows 9,000/s ETA 6s${ERASE}`), chunks.join('|'));
    assert.match(chunks.at(-1)!, /^\r\[#{20}\] 100,000\/100,000 rows in \d+(\.\d)?s/);
    assert.ok(chunks.at(-1)!.endsWith(`${ERASE}\n`));
  });

  it('elsewhere: a plain line every 10 % or 5 s (none in the first 2 s), and one at the end; --quiet: nothing', () => {
    let t = 0;
    const { chunks, stream } = sink(false);
    const p = createProgress({ unit: 'rows', total: 1000, stream, now: () => t, env: {} });
    for (let done = 1; done <= 1000; done++) {
      t += 10;
      p.update(done);
    }
    p.finish();
    assert.ok(chunks.every((c) => c.startsWith('pki: ') && c.endsWith('\n') && !c.includes('\r')));
    assert.ok(chunks.length >= 9 && chunks.length <= 11, chunks.join(''));
    assert.match(chunks.at(-1)!, /^pki: 1,000\/1,000 rows in 10\.0s\n$/);

    const unbounded = sink(false);
    const u = createProgress({ unit: 'certificates requeued', stream: unbounded.stream, now: () => t, env: {} });
    t += 20_000;
    u.update(10);
    u.finish();
    assert.match(unbounded.chunks.join(''), /^pki: 10 certificates requeued \d+\/s\npki: 10 certificates requeued in/);

    const quiet = sink(true);
    const q = createProgress({ unit: 'rows', total: 10, stream: quiet.stream, quiet: true });
    q.update(5);
    q.finish();
    assert.deepEqual(quiet.chunks, []);
  });
});

// ---------------------------------------------------------------------------------------------

describe('station rules: the same as the RA', () => {
  it('match openapi.yaml (StationId, StationSerialNumber, StationModel)', () => {
    const spec = parseYaml(readFileSync(join(TEST_DIR, '..', 'openapi.yaml'), 'utf8')) as { components: { schemas: Record<string, { pattern?: string; maxLength?: number; not?: { enum: string[] } }> } };
    const s = spec.components.schemas;
    const norm = (re: string): string => re.replace(/\\-/g, '-');
    assert.equal(norm(STATION_FIELDS.stationId.pattern.source), norm(s.StationId!.pattern!));
    assert.deepEqual(STATION_FIELDS.stationId.reserved, s.StationId!.not!.enum);
    assert.equal(norm(STATION_FIELDS.serialNumber.pattern.source), norm(s.StationSerialNumber!.pattern!));
    assert.equal(STATION_FIELDS.serialNumber.maxLength, s.StationSerialNumber!.maxLength);
    assert.equal(STATION_FIELDS.model.maxLength, s.StationModel!.maxLength);
  });

  it('refuse the station ids . and .. that no request path can name (the RA answers them 404, issue 14.1)', () => {
    for (const stationId of ['.', '..']) assert.deepEqual(checkStationRegistration({ stationId, serialNumber: 'SN1' }).map((v) => v.rule), ['openapi:/params/stationId']);
    assert.deepEqual(checkStationRegistration({ stationId: '...', serialNumber: 'SN1' }), []);
  });

  it('cite the rules the RA answers with', async () => {
    const p = await makeDevPki();
    const stack = await startStack(p);
    try {
      const cases: [string, string, Record<string, unknown>][] = [
        ['bad!id', 'good', { serialNumber: 'SN1', allowed: true }],
        ['CP1', 'bad serial', { serialNumber: 'SN 1', allowed: true }],
        ['CP1', 'host name', { serialNumber: 'cp1.example.com', allowed: true }],
        ['CP1', 'long model', { serialNumber: 'SN1', model: 'm'.repeat(129), allowed: true }],
      ];
      for (const [stationId, name, body] of cases) {
        const ours = checkStationRegistration({ stationId, serialNumber: body.serialNumber as string, ...(body.model ? { model: body.model as string } : {}) });
        assert.equal(ours.length, 1, name);
        const r = await api(stack, 'PUT', `/v1/stations/${encodeURIComponent(stationId)}`, body);
        assert.equal(r.status >= 400 && r.status < 500, true, `${name}: ${r.status}`);
        const rules = JSON.stringify(r.body);
        assert.ok(rules.includes(ours[0]!.rule), `${name}: the RA cites ${ours[0]!.rule}: ${rules}`);
      }
    } finally {
      await stack.stop();
      p.cleanup();
    }
  });
});

// ---------------------------------------------------------------------------------------------

const HEADER = 'stationId,serialNumber,model,allowed';
const ALLOWED: [string, boolean][] = [['true', true], ['false', false], ['1', true], ['0', false], ['yes', true], ['no', false], ['', true], ['TRUE', true]];

interface BadRow {
  readonly text: string;
  readonly rules: string[];
}

/** Every kind of bad row, each with the rules it must be refused with. */
const BAD_ROWS: BadRow[] = [
  { text: 'bad/id,SN-B1,,true', rules: ['openapi:/params/stationId'] },
  { text: `${'X'.repeat(49)},SN-B2,,true`, rules: ['openapi:/params/stationId'] },
  { text: 'CPB3,SN B3,,true', rules: ['openapi:/body/serialNumber'] },
  { text: 'CPB4,,,true', rules: ['openapi:/body/serialNumber'] },
  { text: 'CPB5,cp5.example.com,,true', rules: ['A00.FR.511'] },
  { text: 'CPB6,10.0.0.6,,true', rules: ['A00.FR.511'] },
  { text: `CPB7,SN-B7,${'m'.repeat(129)},true`, rules: ['openapi:/body/model'] },
  { text: 'CPB8,SN-B8,,maybe', rules: [CSV_RULE.allowed] },
  { text: 'bad id,SN-B9,,perhaps', rules: ['openapi:/params/stationId', CSV_RULE.allowed] },
  { text: 'CP7,SN-DUP,,true', rules: [CSV_RULE.duplicate] },
  { text: 'CPB11,SN-B11,true', rules: [CSV_RULE.columns] },
  { text: 'CPB12,SN-B12,m,true,extra', rules: [CSV_RULE.columns] },
  { text: 'CPB13,"SN"B13,,true', rules: [CSV_RULE.quoting] },
  { text: 'CPB14,S"N,,true', rules: [CSV_RULE.quoting] },
  { text: `CPB15,SN-B15,${'m'.repeat(2000)},true`, rules: [CSV_RULE.fieldLength] },
];

interface Generated {
  readonly path: string;
  readonly good: Map<string, { serialNumber: string; model?: string; allowed: boolean }>;
  readonly rows: number;
  /** line → rules, for every bad row. */
  readonly bad: Map<number, string[]>;
  readonly byRule: Record<string, number>;
  /** stationId → line, for the generated good rows. */
  readonly lines: Map<string, number>;
}

/** A CSV of `n` generated stations, the bad rows spread through it, odd but good rows, a BOM, CRLF and empty lines. */
function generate(name: string, n: number, prefix = 'CP'): Generated {
  const parts: string[] = ['\ufeff' + HEADER + '\r\n'];
  let line = 2;
  const good = new Map<string, { serialNumber: string; model?: string; allowed: boolean }>();
  const bad = new Map<number, string[]>();
  const byRule: Record<string, number> = {};
  const lines = new Map<string, number>();
  let rows = 0;
  const push = (text: string): void => {
    parts.push(text + '\r\n');
    line += text.split('\n').length;
  };
  const every = Math.floor(n / BAD_ROWS.length);
  for (let i = 0; i < n; i++) {
    const [allowedText, allowed] = ALLOWED[i % ALLOWED.length]!;
    const model = i % 3 === 0 ? undefined : `Wallbox ${i % 7}`;
    const id = `${prefix}${i}`;
    good.set(id, { serialNumber: `SN-${i}`, ...(model ? { model } : {}), allowed });
    lines.set(id, line);
    push(`${id},SN-${i},${model ?? ''},${allowedText}`);
    rows++;
    if (i % 10_000 === 5) push(''); // empty lines are skipped
    const b = BAD_ROWS[(i - 10) / every];
    if (i >= 10 && (i - 10) % every === 0 && b) {
      bad.set(line, b.rules);
      for (const r of b.rules) byRule[r] = (byRule[r] ?? 0) + 1;
      push(b.text.replace(/^CP7,/, `${prefix}7,`));
      rows++;
    }
  }
  // Good rows that take RFC 4180 seriously.
  const odd: [string, string, { serialNumber: string; model?: string; allowed: boolean }][] = [
    [`"${prefix}:Q1"`, `"SN-Q1","Model, with comma",yes`, { serialNumber: 'SN-Q1', model: 'Model, with comma', allowed: true }],
    [`${prefix}.Q2`, `SN-Q2,"say ""two""",0`, { serialNumber: 'SN-Q2', model: 'say "two"', allowed: false }],
    [`${prefix}_Q3`, `SN-Q3,"two\nlines",1`, { serialNumber: 'SN-Q3', model: 'two\nlines', allowed: true }],
  ];
  for (const [id, rest, station] of odd) {
    push(`${id},${rest}`);
    good.set(id.replace(/"/g, ''), station);
    rows++;
  }
  // Last: an unterminated quote. Reading goes on at the next line, which is imported.
  bad.set(line, [CSV_RULE.quoting]);
  byRule[CSV_RULE.quoting] = (byRule[CSV_RULE.quoting] ?? 0) + 1;
  push(`${prefix}U1,"SN-U1,,true`);
  rows++;
  push(`${prefix}U2,SN-U2,,no`);
  good.set(`${prefix}U2`, { serialNumber: 'SN-U2', allowed: false });
  rows++;
  parts.push('\r\n\r\n');
  return { path: file(name, parts.join('')), good, rows, bad, byRule, lines };
}

/** The report's lines as (line, stationId, rule, message). */
function readReport(path: string): { line: number; stationId: string; rule: string; message: string }[] {
  const records = [...csvRecords(readFileSync(path, 'utf8'))];
  assert.deepEqual(records[0]!.fields, ['line', 'stationId', 'rule', 'message']);
  return records.slice(1).map((r) => {
    assert.equal(r.error, undefined);
    const [line, stationId, rule, message] = r.fields as [string, string, string, string];
    return { line: Number(line), stationId, rule, message };
  });
}

async function checkImported(p: DevPki, g: Generated, sample: string[]): Promise<void> {
  const store = storeOf(p);
  try {
    for (const id of sample) {
      const want = g.good.get(id)!;
      const got = await store.getStation('demo', id);
      assert.ok(got, `station ${id} imported`);
      assert.deepEqual({ serialNumber: got.serialNumber, model: got.model, allowed: got.allowed }, { model: undefined, ...want }, id);
      assert.equal(got.tenant, 'demo');
    }
    assert.equal(await store.getStation('demo', 'CPB8'), undefined, 'refused rows are not written');
  } finally {
    await store.close();
  }
}

function importCases(backend: string, setup: () => Promise<{ pki: DevPki; n: number; stop(): Promise<void> }>): void {
  describe(`pki stations import (${backend})`, () => {
    let p: DevPki;
    let n: number;
    let g: Generated;
    let stop: () => Promise<void> = async () => undefined;
    const args = (...extra: string[]): string[] => ['stations', 'import', g.path, '--tenant', 'demo', '--data-dir', p.dataDir, ...extra];
    before(async () => {
      const s = await setup();
      ({ pki: p, n } = s);
      stop = () => s.stop();
      g = generate(`stations-${backend}.csv`, n);
    });
    after(async () => stop());

    it('imports the good rows and reports every refused one with its rule; exit 3', async () => {
      const report = join(work, `report-${backend}.csv`);
      const r = await pki(args('--report', report, '--json'), p.storeEnv);
      assert.equal(r.code, EXIT.partial, r.stderr);
      const summary = JSON.parse(r.stdout);
      assert.deepEqual(summary, {
        tenant: 'demo',
        dryRun: false,
        replace: false,
        rows: g.rows,
        created: g.good.size,
        replaced: 0,
        unchanged: 0,
        differing: 0,
        refused: g.bad.size,
        byRule: g.byRule,
        file: g.path,
        report,
      });
      assert.equal(g.good.size + g.bad.size, g.rows);
      const lines = readReport(report);
      const byLine = new Map<number, string[]>();
      for (const l of lines) byLine.set(l.line, [...(byLine.get(l.line) ?? []), l.rule]);
      assert.deepEqual([...byLine.keys()].sort((a, b) => a - b), [...g.bad.keys()].sort((a, b) => a - b));
      for (const [line, rules] of g.bad) assert.deepEqual(byLine.get(line)!.sort(), [...rules].sort(), `line ${line}`);
      assert.ok(lines.every((l) => l.message.length > 0));
      assert.ok(lines.some((l) => l.rule === CSV_RULE.duplicate && l.stationId === 'CP7' && l.message.includes(`already on line ${g.lines.get('CP7')!} `)), 'the line of the first CP7');
      await checkImported(p, g, ['CP0', 'CP1', 'CP2', 'CP7', `CP${n - 1}`, 'CP:Q1', 'CP.Q2', 'CP_Q3', 'CPU2']);
      assert.doesNotMatch(r.stdout, /\[#/, 'no progress on stdout');
    });

    it('a second run leaves every station unchanged; text summary', async () => {
      const r = await pki(args(), p.storeEnv);
      assert.equal(r.code, EXIT.partial, r.stderr);
      assert.match(r.stdout, new RegExp(`^demo: ${g.rows.toLocaleString('en-US')} rows read: 0 created, 0 replaced, ${g.good.size.toLocaleString('en-US')} unchanged, ${g.bad.size} refused\n`));
      assert.match(r.stdout, /refused by rule: A00\.FR\.511 2, csv:allowed 2, csv:columns 2, csv:duplicate 1, csv:field-length 1, csv:quoting 3, /);
      // Without --report the first refusals go to stderr.
      assert.match(r.stderr, /pki: line \d+: openapi:\/params\/stationId: stationId "bad\/id"/);
    });

    it('--replace updates what differs (createdAt kept); --dry-run counts but writes nothing', async () => {
      const before = await (async () => {
        const s = storeOf(p);
        try {
          return await s.getStation('demo', 'CP1');
        } finally {
          await s.close();
        }
      })();
      const changes = file(`changes-${backend}.csv`, `${HEADER}\nCP1,SN-NEW-1,,false\nCP2,SN-2,Wallbox 2,yes\nNEW1,SN-NEW1,,\n`);
      const plain = await pki(['stations', 'import', changes, '--tenant', 'demo', '--data-dir', p.dataDir, '--json'], p.storeEnv);
      assert.equal(plain.code, 0, plain.stderr);
      assert.deepEqual(
        (({ created, replaced, unchanged, differing, refused }) => ({ created, replaced, unchanged, differing, refused }))(JSON.parse(plain.stdout)),
        { created: 1, replaced: 0, unchanged: 2, differing: 1, refused: 0 },
      );
      const dry = await pki(['stations', 'import', changes, '--tenant', 'demo', '--data-dir', p.dataDir, '--json', '--replace', '--dry-run'], p.storeEnv);
      assert.equal(dry.code, 0, dry.stderr);
      assert.deepEqual(
        (({ dryRun, created, replaced, unchanged }) => ({ dryRun, created, replaced, unchanged }))(JSON.parse(dry.stdout)),
        { dryRun: true, created: 0, replaced: 1, unchanged: 2 },
      );
      const s = storeOf(p);
      try {
        assert.equal((await s.getStation('demo', 'CP1'))!.serialNumber, 'SN-1', 'dry run: nothing written');
        const replaced = await pki(['stations', 'import', changes, '--tenant', 'demo', '--data-dir', p.dataDir, '--json', '--replace'], p.storeEnv);
        assert.equal(replaced.code, 0, replaced.stderr);
        assert.equal(JSON.parse(replaced.stdout).replaced, 1);
        const cp1 = (await s.getStation('demo', 'CP1'))!;
        assert.deepEqual([cp1.serialNumber, cp1.allowed, cp1.createdAt], ['SN-NEW-1', false, before!.createdAt]);
        assert.notEqual(cp1.updatedAt, before!.updatedAt);
      } finally {
        await s.close();
      }
    });

    it('a dry run of a new file writes nothing', async () => {
      const fresh = generate(`fresh-${backend}.csv`, 1000, 'DRY');
      const r = await pki(['stations', 'import', fresh.path, '--tenant', 'demo', '--data-dir', p.dataDir, '--dry-run', '--json', '--quiet'], p.storeEnv);
      assert.equal(r.code, EXIT.partial, r.stderr);
      const summary = JSON.parse(r.stdout);
      assert.equal(summary.created, fresh.good.size);
      assert.equal(summary.refused, fresh.bad.size);
      assert.equal(r.stderr, '', '--quiet and --json: nothing on stderr');
      const s = storeOf(p);
      try {
        for (const id of ['DRY0', 'DRY999', 'DRYU2']) assert.equal(await s.getStation('demo', id), undefined, id);
      } finally {
        await s.close();
      }
    });
  });
}

importCases('lmdb', async () => {
  const p = await makeDevPki();
  return { pki: p, n: 100_000, stop: async () => p.cleanup() };
});

let redis: TestRedis | undefined;
importCases('redis', async () => {
  redis = await startRedis();
  const p = await makeDevPki('ecdsa-p256', redis.env);
  return {
    pki: p,
    n: 3000,
    stop: async () => {
      p.cleanup();
      await redis!.stop();
    },
  };
});

describe('pki stations import: unusable input exits 2 and writes nothing', () => {
  let p: DevPki;
  before(async () => {
    p = await makeDevPki();
    const s = storeOf(p);
    await s.putTenant({ id: 'off', cpoName: 'Off CPO', disabled: true, createdAt: new Date().toISOString() });
    await s.close();
  });
  after(() => p.cleanup());

  it('refuses the file or the tenant with a one-line reason', async () => {
    const ok = file('ok.csv', `${HEADER}\nGOOD1,SN-G1,,\n`);
    const huge = file('huge.csv', `${HEADER}\n`);
    truncateSync(huge, 64 * 1024 * 1024 + 1);
    const cases: [string, string[], RegExp][] = [
      ['no --tenant', ['stations', 'import', ok], /--tenant is required/],
      ['an unknown tenant', ['stations', 'import', ok, '--tenant', 'nobody'], /tenant "nobody" does not exist/],
      ['a disabled tenant', ['stations', 'import', ok, '--tenant', 'off'], /tenant "off" is disabled/],
      ['a missing file', ['stations', 'import', join(work, 'nope.csv'), '--tenant', 'demo'], /cannot read .*nope\.csv: ENOENT/],
      ['a directory', ['stations', 'import', work, '--tenant', 'demo'], /is not a file/],
      ['an empty file', ['stations', 'import', file('empty.csv', ''), '--tenant', 'demo'], /the file is empty/],
      ['a wrong header', ['stations', 'import', file('header.csv', 'id,serial\nA,B\n'), '--tenant', 'demo'], /unknown column "id"/],
      ['a header without serialNumber', ['stations', 'import', file('noserial.csv', 'stationId,model\nA,B\n'), '--tenant', 'demo'], /required columns/],
      ['not UTF-8', ['stations', 'import', file('latin1.csv', Buffer.from(`${HEADER}\nA,SN\xe9,,\n`, 'latin1')), '--tenant', 'demo'], /not UTF-8/],
      ['over 64 MiB', ['stations', 'import', huge, '--tenant', 'demo'], /64\.0 MiB; at most 64 MiB/],
      ['an unwritable report', ['stations', 'import', ok, '--tenant', 'demo', '--report', join(work, 'no', 'such', 'dir.csv')], /cannot write the report/],
      ['no PKI there', ['stations', 'import', ok, '--tenant', 'demo', '--data-dir', join(work, 'no-pki')], /no PKI at/],
    ];
    const runs = await Promise.all(cases.map(([, args]) => pki(args.includes('--data-dir') ? args : [...args, '--data-dir', p.dataDir])));
    cases.forEach(([name, , stderr], i) => {
      const r = runs[i]!;
      assert.equal(r.code, EXIT.badInput, `${name}: exit ${r.code} ${r.stderr}`);
      assert.match(r.stderr, /^pki: [^\n]+\n$/, name);
      assert.match(r.stderr, stderr, name);
    });
    const s = storeOf(p);
    try {
      assert.equal(await s.getStation('demo', 'GOOD1'), undefined);
    } finally {
      await s.close();
    }
  });

  it('a file over the row limit is refused before anything is written', async () => {
    const s = storeOf(p);
    try {
      const text = `${HEADER}\n` + Array.from({ length: 6 }, (_, i) => `LIM${i},SN-${i},,\n`).join('');
      await assert.rejects(importStations({ store: s, tenant: 'demo', text, dryRun: false, replace: false, now: new Date(), limits: { maxRows: 5 } }), /more than 5 rows/);
      assert.equal(await s.getStation('demo', 'LIM0'), undefined);
      const fits = await importStations({ store: s, tenant: 'demo', text, dryRun: false, replace: false, now: new Date(), limits: { maxRows: 6, batch: 4 } });
      assert.equal(fits.created, 6);
    } finally {
      await s.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('pki ocsp resign', () => {
  let p: DevPki;
  before(async () => {
    p = await makeDevPki();
  });
  after(() => p.cleanup());

  it('makes every scheduled certificate due now (of one issuer, or all)', async () => {
    const s = storeOf(p);
    const issuerId = p.manifest.issuers.chargePoint;
    const far = Date.now() + 86_400_000;
    const certs: CertificateRecord[] = Array.from({ length: 1500 }, (_, i) => ({
      serial: randomBytes(16).toString('hex').replace(/^0+/, ''),
      issuerId,
      der: randomBytes(100),
      kind: 'ChargingStationCertificate',
      tenant: 'demo',
      stationId: `ST${i}`,
      subject: `CN=SN${i},O=Demo CPO`,
      notBefore: new Date().toISOString(),
      notAfter: new Date(far * 2).toISOString(),
      issuedAt: new Date().toISOString(),
      spkiSha256: randomBytes(32).toString('hex'),
      sha256Fingerprint: randomBytes(32).toString('hex'),
      status: 'good',
    }));
    try {
      await Promise.all(
        certs.map(async (c) => {
          assert.deepEqual(await recordCert(s, c), { ok: true });
          assert.equal(await s.putOcspResponses(c.serial, { status: 'good' }, [], { nextDue: far }), true);
        }),
      );
      assert.equal((await s.claimOcspDue(Date.now(), 10_000, 60_000)).length, 0, 'nothing due yet');

      const r = await pki(['ocsp', 'resign', '--data-dir', p.dataDir, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { requeued: certs.length, issuer: null });
      const due = await s.claimOcspDue(Date.now(), 10_000, 60_000);
      assert.deepEqual(due.map((d) => d.serial).sort(), certs.map((c) => c.serial).sort());
      // Claimed again by a responder (leased a minute ahead): --issuer requeues them once more.
      const again = await pki(['ocsp', 'resign', '--issuer', issuerId, '--data-dir', p.dataDir]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, new RegExp(`^1,500 certificate\\(s\\) of ${issuerId} requeued`));
      assert.equal((await s.claimOcspDue(Date.now(), 10_000, 60_000)).length, certs.length);
      const other = await pki(['ocsp', 'resign', '--issuer', p.manifest.issuers.root, '--data-dir', p.dataDir, '--json']);
      assert.deepEqual(JSON.parse(other.stdout), { requeued: 0, issuer: p.manifest.issuers.root });
      const unknown = await pki(['ocsp', 'resign', '--issuer', 'nope', '--data-dir', p.dataDir]);
      assert.equal(unknown.code, EXIT.badInput);
      assert.match(unknown.stderr, /no issuer "nope"/);
    } finally {
      await s.close();
    }
  });
});
