/**
 * The store contract, one station per SECC-ID in a tenant (PnC-4.3.secc-id-unique): every station
 * write (putStation, putStations; a registration with a certificate lists none) refuses a station
 * listing a SECC-ID (compared as seccIdKey) that another station of its tenant lists, writing
 * nothing of it; other tenants may list the same SECC-ID. Both backends.
 */
import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import { Redis } from 'ioredis';
import { pack } from 'msgpackr';
import type { RootDatabase } from 'lmdb';
import { coverageOf, profileOf } from '@evpki/issuance';
import { Rule, seccIdKey } from '@evpki/policy';
import { LmdbStore, SeccIdConflictError, redisKey, type StationRecord, type Store } from '@evpki/store';
import { cert, storeContract, withActiveIssuer, type Opened } from './helpers/store-contract.js';

const st = (tenant: string, stationId: string, seccIds?: string[]): StationRecord => ({ tenant, stationId, serialNumber: 'SN1', allowed: true, createdAt: 'c', updatedAt: 'u', ...(seccIds ? { seccIds } : {}) });
const found = async (store: Store, tenant: string, seccId: string): Promise<string | undefined> => (await store.findStationBySeccId(tenant, seccId))?.stationId;

/** A SeccIdConflictError for `stationId` naming the rule, the SECC-ID as written and the other station. */
const conflict = (stationId: string, seccId: string, otherStationId: string) => (e: unknown) => {
  ok(e instanceof SeccIdConflictError, String(e));
  equal(e.rule, Rule.uniqueSeccId);
  equal(e.stationId, stationId);
  deepStrictEqual(e.conflict, { seccId, otherStationId });
  ok(e.message.includes(Rule.uniqueSeccId) && e.message.includes(seccId) && e.message.includes(otherStationId), e.message);
  return true;
};

/**
 * Writes stations as an older version could have (no uniqueness check): the records and their
 * SECC-ID index entries (`entries`: also entries naming stations that do not list them, as a
 * Redis removal before this version left behind).
 */
async function writeLegacy(store: Store, opened: Opened, stations: readonly StationRecord[], stale: readonly { tenant: string; seccId: string; stationId: string }[] = []): Promise<void> {
  const entries = [...stations.flatMap((s) => (s.seccIds ?? []).map((id) => ({ tenant: s.tenant, seccId: id, stationId: s.stationId }))), ...stale];
  if (store instanceof LmdbStore) {
    const db = (store as unknown as { db: RootDatabase }).db;
    for (const s of stations) await db.put(['station', s.tenant, s.stationId], s);
    for (const e of entries) await db.put(['secc', e.tenant, seccIdKey(e.seccId), e.stationId], true);
  } else {
    const raw = new Redis(opened.childEnv.STORE_REDIS!);
    for (const s of stations) await raw.set(redisKey('s', s.tenant, s.stationId), pack(s));
    for (const e of entries) await raw.zadd(redisKey('secc', e.tenant), 0, `${seccIdKey(e.seccId)}\n${e.stationId}`);
    raw.disconnect();
  }
}

storeContract(
  'one station per SECC-ID',
  {
    'putStation: a SECC-ID another station of the tenant lists is refused, any spelling; another tenant may list it': async (store) => {
      await store.putStation(st('cpo-a', 'evse-1', ['DE*ABC*E1', 'DE*ABC*E2']));
      for (const spelling of ['DE*ABC*E1', 'de*abc*e1', 'DEABCE1', 'DE*ABC*E*1'])
        await rejects(store.putStation(st('cpo-a', 'evse-2', ['DE*ABC*E9', spelling])), conflict('evse-2', spelling, 'evse-1'), spelling);
      equal(await store.getStation('cpo-a', 'evse-2'), undefined, 'nothing written');
      equal(await found(store, 'cpo-a', 'DE*ABC*E9'), undefined, 'not indexed either');
      // An existing station replaced with another's SECC-ID: refused, kept as it was.
      await store.putStation(st('cpo-a', 'evse-3', ['DE*ABC*E3']));
      await rejects(store.putStation(st('cpo-a', 'evse-3', ['DE*ABC*E3', 'DE*ABC*E2'])), conflict('evse-3', 'DE*ABC*E2', 'evse-1'));
      deepStrictEqual((await store.getStation('cpo-a', 'evse-3'))?.seccIds, ['DE*ABC*E3']);
      // Its own SECC-IDs, written again (another spelling too): fine.
      deepStrictEqual(await store.putStation(st('cpo-a', 'evse-1', ['DEABCE1', 'DE*ABC*E2'])), { created: false });
      // Other tenants never overlap.
      deepStrictEqual(await store.putStation(st('cpo-b', 'evse-2', ['DE*ABC*E1'])), { created: true });
      equal(await found(store, 'cpo-b', 'DE*ABC*E1'), 'evse-2');
      equal(await found(store, 'cpo-a', 'DE*ABC*E1'), 'evse-1');
      // Dropped by its station (or the station deleted or removed): another may take it.
      await store.putStation(st('cpo-a', 'evse-1', ['DE*ABC*E2']));
      deepStrictEqual(await store.putStation(st('cpo-a', 'evse-2', ['DE*ABC*E1'])), { created: true });
      equal(await store.deleteStation('cpo-a', 'evse-1'), true);
      deepStrictEqual(await store.putStation(st('cpo-a', 'evse-4', ['DE*ABC*E2'])), { created: true });
      await store.removeStation('cpo-a', 'evse-4', 'cessationOfOperation', 'now', () => []);
      deepStrictEqual(await store.putStation(st('cpo-a', 'evse-5', ['DE*ABC*E2'])), { created: true });
      equal(await found(store, 'cpo-a', 'DE*ABC*E2'), 'evse-5');
    },

    'putStations: each station checked against the stored ones and those before it in the batch; the others written': async (store) => {
      await store.putStation(st('cpo-c', 'held', ['DE*ABC*E1']));
      await store.putStation(st('cpo-c', 'mover', ['DE*ABC*E7']));
      deepStrictEqual(
        await store.putStations(
          [
            st('cpo-c', 'c1', ['DE*ABC*E5']),
            st('cpo-c', 'c2', ['de*abc*e5']), // the same as c1's, earlier in the batch
            st('cpo-c', 'c3', ['DE*ABC*E1']), // held's
            st('cpo-c', 'mover', ['DE*ABC*E8']), // drops E7 ...
            st('cpo-c', 'c4', ['DE*ABC*E7']), // ... which c4 may then take
            st('cpo-d', 'c5', ['DE*ABC*E1']), // another tenant
          ],
          { replace: true },
        ),
        ['created', { refused: { seccId: 'de*abc*e5', otherStationId: 'c1' } }, { refused: { seccId: 'DE*ABC*E1', otherStationId: 'held' } }, 'replaced', 'created', 'created'],
      );
      equal(await store.getStation('cpo-c', 'c2'), undefined);
      equal(await store.getStation('cpo-c', 'c3'), undefined);
      equal(await found(store, 'cpo-c', 'DE*ABC*E5'), 'c1');
      equal(await found(store, 'cpo-c', 'DE*ABC*E7'), 'c4');
      equal(await found(store, 'cpo-d', 'DE*ABC*E1'), 'c5');
      // Replacing with another's SECC-ID is refused; without `replace` an existing station is kept unchecked.
      deepStrictEqual(await store.putStations([st('cpo-c', 'c1', ['DE*ABC*E1'])], { replace: true }), [{ refused: { seccId: 'DE*ABC*E1', otherStationId: 'held' } }]);
      deepStrictEqual(await store.putStations([st('cpo-c', 'c1', ['DE*ABC*E1'])], { replace: false }), ['kept']);
      deepStrictEqual((await store.getStation('cpo-c', 'c1'))?.seccIds, ['DE*ABC*E5']);
    },

    'concurrent writes of stations listing one SECC-ID: exactly one is written': async (store, opened) => {
      const other = opened.another?.();
      try {
        const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => (i % 2 && other ? other : store).putStation(st('cpo-h', `race-${i}`, ['DE*ABC*E1', `DE*ABC*F${i}`]))));
        equal(results.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(results.map((r) => r.status)));
        ok(results.every((r) => r.status === 'fulfilled' || r.reason instanceof SeccIdConflictError));
        equal((await store.listStations('cpo-h')).length, 1);
      } finally {
        await other?.close();
      }
    },

    'legacy duplicates: read as before; a write that keeps the duplicate is refused, one that drops it is not': async (store, opened) => {
      await writeLegacy(store, opened, [st('cpo-e', 'dup-1', ['DE*ABC*E8']), st('cpo-e', 'dup-2', ['DE*ABC*E8', 'DE*ABC*E9'])]);
      equal(await found(store, 'cpo-e', 'DE*ABC*E8'), 'dup-1', 'the first by station id, as before');
      await rejects(store.putStation({ ...st('cpo-e', 'dup-2', ['DE*ABC*E8', 'DE*ABC*E9']), allowed: false }), conflict('dup-2', 'DE*ABC*E8', 'dup-1'));
      await rejects(store.putStation(st('cpo-e', 'dup-1', ['DE*ABC*E8'])), conflict('dup-1', 'DE*ABC*E8', 'dup-2'));
      deepStrictEqual(await store.putStations([st('cpo-e', 'dup-1', ['DE*ABC*E8'])], { replace: true }), [{ refused: { seccId: 'DE*ABC*E8', otherStationId: 'dup-2' } }]);
      equal((await store.getStation('cpo-e', 'dup-2'))?.allowed, true, 'kept as it was');
      deepStrictEqual(await store.putStation(st('cpo-e', 'dup-2', ['DE*ABC*E9'])), { created: false });
      deepStrictEqual(await store.putStation({ ...st('cpo-e', 'dup-1', ['DE*ABC*E8']), allowed: false }), { created: false }, 'the duplicate is gone');
    },

    'an index entry left for a station that no longer lists the SECC-ID does not refuse': async (store, opened) => {
      await writeLegacy(store, opened, [st('cpo-f', 'now-without', [])], [
        { tenant: 'cpo-f', seccId: 'DE*ABC*E4', stationId: 'now-without' },
        { tenant: 'cpo-f', seccId: 'DE*ABC*E4', stationId: 'gone' },
      ]);
      deepStrictEqual(await store.putStation(st('cpo-f', 'taker', ['DE*ABC*E4'])), { created: true });
      equal(await found(store, 'cpo-f', 'DE*ABC*E4'), 'taker');
      await rejects(store.putStation(st('cpo-f', 'now-without', ['DE*ABC*E4'])), conflict('now-without', 'DE*ABC*E4', 'taker'));
    },

    'a station registered with its certificate lists no SECC-ID (recordIssuance refuses one that does)': async (store) => {
      const c = cert({ tenant: 'cpo-g', stationId: 'zero-touch' });
      await rejects(store.recordIssuance(c, coverageOf(profileOf(c.kind)!), undefined, { register: st('cpo-g', 'zero-touch', ['DE*ABC*E1']) }), /cannot list SECC-IDs/);
      equal(await store.getCertificate(c.serial), undefined);
      equal(await store.getStation('cpo-g', 'zero-touch'), undefined);
    },
  },
  withActiveIssuer,
);
