/**
 * `pki tenants add|list|show|disable|enable` as an operator uses it: the real CLI
 * (services/cli/bin/pki.js) in its own process, against a dev PKI on LMDB and on a private Redis,
 * while the RA serves from the same store: a disabled tenant is refused at once, a rate limit
 * override applies, and every change is in the (intact) audit log.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyTenantSpec, changedFields, checkCpoName, normalizeIpRange, normalizeServerDomain, parseRateLimit } from '@evpki/cli';
import { ipInRanges } from '@evpki/policy';
import { newP256Csr } from './helpers/csr.js';
import { api, makeDevPki, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { runPki, type CliRun } from './helpers/processes.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { Redis } from 'ioredis';
import { pack } from 'msgpackr';
import type { RootDatabase } from 'lmdb';
import { redisKey, type TenantRecord } from '@evpki/store';



/** The real CLI, spawned asynchronously (the stack serves in this process meanwhile). */
const pki = (dev: DevPki, args: string[]): Promise<CliRun> => runPki(['--data-dir', dev.dataDir, ...args], dev.storeEnv, 60_000);

async function ok(dev: DevPki, args: string[]): Promise<any> {
  const r = await pki(dev, [...args, '--json']);
  assert.equal(r.code, 0, `pki ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe('tenants: the pure checks', () => {
  it('CPO names: 1..64 printable characters, NFC, no stray spaces', () => {
    const cases: [string, string, RegExp | undefined][] = [
      ['plain', 'Demo CPO', undefined],
      ['unicode, 64 characters', 'É'.repeat(64), undefined],
      ['empty', '', /empty/],
      ['spaces only', '   ', /empty/],
      ['65 characters', 'x'.repeat(65), /65 characters.*at most 64/],
      ['control character', 'CPO\u0007', /printable/],
      ['newline', 'CPO\nB', /printable/],
      ['zero-width space (format)', 'CPO\u200bB', /printable/],
      ['no-break space', 'CPO\u00a0B', /plain spaces/],
      ['leading space', ' CPO', /begin or end/],
      ['double space', 'CPO  B', /two in a row/],
      ['not NFC', 'E\u0301nergie', /NFC/],
    ];
    for (const [name, value, want] of cases) {
      const got = checkCpoName(value);
      if (want) assert.match(got ?? '', want, name);
      else assert.equal(got, undefined, name);
    }
  });

  it('server domains: DNS names, lowercased, no wildcard, IP or non-ASCII', () => {
    assert.deepEqual(normalizeServerDomain('CSMS.Example.COM.'), { domain: 'csms.example.com' });
    for (const [raw, want] of [
      ['*.example.com', /wildcard.*--allow-wildcards/],
      ['10.0.0.1', /IP address.*--ip-range/],
      ['[::1]', /IP address/],
      ['bücher.de', /xn--/],
      ['localhost', /not a DNS domain/],
      ['-bad.example', /not a DNS domain/],
      ['a..example', /not a DNS domain/],
      ['https://x.example', /not a DNS domain/],
      [`${'a'.repeat(64)}.example`, /not a DNS domain/],
    ] as const)
      assert.match((normalizeServerDomain(raw) as { error: string }).error ?? '', want, raw);
    assert.deepEqual(parseRateLimit('0', 'x'), { value: 0 });
    assert.deepEqual(parseRateLimit('default', 'x'), { value: 'default' });
    for (const raw of ['-1', '1.5', 'abc', '', '10000000', '0x10']) assert.ok('error' in parseRateLimit(raw, 'x'), raw);
  });

  it('issue 14.4: IP ranges: canonical CIDR text; host bits, /0 and blocks that name no one server refused (Tenant.ip-range); an address matches its own family only', () => {
    for (const [raw, range] of [
      ['10.1.0.0/16', '10.1.0.0/16'],
      ['FD00:0001:0000::/48', 'fd00:1::/48'],
      ['2001:db8:0:0:1:0:0:1/128', '2001:db8::1:0:0:1/128'],
      [' 192.0.2.0/24 ', '192.0.2.0/24'],
    ] as const)
      assert.deepEqual(normalizeIpRange(raw), { range }, raw);
    for (const [raw, want] of [
      ['10.1.2.3/16', /host bits set: give the network, 10\.1\.0\.0\/16/],
      ['0.0.0.0/0', /every address/],
      ['128.0.0.0/1', /overlaps/],
      ['127.0.0.0/8', /loopback/],
      ['::1/128', /loopback/],
      ['169.254.0.0/16', /link-local/],
      ['224.0.0.0/4', /multicast/],
      ['255.255.255.255/32', /reserved and broadcast/],
      ['::ffff:0:0/96', /IPv4-mapped/],
      ['::ffff:10.0.0.0/104', /IPv4 part/],
      ['10.0.0.0/33', /prefix length/],
      ['10.0.0.0', /not a CIDR range/],
      ['fe80::1%eth0/64', /not a CIDR range/],
    ] as const)
      assert.match((normalizeIpRange(raw) as { error: string }).error ?? '', new RegExp(`${want.source}.*\\(Tenant\\.ip-range\\)$`), raw);
    assert.equal(ipInRanges(Buffer.from([10, 1, 255, 255]), ['10.1.0.0/16']), true);
    assert.equal(ipInRanges(Buffer.from([10, 2, 0, 0]), ['10.1.0.0/16']), false);
    // ::a01:0 has the bits of 10.1.0.0 in its last 32: it is not in an IPv4 range.
    assert.equal(ipInRanges(Buffer.from('0000000000000000000000000a010000', 'hex'), ['10.1.0.0/16']), false);
    assert.equal(ipInRanges(Buffer.from('fd000001000000000000000000000005', 'hex'), ['10.1.0.0/16', 'fd00:1::/48']), true);
  });

  it('an update changes only the fields given and keeps createdAt and disabled', () => {
    const current = { id: 't', cpoName: 'T', disabled: true, createdAt: 'then', serverDomains: ['t.example'], rateLimits: { tenantCsrsPerMinute: 5, stationCsrsPerDay: 2 } };
    const next = applyTenantSpec('t', current, { stationCsrsPerDay: 'default', ipRanges: ['10.1.0.0/16'] }, 'now');
    assert.deepEqual(next, { id: 't', cpoName: 'T', disabled: true, createdAt: 'then', serverDomains: ['t.example'], ipRanges: ['10.1.0.0/16'], rateLimits: { tenantCsrsPerMinute: 5 } });
    assert.deepEqual(changedFields(current, next), ['ipRanges', 'stationCsrsPerDay']);
    assert.deepEqual(applyTenantSpec('n', undefined, { cpoName: 'N', serverDomains: [] }, 'now'), { id: 'n', cpoName: 'N', disabled: false, createdAt: 'now' });
  });
});

function backend(name: string, redisBacked: boolean): void {
  describe(`pki tenants on ${name}`, () => {
    let redis: TestRedis | undefined;
    let dev: DevPki;
    let stack: Stack;
    before(async () => {
      redis = redisBacked ? await startRedis() : undefined;
      dev = await makeDevPki('ecdsa-p256', redis?.env ?? {});
      stack = await startStack(dev);
    });
    after(async () => {
      await stack?.stop();
      dev?.cleanup();
      await redis?.stop();
    });

    it('add, list, show, update: the records as given, createdAt kept, an existing id refused without --update', async () => {
      const added = await ok(dev, ['tenants', 'add', '--id', 'cpo-b', '--cpo-name', 'CPO B', '--server-domain', 'B.example', '--server-domain', 'csms.b.example,b.example', '--rate-csrs-per-minute', '50']);
      assert.equal(added.created, true);
      assert.deepEqual(added.tenant, {
        id: 'cpo-b',
        cpoName: 'CPO B',
        disabled: false,
        createdAt: added.tenant.createdAt,
        serverDomains: ['b.example', 'csms.b.example'],
        allowWildcards: false,
        ipRanges: [],
        operatorIds: [],
        rateLimits: { tenantCsrsPerMinute: 50, stationCsrsPerDay: null },
      });

      const again = await pki(dev, ['tenants', 'add', '--id', 'cpo-b', '--cpo-name', 'Other']);
      assert.equal(again.code, 2);
      assert.match(again.stderr, /^pki: tenant "cpo-b" exists already; pass --update/);
      assert.equal((await ok(dev, ['tenants', 'show', 'cpo-b'])).tenant.cpoName, 'CPO B');

      const updated = await ok(dev, ['tenants', 'add', '--id', 'cpo-b', '--update', '--rate-station-csrs-per-day', '0', '--allow-wildcards']);
      assert.equal(updated.created, false);
      assert.deepEqual(updated.changed, ['allowWildcards', 'stationCsrsPerDay']);
      assert.deepEqual(updated.tenant, { ...added.tenant, allowWildcards: true, rateLimits: { tenantCsrsPerMinute: 50, stationCsrsPerDay: 0 } });
      const same = await ok(dev, ['tenants', 'add', '--id', 'cpo-b', '--update', '--cpo-name', 'CPO B']);
      assert.deepEqual(same.changed, []);
      const upserted = await ok(dev, ['tenants', 'add', '--id', 'cpo-c', '--update', '--cpo-name', 'CPO C']);
      assert.equal(upserted.created, true);

      const list = await ok(dev, ['tenants', 'list']);
      assert.deepEqual(
        list.tenants.map((t: { id: string }) => t.id),
        ['cpo-b', 'cpo-c', 'demo'],
      );
      assert.deepEqual(list.tenants[0], updated.tenant);
      const table = await pki(dev, ['tenants', 'list']);
      assert.equal(table.code, 0, table.stderr);
      const lines = table.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, /^ID\s+CPO NAME\s+DISABLED\s+SERVER NAMES\s+RATE LIMITS/);
      assert.match(lines[1]!, /^cpo-b\s+CPO B\s+no\s+b\.example,csms\.b\.example \(\+wildcards\)\s+tenant 50\/min, station off$/);
      assert.match(lines[3]!, /^demo\s+Demo CPO\s+no\s+demo\.local\s+tenant default, station default$/);

      const show = await pki(dev, ['tenants', 'show', 'cpo-b']);
      assert.match(show.stdout, /CPO name \(O\): +CPO B\n/);
      const missing = await pki(dev, ['tenants', 'show', 'nope']);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /no tenant "nope"/);
    });

    it('bad input exits 2 with a message naming the problem, and writes nothing', async () => {
      const cases: [string, string[], RegExp][] = [
        ['no --id', ['tenants', 'add', '--cpo-name', 'X'], /--id is required/],
        ['bad id', ['tenants', 'add', '--id', 'Bad_Id', '--cpo-name', 'X'], /tenant id "Bad_Id" must be/],
        ['no --cpo-name', ['tenants', 'add', '--id', 'x1'], /--cpo-name is required/],
        ['empty CPO name', ['tenants', 'add', '--id', 'x1', '--cpo-name', ''], /--cpo-name must not be empty/],
        ['long CPO name', ['tenants', 'add', '--id', 'x1', '--cpo-name', 'C'.repeat(65)], /at most 64/],
        ['control character', ['tenants', 'add', '--id', 'x1', '--cpo-name', 'CPO\tX'], /printable/],
        ['wildcard domain', ['tenants', 'add', '--id', 'x1', '--cpo-name', 'X', '--server-domain', '*.x.example'], /wildcard/],
        ['IP domain', ['tenants', 'add', '--id', 'x1', '--cpo-name', 'X', '--server-domain', '192.0.2.1'], /IP address/],
        ['bad domain', ['tenants', 'add', '--id', 'x1', '--cpo-name', 'X', '--server-domain', 'no_such'], /not a DNS domain/],
        ['bad rate', ['tenants', 'add', '--id', 'x1', '--cpo-name', 'X', '--rate-csrs-per-minute=-3'], /--rate-csrs-per-minute must be a whole number/],
        ['bad daily rate', ['tenants', 'add', '--id', 'x1', '--cpo-name', 'X', '--rate-station-csrs-per-day', 'many'], /--rate-station-csrs-per-day must be/],
        ['--no- without --update', ['tenants', 'add', '--id', 'x1', '--cpo-name', 'X', '--no-server-domains'], /--no-server-domains is for --update/],
        ['both ways', ['tenants', 'add', '--id', 'x1', '--update', '--allow-wildcards', '--no-allow-wildcards'], /exclude each other/],
        ['unknown option', ['tenants', 'add', '--id', 'x1', '--cpo', 'X'], /unknown option --cpo/],
        ['disable unknown', ['tenants', 'disable', 'nope'], /no tenant "nope"/],
        ['enable bad id', ['tenants', 'enable', 'NOPE!'], /tenant id "NOPE!" must be/],
        ['show without id', ['tenants', 'show'], /takes 1 argument/],
        ['tenants alone', ['tenants'], /needs a subcommand: tenants add, tenants list/],
      ];
      const runs = await Promise.all(cases.map(([, args]) => pki(dev, args)));
      cases.forEach(([name, , want], i) => {
        assert.equal(runs[i]!.code, 2, `${name}: ${runs[i]!.stderr}`);
        assert.match(runs[i]!.stderr, want, name);
        assert.equal(runs[i]!.stderr.trim().split('\n').length, 1, `${name}: one line`);
      });
      const ids = (await ok(dev, ['tenants', 'list'])).tenants.map((t: { id: string }) => t.id);
      assert.ok(!ids.includes('x1'), ids.join(','));
      for (const sub of ['add', 'list', 'show', 'disable', 'enable']) {
        const h = await pki(dev, ['tenants', sub, '--help']);
        assert.equal(h.code, 0);
        assert.match(h.stdout, new RegExp(`^Usage: pki tenants ${sub}`));
        assert.match(h.stdout, /Exit codes:/);
      }
    });

    it('the RA refuses a disabled tenant (403) at once and serves it again after enable', async () => {
      await ok(dev, ['tenants', 'add', '--id', 'cpo-d', '--cpo-name', 'CPO D']);
      const auth = { authorization: `Bearer ${await stack.token('cpo-d')}` };
      assert.equal((await api(stack, 'PUT', '/v1/stations/cp-d1', { serialNumber: 'CP-D1', allowed: true }, auth)).status, 201);

      const disabled = await ok(dev, ['tenants', 'disable', 'cpo-d']);
      assert.deepEqual([disabled.changed, disabled.tenant.disabled], [true, true]);
      const refused = await api(stack, 'GET', '/v1/stations/cp-d1', undefined, auth);
      assert.equal(refused.status, 403, refused.text);
      const csr = await api(stack, 'POST', '/v1/stations/cp-d1/certificates', { csr: newP256Csr('CP-D1', 'CPO D').csr, certificateType: 'ChargingStationCertificate' }, auth);
      assert.equal(csr.status, 403, csr.text);
      assert.equal((await ok(dev, ['tenants', 'disable', 'cpo-d'])).changed, false);
      const list = await pki(dev, ['tenants', 'list']);
      assert.match(list.stdout, /^cpo-d\s+CPO D\s+yes\s/m);

      const enabled = await ok(dev, ['tenants', 'enable', 'cpo-d']);
      assert.deepEqual([enabled.changed, enabled.tenant.disabled], [true, false]);
      assert.equal((await api(stack, 'GET', '/v1/stations/cp-d1', undefined, auth)).status, 200);
      const signed = await api(stack, 'POST', '/v1/stations/cp-d1/certificates', { csr: newP256Csr('CP-D1', 'CPO D').csr, certificateType: 'ChargingStationCertificate' }, auth);
      assert.equal(signed.status, 201, signed.text);
    });

    it("the RA applies a tenant's rate limit override: tenantCsrsPerMinute 1, the second CSR is 429; 0 turns it off", async () => {
      await ok(dev, ['tenants', 'add', '--id', 'cpo-r', '--cpo-name', 'CPO R', '--rate-csrs-per-minute', '1']);
      const auth = { authorization: `Bearer ${await stack.token('cpo-r')}` };
      for (const s of ['cp-r1', 'cp-r2']) assert.equal((await api(stack, 'PUT', `/v1/stations/${s}`, { serialNumber: s.toUpperCase(), allowed: true }, auth)).status, 201);
      const sign = (s: string) => api(stack, 'POST', `/v1/stations/${s}/certificates`, { csr: newP256Csr(s.toUpperCase(), 'CPO R').csr, certificateType: 'ChargingStationCertificate' }, auth);
      assert.equal((await sign('cp-r1')).status, 201);
      const limited = await sign('cp-r2');
      assert.equal(limited.status, 429, limited.text);
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      assert.match(limited.text, /at most 1 certificate requests per tenant per minute/);

      await ok(dev, ['tenants', 'add', '--id', 'cpo-r', '--update', '--rate-csrs-per-minute', '0']);
      assert.equal((await sign('cp-r2')).status, 201);
    });

    it('every change is in the audit log (actor cli, the tenant, no secrets) and the log verifies', async () => {
      type Entry = { event: string; actor: string; tenant: string; outcome: string; details: Record<string, unknown> };
      // The tenant's own entries also hold what the RA did for it (station.registered, …).
      const tenantEvents = async (id: string): Promise<Entry[]> => ((await ok(dev, ['audit', 'list', '--tenant', id])).entries as Entry[]).filter((e) => e.event.startsWith('tenant.'));
      const entries = await tenantEvents('cpo-b');
      assert.deepEqual(
        entries.map((e) => e.event),
        ['tenant.added', 'tenant.updated'],
      );
      for (const e of entries) assert.deepEqual([e.actor, e.tenant, e.outcome], ['cli', 'cpo-b', 'ok']);
      assert.deepEqual(entries[0]!.details, {
        cpoName: 'CPO B',
        disabled: false,
        serverDomains: 'b.example csms.b.example',
        allowWildcards: false,
        ipRanges: '',
        operatorIds: '',
        tenantCsrsPerMinute: 50,
        stationCsrsPerDay: null,
      });
      assert.equal(entries[1]!.details.changed, 'allowWildcards stationCsrsPerDay');
      const d = (await tenantEvents('cpo-d')).map((e) => e.event);
      // The second disable changed nothing and wrote nothing.
      assert.deepEqual(d, ['tenant.added', 'tenant.disabled', 'tenant.enabled']);
      const verify = await pki(dev, ['audit', 'verify']);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      assert.match(verify.stdout, /audit log intact/);
    });

    /** Writes a tenant record as a version before the claims index did (no index entries). */
    async function legacyPut(t: TenantRecord): Promise<void> {
      if (!redis) return void (await (stack.store as unknown as { db: RootDatabase }).db.put(['tenant', t.id], t));
      const raw = new Redis(redis.url);
      await raw.multi().set(redisKey('t', t.id), pack(t)).sadd(redisKey('tenants'), t.id).exec();
      raw.disconnect();
    }

    it("issue 14.3: add and --update refuse another tenant's CPO name (any case, spacing or Unicode form) or server domain, or one above or below it: exit 2 naming the rule and the tenant", async () => {
      const cases: [string, string[], RegExp][] = [
        ['same CPO name, other case', ['--cpo-name', 'DEMO cpo'], /is tenant demo's \(Tenant\.unique-cpo-name\)/],
        ['same CPO name, full-width', ['--cpo-name', 'Ｄｅｍｏ ＣＰＯ'], /is tenant demo's \(Tenant\.unique-cpo-name\)/],
        ['same domain', ['--cpo-name', 'Evil CPO', '--server-domain', 'demo.local'], /server domain demo\.local is also tenant demo's server domain demo\.local \(Tenant\.unique-server-domain\)/],
        ['a domain below', ['--cpo-name', 'Evil CPO', '--server-domain', 'csms.demo.local'], /csms\.demo\.local is below tenant demo's server domain demo\.local \(Tenant\.unique-server-domain\)/],
      ];
      for (const [name, args, want] of cases) {
        const r = await pki(dev, ['tenants', 'add', '--id', 'evil', ...args]);
        assert.equal(r.code, 2, `${name}: ${r.stderr}`);
        assert.match(r.stderr, want, name);
      }
      await ok(dev, ['tenants', 'add', '--id', 'evil', '--cpo-name', 'Evil CPO', '--server-domain', 'csms.evil.example']);
      // A parent of another tenant's domain, by --update: refused, nothing changed, nothing audited.
      const parent = await pki(dev, ['tenants', 'add', '--id', 'cpo-b', '--update', '--server-domain', 'evil.example']);
      assert.equal(parent.code, 2, parent.stderr);
      assert.match(parent.stderr, /server domain evil\.example is a parent of tenant evil's server domain csms\.evil\.example \(Tenant\.unique-server-domain\)/);
      assert.deepEqual((await ok(dev, ['tenants', 'show', 'cpo-b'])).tenant.serverDomains, ['b.example', 'csms.b.example']);
      // A disabled tenant keeps its names.
      await ok(dev, ['tenants', 'disable', 'evil']);
      const taken = await pki(dev, ['tenants', 'add', '--id', 'evil-2', '--cpo-name', 'evil cpo']);
      assert.equal(taken.code, 2, taken.stderr);
      assert.match(taken.stderr, /tenant evil's \(Tenant\.unique-cpo-name\)/);
      const list = await pki(dev, ['tenants', 'list']);
      assert.equal(list.stderr, '', 'no conflicts to report');
    });

    it('issue 14.3: pki tenants list reports tenants that collided before the store refused it (and legacy --allow-ip-sans tenants)', async () => {
      await legacyPut({ id: 'old-a', cpoName: 'Old CPO', disabled: false, createdAt: 'c', serverDomains: ['old.example'], allowIpSans: true });
      await legacyPut({ id: 'old-b', cpoName: 'OLD CPO', disabled: false, createdAt: 'c', serverDomains: ['csms.old.example'] });
      const list = await ok(dev, ['tenants', 'list']);
      assert.deepEqual(
        list.conflicts.map((c: { rule: string; tenant: string; other: string }) => [c.rule, c.tenant, c.other]),
        [
          ['Tenant.unique-cpo-name', 'old-a', 'old-b'],
          ['Tenant.unique-server-domain', 'old-b', 'old-a'],
        ],
      );
      assert.equal(list.tenants.find((t: { id: string }) => t.id === 'old-a').allowIpSans, true);
      const text = await pki(dev, ['tenants', 'list']);
      assert.match(text.stderr, /^warning: tenant old-a: CPO name "old cpo" .* is tenant old-b's \(Tenant\.unique-cpo-name\)$/m);
      assert.match(text.stderr, /^warning: tenant old-b: server domain csms\.old\.example is below tenant old-a's server domain old\.example/m);
      assert.match(text.stderr, /^warning: tenant old-a: --allow-ip-sans is no longer honoured, it gets no IP SANs: give its ranges with pki tenants add --id old-a --update --ip-range CIDR$/m);
      // The colliding tenant is fixed with an update; the legacy flag goes with the next one.
      await ok(dev, ['tenants', 'add', '--id', 'old-b', '--update', '--cpo-name', 'Old B CPO', '--server-domain', 'old-b.example']);
      const fixed = await ok(dev, ['tenants', 'add', '--id', 'old-a', '--update', '--ip-range', '10.70.0.0/16']);
      assert.equal(fixed.tenant.allowIpSans, undefined);
      assert.deepEqual((await ok(dev, ['tenants', 'list'])).conflicts, []);
    });

    it('issue 16: an operator ID belongs to one tenant (Tenant.unique-operator-id; DE*OPA and deopa are one), also against a tenant written before operator IDs were indexed', async () => {
      await ok(dev, ['tenants', 'add', '--id', 'cpo-op-a', '--cpo-name', 'CPO OP A', '--operator-id', 'DE*OPA']);
      for (const spelling of ['DE*OPA', 'deopa']) {
        const taken = await pki(dev, ['tenants', 'add', '--id', 'cpo-op-b', '--cpo-name', 'CPO OP B', '--operator-id', 'DE*OPB', '--operator-id', spelling]);
        assert.equal(taken.code, 2, taken.stderr);
        assert.match(taken.stderr, /operator ID DE\*OPA is tenant cpo-op-a's \(Tenant\.unique-operator-id\)/);
      }
      await ok(dev, ['tenants', 'add', '--id', 'cpo-op-b', '--cpo-name', 'CPO OP B', '--operator-id', 'DE*OPB']);
      const update = await pki(dev, ['tenants', 'add', '--id', 'cpo-op-b', '--update', '--operator-id', 'DE*OPB,DE*OPA']);
      assert.equal(update.code, 2, update.stderr);
      assert.match(update.stderr, /Tenant\.unique-operator-id/);
      assert.deepEqual((await ok(dev, ['tenants', 'show', 'cpo-op-b'])).tenant.operatorIds, ['DE*OPB']);
      // A tenant that holds an operator ID from before the index had operator IDs (the index marked
      // as built at its first version): the next tenant write indexes it again and refuses.
      await legacyPut({ id: 'cpo-op-old', cpoName: 'CPO OP Old', disabled: false, createdAt: 'c', operatorIds: ['DE*OLD'] });
      if (redis) {
        const raw = new Redis(redis.url);
        await raw.del(redisKey('tenant-claims-built-v2'));
        raw.disconnect();
      } else await (stack.store as unknown as { db: RootDatabase }).db.put(['meta', 'tenant-claims'], 1);
      const old = await pki(dev, ['tenants', 'add', '--id', 'cpo-op-c', '--cpo-name', 'CPO OP C', '--operator-id', 'DEOLD']);
      assert.equal(old.code, 2, old.stderr);
      assert.match(old.stderr, /operator ID DE\*OLD is tenant cpo-op-old's \(Tenant\.unique-operator-id\)/);
    });

    it('issue 14.4: --ip-range instead of --allow-ip-sans: CIDR ranges, checked (Tenant.ip-range), none shared with another tenant (Tenant.unique-ip-range)', async () => {
      const added = await ok(dev, ['tenants', 'add', '--id', 'cpo-ip', '--cpo-name', 'CPO IP', '--ip-range', '10.61.0.0/16', '--ip-range', 'FD00:61:0::/64,10.61.0.0/16']);
      assert.deepEqual(added.tenant.ipRanges, ['10.61.0.0/16', 'fd00:61::/64']);
      assert.match((await pki(dev, ['tenants', 'show', 'cpo-ip'])).stdout, /^IP ranges: +10\.61\.0\.0\/16, fd00:61::\/64$/m);
      const cases: [string, string[], RegExp][] = [
        ['host bits set', ['--ip-range', '10.62.1.1/16'], /host bits set: give the network, 10\.62\.0\.0\/16 \(Tenant\.ip-range\)/],
        ['every address', ['--ip-range', '0.0.0.0/0'], /every address/],
        ['every IPv6 address', ['--ip-range', '::/0'], /every address/],
        ['loopback', ['--ip-range', '127.0.0.1/32'], /loopback/],
        ['IPv6 link-local', ['--ip-range', 'fe80::/64'], /link-local/],
        ['no prefix length', ['--ip-range', '10.62.0.0'], /not a CIDR range/],
        ['inside another tenant\'s', ['--ip-range', '10.61.7.0/24'], /IP range 10\.61\.7\.0\/24 is inside tenant cpo-ip's IP range 10\.61\.0\.0\/16 \(Tenant\.unique-ip-range\)/],
        ['around another tenant\'s', ['--ip-range', 'fd00::/16'], /encloses tenant cpo-ip's IP range fd00:61::\/64 \(Tenant\.unique-ip-range\)/],
        ['the old flag', ['--allow-ip-sans'], /--allow-ip-sans \(any IP address\) is gone: give the IP ranges the tenant owns with --ip-range/],
      ];
      for (const [name, args, want] of cases) {
        const r = await pki(dev, ['tenants', 'add', '--id', 'ip-2', '--cpo-name', 'CPO IP 2', ...args]);
        assert.equal(r.code, 2, `${name}: ${r.stderr}`);
        assert.match(r.stderr, want, name);
      }
      assert.deepEqual((await ok(dev, ['tenants', 'add', '--id', 'cpo-ip', '--update', '--no-ip-ranges'])).tenant.ipRanges, []);
      assert.deepEqual((await ok(dev, ['tenants', 'add', '--id', 'ip-2', '--cpo-name', 'CPO IP 2', '--ip-range', '10.61.7.0/24'])).tenant.ipRanges, ['10.61.7.0/24']);
    });
  });
}

backend('LMDB', false);
backend('Redis', true);
