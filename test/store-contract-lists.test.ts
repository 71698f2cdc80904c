/**
 * The store contract, the operator's lists (issue 19): findStations and findCertificates page from
 * the list indexes that every station and certificate write keeps, alike in both backends.
 */
import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import { ListPositionError, type CertificateListFilter, type CertificateRecord, type IssuanceCoverage, type ListPage, type StationRecord, type Store } from '@evpki/store';
import { cert, storeContract } from './helpers/store-contract.js';

const station = (tenant: string, stationId: string, serialNumber: string, allowed: boolean): StationRecord => ({ tenant, stationId, serialNumber, allowed, createdAt: 'c', updatedAt: 'u' });

/** Every page of a list, `limit` at a time: the ids in order, and how many pages. */
async function all<T>(read: (page: ListPage) => Promise<{ items: T[]; next?: string }>, id: (t: T) => string, limit: number): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await read({ limit, ...(after === undefined ? {} : { after }) });
    pages++;
    ids.push(...page.items.map(id));
    if (page.next === undefined) return { ids, pages };
    ok(pages < 100, 'the pages end');
    after = page.next;
  }
}
const stationIds = (store: Store, tenant: string, filter: Parameters<Store['findStations']>[1], limit = 2) => all((p) => store.findStations(tenant, filter, p), (s) => s.stationId, limit);

/** Listed under their station, whatever their kind (the lists do not depend on the profile's coverage). */
const COVERAGE: IssuanceCoverage = { underActiveIssuer: false, hierarchy: 'csms', presignOcsp: false, stationIndex: true };
const NOW = Date.parse('2026-06-01T00:00:00.000Z');
const day = 86_400_000;
const at = (ms: number) => new Date(ms).toISOString();
/** The certificates of the certificate cases, by name. */
const certs: Record<string, CertificateRecord> = {};
const serials = (...names: string[]) => names.map((n) => certs[n]!.serial);
const find = (store: Store, f: Omit<CertificateListFilter, 'now'>, tenant = 'cpo-a', limit = 2) => all((p) => store.findCertificates(tenant, { ...f, now: NOW }, p), (c) => c.serial, limit);

storeContract('lists', {
  'stations: every page by station id, a tenant sees only its own, the last page has no next': async (store) => {
    await store.putStations([station('cpo-a', 'CP3', 'SN-C', true), station('cpo-a', 'CP1', 'SN-A', true), station('cpo-a', 'CP2', 'CP1-SPARE', false), station('cpo-b', 'CP1', 'SN-A', true)], { replace: false });
    await store.putStation(station('cpo-a', 'X9', 'CP9', false));
    deepStrictEqual(await stationIds(store, 'cpo-a', {}), { ids: ['CP1', 'CP2', 'CP3', 'X9'], pages: 2 });
    deepStrictEqual(await stationIds(store, 'cpo-a', {}, 4), { ids: ['CP1', 'CP2', 'CP3', 'X9'], pages: 1 }, 'a full last page has no next');
    deepStrictEqual(await stationIds(store, 'cpo-b', {}), { ids: ['CP1'], pages: 1 });
    deepStrictEqual(await stationIds(store, 'cpo', {}), { ids: [], pages: 1 });
  },
  'stations: q is a prefix of the id or the serial number, each station once; allowed filters': async (store) => {
    // CP2's serial number CP1-SPARE starts with CP1 too: it is found once, by its serial number.
    deepStrictEqual((await stationIds(store, 'cpo-a', { prefix: 'CP1' })).ids, ['CP1', 'CP2']);
    deepStrictEqual((await stationIds(store, 'cpo-a', { prefix: 'CP' }, 1)).ids, ['CP1', 'CP2', 'CP3', 'X9'], 'X9 by its serial number CP9, CP1 not twice');
    deepStrictEqual((await stationIds(store, 'cpo-a', { prefix: 'SN-' })).ids, ['CP1', 'CP3']);
    deepStrictEqual((await stationIds(store, 'cpo-a', { prefix: 'cp' })).ids, [], 'case-sensitive');
    deepStrictEqual((await stationIds(store, 'cpo-a', { allowed: false })).ids, ['CP2', 'X9']);
    deepStrictEqual((await stationIds(store, 'cpo-a', { allowed: true, prefix: 'CP' })).ids, ['CP1', 'CP3']);
  },
  'stations: the indexes follow replacement, kept batches, deletion and removal': async (store) => {
    await store.putStation(station('cpo-a', 'CP1', 'SN-Z', false));
    deepStrictEqual((await stationIds(store, 'cpo-a', { prefix: 'SN-A' })).ids, [], 'the old serial number is gone from the index');
    deepStrictEqual((await stationIds(store, 'cpo-a', { prefix: 'SN-Z' })).ids, ['CP1']);
    deepStrictEqual((await stationIds(store, 'cpo-a', { allowed: true })).ids, ['CP3']);
    deepStrictEqual(await store.putStations([station('cpo-a', 'CP3', 'SN-Q', false)], { replace: false }), ['kept']);
    deepStrictEqual((await stationIds(store, 'cpo-a', { prefix: 'SN-Q' })).ids, [], 'a kept station keeps its entries');
    // The same station twice in one batch: the second write wins, the first leaves no entry.
    deepStrictEqual(await store.putStations([station('cpo-a', 'CP3', 'SN-R', true), station('cpo-a', 'CP3', 'SN-S', true)], { replace: true }), ['replaced', 'replaced']);
    deepStrictEqual((await stationIds(store, 'cpo-a', { prefix: 'SN-' })).ids, ['CP3', 'CP1'], 'SN-S, SN-Z');
    equal(await store.deleteStation('cpo-a', 'X9'), true);
    await store.removeStation('cpo-a', 'CP2', 'cessationOfOperation', at(NOW), () => []);
    deepStrictEqual((await stationIds(store, 'cpo-a', {})).ids, ['CP1', 'CP3']);
    deepStrictEqual((await stationIds(store, 'cpo-a', { prefix: 'CP9' })).ids, []);
    deepStrictEqual((await stationIds(store, 'cpo-a', { allowed: false })).ids, ['CP1']);
    deepStrictEqual((await store.listStations('cpo-a')).map((s) => s.stationId), ['CP1', 'CP3'], 'listStations reads the same index');
  },
  'certificates: by issuance time (default), each page after the last, another tenant sees none': async (store) => {
    for (const name of Object.keys(certs)) delete certs[name];
    let n = 0;
    const mk = (name: string, over: Partial<CertificateRecord>) => (certs[name] = cert({ issuedAt: at(NOW - 100 * day + n++ * 1000), ...over }));
    mk('a1', { stationId: 'CP1', notAfter: at(NOW + 10 * day), serial: 'a1' });
    mk('a2', { stationId: 'CP1', notAfter: at(NOW - day), serial: 'a2' });
    mk('a3', { stationId: 'CP2', notAfter: at(NOW + 200 * day), serial: 'abc1' });
    mk('v1', { stationId: 'CP2', kind: 'V2GCertificate', notAfter: at(NOW + 40 * day), serial: 'abc2' });
    mk('s1', { stationId: '', kind: 'CSMSServerCertificate', notAfter: at(NOW + 2 * day), serial: 'abd' });
    mk('b1', { tenant: 'cpo-b', stationId: 'CP1', notAfter: at(NOW + 10 * day), serial: 'abc3' });
    for (const c of Object.values(certs)) deepStrictEqual(await store.recordIssuance(c, COVERAGE), { ok: true });
    deepStrictEqual(await find(store, {}), { ids: serials('a1', 'a2', 'a3', 'v1', 's1'), pages: 3 });
    deepStrictEqual((await store.findCertificates('cpo-a', { now: NOW }, { limit: 10 })).order, 'issuedAt');
    deepStrictEqual((await find(store, {}, 'cpo-b')).ids, serials('b1'));
    deepStrictEqual((await find(store, {}, 'cpo')).ids, []);
    deepStrictEqual((await find(store, { issuedSince: Date.parse(certs.a3!.issuedAt) })).ids, serials('a3', 'v1', 's1'));
  },
  'certificates: station, kind, serial prefix, notAfter bounds; status good, expired, revoked at `now`': async (store) => {
    deepStrictEqual((await find(store, { stationId: 'CP1' })).ids, serials('a1', 'a2'));
    deepStrictEqual((await find(store, { kind: 'V2GCertificate' })).ids, serials('v1'));
    deepStrictEqual((await find(store, { kind: 'CSMSServerCertificate' })).ids, serials('s1'));
    const byPrefix = await store.findCertificates('cpo-a', { serialPrefix: 'abc', now: NOW }, { limit: 10 });
    deepStrictEqual([byPrefix.order, byPrefix.items.map((c) => c.serial)], ['serialNumber', serials('a3', 'v1')], 'abc3 is cpo-b\'s');
    const soon = await store.findCertificates('cpo-a', { notAfterAfter: NOW, notAfterBefore: NOW + 30 * day, now: NOW }, { limit: 10 });
    deepStrictEqual([soon.order, soon.items.map((c) => c.serial)], ['notAfter', serials('s1', 'a1')], 'soonest first');
    deepStrictEqual((await find(store, { status: 'expired' })).ids, serials('a2'));
    deepStrictEqual((await find(store, { status: 'good' })).ids, serials('s1', 'a1', 'v1', 'a3'));
    deepStrictEqual((await find(store, { status: 'revoked' })).ids, []);
    await store.revokeCertificate(certs.a1!.serial, 'keyCompromise', at(NOW), () => []);
    await store.removeStation('cpo-a', 'CP2', 'cessationOfOperation', at(NOW), () => []);
    deepStrictEqual((await find(store, { status: 'revoked' })).ids, serials('a1', 'a3', 'v1'));
    deepStrictEqual((await find(store, { status: 'good' })).ids, serials('s1'));
    deepStrictEqual((await find(store, { status: 'revoked', stationId: 'CP2', kind: 'V2GCertificate' })).ids, serials('v1'));
    deepStrictEqual((await find(store, { status: 'revoked', kind: 'V2GCertificate' })).ids, serials('v1'), 'the revoked of a kind');
    deepStrictEqual((await find(store, { status: 'revoked', kind: 'CSMSServerCertificate' })).ids, []);
    deepStrictEqual((await find(store, { status: 'good', notAfterBefore: NOW + 30 * day })).ids, serials('s1'));
    deepStrictEqual((await find(store, { status: 'revoked' }, 'cpo-b')).ids, [], "another tenant's revoked list is its own");
    // Revoked again (reason raised): still once in the revoked list.
    await store.revokeCertificate(certs.a3!.serial, 'keyCompromise', at(NOW), () => []);
    deepStrictEqual((await find(store, { status: 'revoked' }, 'cpo-a', 1)).ids, serials('a1', 'a3', 'v1'));
  },
  'a position no page gave is refused; a position of another list reads only this tenant': async (store) => {
    await rejects(store.findCertificates('cpo-a', { now: NOW }, { limit: 5, after: 'a\nb' }), ListPositionError);
    await rejects(store.findStations('cpo-a', {}, { limit: 5, after: '' }), ListPositionError);
    const b = await store.findCertificates('cpo-b', { now: NOW }, { limit: 5, after: '0' });
    deepStrictEqual(b.items.map((c) => c.tenant), ['cpo-b']);
  },
});
