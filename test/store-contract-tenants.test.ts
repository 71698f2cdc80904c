/**
 * The store contract, tenants, stations and issuers: both backends (helpers/store-contract.ts).
 */
import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { storeContract } from './helpers/store-contract.js';

const base = { cpoName: 'CPO T', disabled: false, createdAt: 'c' };

storeContract('tenants, stations, issuers', {
  'a tenant round-trips; an unknown one is undefined': async (store) => {
    await store.putTenant({ id: 'cpo-a', cpoName: 'CPO A', disabled: false, createdAt: 'x', serverDomains: ['a.example'], rateLimits: { stationCsrsPerDay: 3 } });
    deepStrictEqual(await store.getTenant('cpo-a'), { id: 'cpo-a', cpoName: 'CPO A', disabled: false, createdAt: 'x', serverDomains: ['a.example'], rateLimits: { stationCsrsPerDay: 3 } });
    equal(await store.getTenant('nope'), undefined);
  },

  'a station round-trips; putStation tells created from replaced, deleteStation deleted from absent': async (store) => {
    const st = { tenant: 'cpo-a', stationId: 'st:1/é', serialNumber: 'SN1', allowed: true, createdAt: 'c', updatedAt: 'u' };
    deepStrictEqual(await store.putStation(st), { created: true });
    deepStrictEqual(await store.putStation({ ...st, allowed: false }), { created: false });
    deepStrictEqual(await store.getStation('cpo-a', 'st:1/é'), { ...st, allowed: false });
    // Parts are separated unambiguously: ('cpo-a:st', '1/é') is another station.
    equal(await store.getStation('cpo-a:st', '1/é'), undefined);
    equal(await store.deleteStation('cpo-a', 'st:1/é'), true);
    equal(await store.deleteStation('cpo-a', 'st:1/é'), false);
  },

  'ISO 15118 fields are part of the records (no schema change): tenant operatorIds and station seccIds round-trip, by putStations too': async (store) => {
    const tenant = { id: 'cpo-v2g', cpoName: 'CPO V', disabled: false, createdAt: 'x', operatorIds: ['DE*ABC', 'DE*ABD'] };
    await store.putTenant(tenant);
    deepStrictEqual(await store.getTenant('cpo-v2g'), tenant);
    const st = { tenant: 'cpo-v2g', stationId: 'evse-1', serialNumber: 'SN1', allowed: true, seccIds: ['DE*ABC*E1', 'DEABCE2'], createdAt: 'c', updatedAt: 'u' };
    await store.putStation(st);
    deepStrictEqual(await store.getStation('cpo-v2g', 'evse-1'), st);
    const other = { ...st, stationId: 'evse-2', seccIds: ['DE*ABC*E3'] };
    deepStrictEqual(await store.putStations([other], { replace: false }), ['created']);
    deepStrictEqual(await store.getStation('cpo-v2g', 'evse-2'), other);
  },

  'issuers round-trip and list by id': async (store) => {
    const issuer = { id: 'sub-1', hierarchy: 'csms', role: 'issuing' as const, parentId: 'root-1', certificate: randomBytes(500), state: 'active' as const, createdAt: 'c' };
    await store.putIssuer(issuer);
    await store.putIssuer({ ...issuer, id: 'root-1', role: 'root', parentId: 'root-1' });
    deepStrictEqual(await store.getIssuer('sub-1'), issuer);
    deepStrictEqual((await store.listIssuers()).map((i) => i.id), ['root-1', 'sub-1']);
  },

  'createTenant writes only when absent: of concurrent creates exactly one wins': async (store) => {
    equal(await store.createTenant({ id: 't-new', ...base }), true);
    equal(await store.createTenant({ id: 't-new', ...base, cpoName: 'Other' }), false);
    equal((await store.getTenant('t-new'))?.cpoName, 'CPO T');
    const racers = await Promise.all(Array.from({ length: 10 }, (_, i) => store.createTenant({ id: 't-race', ...base, cpoName: `CPO ${i}` })));
    equal(racers.filter(Boolean).length, 1);
    equal((await store.getTenant('t-race'))?.cpoName, `CPO ${racers.indexOf(true)}`);
  },

  'updateTenant returns before and after; an unknown tenant stays absent; the id cannot change': async (store) => {
    equal(await store.updateTenant('t-none', (t) => t), undefined);
    equal(await store.getTenant('t-none'), undefined);
    const changed = await store.updateTenant('t-new', (t) => ({ ...t, disabled: true, rateLimits: { tenantCsrsPerMinute: 0 } }));
    deepStrictEqual(changed, { before: { id: 't-new', ...base }, after: { id: 't-new', ...base, disabled: true, rateLimits: { tenantCsrsPerMinute: 0 } } });
    deepStrictEqual(await store.getTenant('t-new'), changed.after);
    await rejects(store.updateTenant('t-new', (t) => ({ ...t, id: 't-other' })), /cannot change/);
    equal(await store.getTenant('t-other'), undefined);
  },

  'updateTenant read-modify-write loses no update (concurrent, from two instances where the backend has them)': async (store, opened) => {
    await store.putTenant({ id: 't-count', ...base, cpoName: 'CPO Count', rateLimits: { stationCsrsPerDay: 0 } });
    const second = opened.another?.() ?? store;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? second : store).updateTenant('t-count', (t) => ({ ...t, rateLimits: { stationCsrsPerDay: (t.rateLimits?.stationCsrsPerDay ?? 0) + 1 } }))),
    );
    if (second !== store) await second.close();
    equal((await store.getTenant('t-count'))?.rateLimits?.stationCsrsPerDay, 20);
  },

  'listTenants lists every tenant by id, as getTenant has it': async (store) => {
    const ids = (await store.listTenants()).map((t) => t.id);
    for (const id of ['cpo-a', 't-count', 't-new', 't-race']) ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
    deepStrictEqual(ids, [...ids].sort());
    deepStrictEqual((await store.listTenants()).find((t) => t.id === 't-new'), await store.getTenant('t-new'));
  },

  'putStations: a batch in one write; existing stations kept unless replace': async (store) => {
    const st = (stationId: string, serialNumber: string) => ({ tenant: 'bulk', stationId, serialNumber, allowed: true, createdAt: 'c', updatedAt: 'u' });
    deepStrictEqual(await store.putStations([], { replace: false }), []);
    await store.putStation(st('b-1', 'OLD-1'));
    const batch = Array.from({ length: 500 }, (_, i) => st(`b-${i}`, `SN-${i}`));
    const first = await store.putStations(batch, { replace: false });
    equal(first.length, 500);
    equal(first[0], 'created');
    equal(first[1], 'kept', 'an existing station is kept');
    equal(first.filter((o) => o === 'created').length, 499);
    equal((await store.getStation('bulk', 'b-1'))!.serialNumber, 'OLD-1');
    deepStrictEqual(await store.getStation('bulk', 'b-499'), st('b-499', 'SN-499'));
    deepStrictEqual(await store.putStations(batch.slice(0, 3), { replace: false }), ['kept', 'kept', 'kept']);
    deepStrictEqual(await store.putStations([st('b-1', 'NEW-1'), st('b-new', 'SN-new')], { replace: true }), ['replaced', 'created']);
    equal((await store.getStation('bulk', 'b-1'))!.serialNumber, 'NEW-1');
    equal((await store.getStation('bulk', 'b-new'))!.serialNumber, 'SN-new');
  },
});
