/**
 * The store contract, listStations (EST finds a station by a CSR's SECC-ID): both backends.
 */
import { deepStrictEqual } from 'node:assert/strict';
import { storeContract } from './helpers/store-contract.js';

const st = (tenant: string, stationId: string) => ({ tenant, stationId, serialNumber: 'SN1', allowed: true, createdAt: 'c', updatedAt: 'u' });

storeContract('listStations', {
  "a tenant's stations by id, none of a tenant whose id extends it or that has a glob character": async (store) => {
    for (const s of [st('cpo-a', 'b:2'), st('cpo-a', 'a/1*'), st('cpo-a-b', 'x'), st('cpo', 'y')]) await store.putStation(s);
    deepStrictEqual((await store.listStations('cpo-a')).map((s) => s.stationId), ['a/1*', 'b:2']);
    deepStrictEqual((await store.listStations('cpo')).map((s) => s.stationId), ['y']);
    deepStrictEqual(await store.listStations('cpo-*'), []);
    deepStrictEqual(await store.listStations('none'), []);
  },
});
