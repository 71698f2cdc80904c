/**
 * The store contract, findStationBySeccId (EST finds the station of a CSR's SECC-ID, PnC-4.3): the
 * SECC-ID index kept by putStation, putStations, deleteStation and removeStation; both backends.
 */
import { deepStrictEqual, equal } from 'node:assert/strict';
import { Redis } from 'ioredis';
import { pack } from 'msgpackr';
import type { RootDatabase } from 'lmdb';
import { LmdbStore, redisKey, type StationRecord, type Store } from '@evpki/store';
import { storeContract } from './helpers/store-contract.js';

const st = (tenant: string, stationId: string, seccIds?: string[]): StationRecord => ({ tenant, stationId, serialNumber: 'SN1', allowed: true, createdAt: 'c', updatedAt: 'u', ...(seccIds ? { seccIds } : {}) });
const found = async (store: Store, tenant: string, seccId: string): Promise<string | undefined> => (await store.findStationBySeccId(tenant, seccId))?.stationId;

storeContract('findStationBySeccId', {
  "the tenant's station listing the SECC-ID, compared without '*' and case; never another tenant's": async (store) => {
    await store.putStation(st('cpo-a', 'evse-1', ['DE*ABC*E1', 'DE*ABC*E2']));
    await store.putStation(st('cpo-b', 'evse-1', ['DE*XYZ*E1']));
    await store.putStation(st('cpo-a', 'plain'));
    for (const spelling of ['DE*ABC*E1', 'deabce1', 'DEABC*E1']) equal(await found(store, 'cpo-a', spelling), 'evse-1', spelling);
    equal(await found(store, 'cpo-a', 'DE*ABC*E2'), 'evse-1');
    equal(await found(store, 'cpo-a', 'DE*ABC*E3'), undefined);
    equal(await found(store, 'cpo-a', 'DE*XYZ*E1'), undefined, "another tenant's SECC-ID");
    equal(await found(store, 'cpo-b', 'DE*XYZ*E1'), 'evse-1');
    equal(await found(store, 'cpo-a', 'DE*ABC*E'), undefined, 'a prefix of a SECC-ID is not it');
  },
  'an SECC-ID dropped, moved to another station, or its station deleted or removed: no longer found there': async (store) => {
    await store.putStation(st('cpo-a', 'evse-1', ['DE*ABC*E1', 'DE*ABC*E2']));
    await store.putStation(st('cpo-a', 'evse-1', ['DE*ABC*E2']));
    equal(await found(store, 'cpo-a', 'DE*ABC*E1'), undefined);
    await store.putStation(st('cpo-a', 'evse-2', ['DE*ABC*E1']));
    equal(await found(store, 'cpo-a', 'DE*ABC*E1'), 'evse-2');
    // A station deleted: its SECC-IDs are no longer found (one station per SECC-ID: store-contract-secc-unique).
    await store.putStation(st('cpo-a', 'evse-0', ['DE*ABC*E3']));
    equal(await found(store, 'cpo-a', 'DE*ABC*E3'), 'evse-0');
    equal(await store.deleteStation('cpo-a', 'evse-0'), true);
    equal(await found(store, 'cpo-a', 'DE*ABC*E3'), undefined);
    equal(await found(store, 'cpo-a', 'DE*ABC*E2'), 'evse-1');
    deepStrictEqual(await store.removeStation('cpo-a', 'evse-1', 'cessationOfOperation', 'now', () => []), { deleted: true, revoked: [] });
    equal(await found(store, 'cpo-a', 'DE*ABC*E2'), undefined);
    // The same station id written again lists its SECC-IDs anew.
    await store.putStation(st('cpo-a', 'evse-1', ['DE*ABC*E9']));
    equal(await found(store, 'cpo-a', 'DE*ABC*E9'), 'evse-1');
    equal(await found(store, 'cpo-a', 'DE*ABC*E2'), undefined);
  },
  'putStations: replaced and created stations are indexed, a kept one keeps what it had': async (store) => {
    await store.putStation(st('cpo-c', 'evse-1', ['DE*ABC*E1']));
    deepStrictEqual(await store.putStations([st('cpo-c', 'evse-1', ['DE*ABC*E5']), st('cpo-c', 'evse-2', ['DE*ABC*E6'])], { replace: false }), ['kept', 'created']);
    equal(await found(store, 'cpo-c', 'DE*ABC*E1'), 'evse-1');
    equal(await found(store, 'cpo-c', 'DE*ABC*E5'), undefined, 'not written');
    equal(await found(store, 'cpo-c', 'DE*ABC*E6'), 'evse-2');
    deepStrictEqual(await store.putStations([st('cpo-c', 'evse-1', ['DE*ABC*E5'])], { replace: true }), ['replaced']);
    equal(await found(store, 'cpo-c', 'DE*ABC*E5'), 'evse-1');
    equal(await found(store, 'cpo-c', 'DE*ABC*E1'), undefined);
  },
  'stations written before the index existed are found (the index is built on the first lookup)': async (store, opened) => {
    // Written as a version before the index did (no entries, no built mark).
    const legacy = [st('cpo-d', 'old-1', ['DE*ABC*E7']), st('cpo-e', 'old-2', ['DE*XYZ*E7'])];
    if (store instanceof LmdbStore) {
      const db = (store as unknown as { db: RootDatabase }).db;
      for (const s of legacy) await db.put(['station', s.tenant, s.stationId], s);
      await db.remove(['meta', 'secc-index']);
    } else {
      const raw = new Redis(opened.childEnv.STORE_REDIS!);
      for (const s of legacy) await raw.set(redisKey('s', s.tenant, s.stationId), pack(s));
      await raw.del(redisKey('secc-built'));
      raw.disconnect();
    }
    equal(await found(store, 'cpo-d', 'DE*ABC*E7'), 'old-1');
    equal(await found(store, 'cpo-e', 'deXYZe7'), 'old-2');
    equal(await found(store, 'cpo-a', 'DE*ABC*E9'), 'evse-1', 'and those written since');
  },
});
