/**
 * The store contract for tenant claims (beside test/store-contract-*.test.ts, same idea): no two
 * tenants share a CPO name, a server domain or an IP range (nor one below/inside another's),
 * enforced inside the store's write on both backends, LMDB and a real redis-server.
 */
import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pack } from 'msgpackr';
import type { RootDatabase } from 'lmdb';
import { findTenantConflicts } from '@evpki/policy';
import { LmdbStore, RedisStore, TenantConflictError, redisKey, type Store, type TenantRecord } from '@evpki/store';
import { startRedis, type TestRedis } from './helpers/redis.js';

/** A fresh, empty store; `another` a second instance on it (Redis) or the same one (LMDB); `legacyPut` writes a record as a version before the claims index did. */
interface Fresh {
  readonly store: Store;
  readonly another: () => Store;
  readonly legacyPut: (t: TenantRecord) => Promise<void>;
  readonly close: () => Promise<void>;
}

const tenant = (id: string, cpoName: string, over: Partial<TenantRecord> = {}): TenantRecord => ({ id, cpoName, disabled: false, createdAt: 'c', ...over });

/** The refusal: a TenantConflictError with the rule and the other tenant. */
async function refused(write: Promise<unknown>, rule: string, other: string): Promise<void> {
  await rejects(write, (e: unknown) => {
    ok(e instanceof TenantConflictError, String(e));
    deepStrictEqual([e.rule, e.otherTenant], [rule, other]);
    ok(e.message.includes(rule) && e.message.includes(`tenant ${other}'s`), e.message);
    return true;
  });
}

function contract(name: string, fresh: () => Promise<Fresh>): void {
  describe(`store contract (tenant claims): ${name}`, () => {
    test("issue 14.3: no tenant gets another's CPO name (case, whitespace, Unicode forms ignored) or server domain, nor one below or above it (Tenant.unique-*), in the store's write", async () => {
      const { store, close } = await fresh();
      try {
        equal(await store.createTenant(tenant('demo', 'Demo CPO', { serverDomains: ['demo.local'] })), true);
        for (const name of ['Demo CPO', 'DEMO cpo', ' Demo  CPO ', 'Demo\u00a0CPO', 'Demo\tCPO', 'ＤＥＭＯ ＣＰＯ', 'Demo \u200bCPO'])
          await refused(store.createTenant(tenant('evil', name)), 'Tenant.unique-cpo-name', 'demo');
        for (const domain of ['demo.local', 'csms.demo.local', 'a.b.demo.local'])
          await refused(store.createTenant(tenant('evil', 'Evil CPO', { serverDomains: ['evil.example', domain] })), 'Tenant.unique-server-domain', 'demo');
        await refused(store.putTenant(tenant('evil', 'Evil CPO', { serverDomains: ['csms.demo.local'] })), 'Tenant.unique-server-domain', 'demo');
        equal(await store.getTenant('evil'), undefined, 'a refused write writes nothing');

        // Not a conflict: other names, a domain that only ends in the same letters.
        equal(await store.createTenant(tenant('evil', 'Demo CPO 2', { serverDomains: ['emo.local', 'demo.localhost.example'] })), true);
        // A parent domain of another tenant's, added by an update: refused, nothing changed.
        equal(await store.createTenant(tenant('sub', 'Sub CPO', { serverDomains: ['csms.sub.example'] })), true);
        await refused(store.updateTenant('evil', (t) => ({ ...t, serverDomains: [...t.serverDomains!, 'sub.example'] })), 'Tenant.unique-server-domain', 'sub');
        await refused(store.updateTenant('evil', (t) => ({ ...t, cpoName: 'sub cpo' })), 'Tenant.unique-cpo-name', 'sub');
        deepStrictEqual((await store.getTenant('evil'))?.serverDomains, ['emo.local', 'demo.localhost.example']);

        // Disabled tenants keep their claims; a tenant's own claims never conflict with themselves.
        await store.updateTenant('demo', (t) => ({ ...t, disabled: true }));
        await refused(store.createTenant(tenant('late', 'demo cpo')), 'Tenant.unique-cpo-name', 'demo');
        await store.updateTenant('demo', (t) => ({ ...t, cpoName: 'DEMO CPO', serverDomains: ['demo.local', 'csms.demo.local'] }));
        await store.putTenant({ ...(await store.getTenant('demo'))!, disabled: false });

        // A claim given up is free for another tenant.
        await store.updateTenant('demo', (t) => ({ ...t, cpoName: 'Demo CPO GmbH', serverDomains: ['demo.example'] }));
        equal(await store.createTenant(tenant('late', 'demo cpo', { serverDomains: ['csms.demo.local'] })), true);
        deepStrictEqual(findTenantConflicts(await store.listTenants()), []);
      } finally {
        await close();
      }
    });

    test('issue 14.4: IP ranges of two tenants do not overlap, IPv4 and IPv6 (Tenant.unique-ip-range)', async () => {
      const { store, close } = await fresh();
      try {
        equal(await store.createTenant(tenant('a', 'A', { ipRanges: ['10.1.0.0/16', 'fd00:1::/48'] })), true);
        for (const range of ['10.1.0.0/16', '10.1.2.0/24', '10.1.2.3/32', '10.0.0.0/8', 'fd00:1:0:5::/64', 'fd00::/16'])
          await refused(store.createTenant(tenant('b', 'B', { ipRanges: ['192.0.2.0/24', range] })), 'Tenant.unique-ip-range', 'a');
        equal(await store.createTenant(tenant('b', 'B', { ipRanges: ['10.2.0.0/16', '10.0.0.0/16', 'fd00:2::/48'] })), true);
        await refused(store.updateTenant('a', (t) => ({ ...t, ipRanges: ['10.0.0.0/12'] })), 'Tenant.unique-ip-range', 'b');
        await store.updateTenant('a', (t) => ({ ...t, ipRanges: ['10.1.0.0/17'] }));
        equal(await store.createTenant(tenant('c', 'C', { ipRanges: ['10.1.128.0/17', 'fd00:1::/48'] })), true, 'what a gave up is free');
      } finally {
        await close();
      }
    });

    test('issue 14.3: of concurrent creates (and updates) with colliding claims exactly one wins, from two instances', async () => {
      const { store, another, close } = await fresh();
      const second = another();
      try {
        const names = ['Race CPO', 'race cpo', 'RACE CPO', ' Race  CPO', 'Race\u00a0CPO', 'ｒａｃｅ CPO', 'race\tcpo', 'Race CPO ', 'RaCe CpO', 'race  CPO'];
        const settled = await Promise.allSettled(names.map((n, i) => (i % 2 ? second : store).createTenant(tenant(`r${i}`, n))));
        equal(settled.filter((s) => s.status === 'fulfilled' && s.value === true).length, 1, JSON.stringify(settled.map((s) => s.status)));
        ok(settled.every((s) => s.status === 'fulfilled' || s.reason instanceof TenantConflictError));

        const domains = ['race.example', 'csms.race.example', 'x.csms.race.example', 'race.example', 'csms.race.example', 'x.csms.race.example'];
        const byDomain = await Promise.allSettled(domains.map((d, i) => (i % 2 ? second : store).createTenant(tenant(`d${i}`, `Domain CPO ${i}`, { serverDomains: [d] }))));
        equal(byDomain.filter((s) => s.status === 'fulfilled').length, 1);

        // Updates of distinct tenants racing for one range: one wins.
        await Promise.all(['u1', 'u2', 'u3', 'u4'].map((id) => store.createTenant(tenant(id, `CPO ${id}`))));
        const ranges = ['10.9.0.0/16', '10.9.1.0/24', '10.0.0.0/8', '10.9.0.0/16'];
        const byRange = await Promise.allSettled(ranges.map((r, i) => (i % 2 ? second : store).updateTenant(`u${i + 1}`, (t) => ({ ...t, ipRanges: [r] }))));
        equal(byRange.filter((s) => s.status === 'fulfilled').length, 1);
        deepStrictEqual(findTenantConflicts(await store.listTenants()), []);
      } finally {
        if (second !== store) await second.close();
        await close();
      }
    });

    test('issue 14.3: tenants stored before the claims index: the first write indexes them all; old collisions are reported and may stay, no new one is added', async () => {
      const { store, legacyPut, close } = await fresh();
      try {
        await legacyPut(tenant('old-a', 'Legacy CPO', { serverDomains: ['legacy.example'], allowIpSans: true }));
        await legacyPut(tenant('old-b', 'LEGACY  cpo', { serverDomains: ['csms.legacy.example'] }));
        deepStrictEqual(
          findTenantConflicts(await store.listTenants()).map((c) => [c.rule, c.tenant, c.other]),
          [
            ['Tenant.unique-cpo-name', 'old-a', 'old-b'],
            ['Tenant.unique-server-domain', 'old-b', 'old-a'],
          ],
        );
        // The first write (of another tenant) builds the index from both.
        await refused(store.createTenant(tenant('new', 'legacy cpo')), 'Tenant.unique-cpo-name', 'old-a');
        await refused(store.createTenant(tenant('new', 'New CPO', { serverDomains: ['x.csms.legacy.example'] })), 'Tenant.unique-server-domain', 'old-a');
        // A colliding tenant can still be changed (e.g. disabled) while it keeps what it had...
        await store.updateTenant('old-b', (t) => ({ ...t, disabled: true }));
        // ...but gets nothing new another holds; once one gives its name up, the other still holds it.
        await refused(store.updateTenant('old-b', (t) => ({ ...t, serverDomains: ['legacy.example'] })), 'Tenant.unique-server-domain', 'old-a');
        await store.updateTenant('old-a', (t) => ({ ...t, cpoName: 'Legacy A' }));
        await refused(store.createTenant(tenant('new', 'Legacy CPO')), 'Tenant.unique-cpo-name', 'old-b');
      } finally {
        await close();
      }
    });
  });
}

contract('lmdb', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'evpki-store-tenants-'));
  const store = new LmdbStore(join(dir, 'store'));
  const db = (store as unknown as { db: RootDatabase }).db;
  return {
    store,
    another: () => store,
    legacyPut: async (t) => void (await db.put(['tenant', t.id], t)),
    close: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })),
  };
});

let redis: TestRedis | undefined;
let raw: Redis | undefined;
before(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url);
});
after(async () => {
  raw?.disconnect();
  await redis?.stop();
});
const redisOptions = () => ({ url: redis!.url, commandTimeoutMs: 2000, waitReplicas: 0, waitTimeoutMs: 500 });
contract('redis', async () => {
  await raw!.flushall();
  const store = new RedisStore(redisOptions());
  return {
    store,
    another: () => new RedisStore(redisOptions()),
    legacyPut: async (t) => void (await raw!.multi().set(redisKey('t', t.id), pack(t)).sadd(redisKey('tenants'), t.id).exec()),
    close: () => store.close(),
  };
});
