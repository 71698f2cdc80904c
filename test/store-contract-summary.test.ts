/**
 * The store contract, the tenant summary (GET /v1/summary): exact counts of a tenant's stations and
 * certificates from range counts of its own list indexes, alike in both backends, equal to what the
 * lists give for the same filters, and nothing of another tenant.
 */
import { deepStrictEqual } from 'node:assert/strict';
import { SUMMARY_DAYS, type CertificateListFilter, type CertificateRecord, type IssuanceCoverage, type StationRecord, type Store, type TenantSummary } from '@evpki/store';
import { cert, storeContract } from './helpers/store-contract.js';

const COVERAGE: IssuanceCoverage = { underActiveIssuer: false, hierarchy: 'csms', presignOcsp: false, stationIndex: true };
const NOW = Date.parse('2026-06-01T12:00:00.000Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (ms: number) => new Date(ms).toISOString();
const station = (tenant: string, stationId: string, allowed: boolean): StationRecord => ({ tenant, stationId, serialNumber: `SN-${stationId}`, allowed, createdAt: 'c', updatedAt: 'u' });

/** How many certificates a list gives for this filter (every page). */
async function listed(store: Store, tenant: string, f: Omit<CertificateListFilter, 'now'>, now = NOW): Promise<number> {
  let n = 0;
  let after: string | undefined;
  for (;;) {
    const page = await store.findCertificates(tenant, { ...f, now }, { limit: 500, ...(after === undefined ? {} : { after }) });
    n += page.items.length;
    if (page.next === undefined) return n;
    after = page.next;
  }
}

/** The summary's certificate counts, each checked against the list with the same filter. */
async function checkedAgainstLists(store: Store, tenant: string, s: TenantSummary, now = NOW): Promise<void> {
  const c = s.certificates;
  deepStrictEqual(
    { good: c.good, revoked: c.revoked, expired: c.expired, total: c.total, expiring: s.expiring.map((e) => e.count) },
    {
      good: await listed(store, tenant, { status: 'good' }, now),
      revoked: await listed(store, tenant, { status: 'revoked' }, now),
      expired: await listed(store, tenant, { status: 'expired' }, now),
      total: await listed(store, tenant, {}, now),
      // As GET /v1/certificates/expiring?within=<n>d reads it.
      expiring: await Promise.all(s.expiring.map((e) => listed(store, tenant, { status: 'good', notAfterAfter: now, notAfterBefore: now + e.withinDays * DAY + 1 }, now))),
    },
    'the summary counts what the lists list',
  );
}

const perDay = (s: TenantSummary): Record<string, number> => Object.fromEntries(s.issuedPerDay.filter((d) => d.count > 0).map((d) => [d.day, d.count]));
const certs: Record<string, CertificateRecord> = {};

storeContract('summary', {
  'an empty tenant: zeros, and the last 30 UTC days ending today': async (store) => {
    const s = await store.tenantSummary('cpo-a', NOW);
    deepStrictEqual(s.stations, { total: 0, allowed: 0, disallowed: 0 });
    deepStrictEqual(s.certificates, { total: 0, good: 0, revoked: 0, expired: 0 });
    deepStrictEqual(s.expiring, [{ withinDays: 30, count: 0 }, { withinDays: 90, count: 0 }]);
    deepStrictEqual(s.issuedPerDay.length, SUMMARY_DAYS);
    deepStrictEqual([s.issuedPerDay[0]!.day, s.issuedPerDay.at(-1)!.day], ['2026-05-03', '2026-06-01']);
  },
  'stations, certificates by status (revoked wins over expired), issued per day, expiring: exact, the tenant\'s own': async (store) => {
    await store.putStations([station('cpo-a', 'CP1', true), station('cpo-a', 'CP2', true), station('cpo-a', 'CP3', false), station('cpo-b', 'CP1', true)], { replace: false });
    const mk = (name: string, issuedAt: number, notAfter: number, over: Partial<CertificateRecord> = {}) =>
      (certs[name] = cert({ stationId: 'CP1', issuedAt: at(issuedAt), notAfter: at(notAfter), ...over }));
    mk('g1', NOW - HOUR, NOW + 10 * DAY);
    mk('g2', NOW - DAY, NOW + 60 * DAY);
    mk('g3', NOW - 40 * DAY, NOW + 200 * DAY); // issued before the 30 days
    mk('g4', NOW - 3 * DAY, NOW + 30 * DAY); // expiring within 30 days: the bound is included, as in the list
    mk('e1', NOW - 29 * DAY, NOW - DAY); // expired; issued on the first of the 30 days
    mk('r1', NOW - 2 * DAY, NOW + 5 * DAY, { stationId: 'CP2' });
    mk('r2', NOW - 2 * DAY, NOW - HOUR, { stationId: 'CP3' }); // revoked and expired: counted revoked
    mk('b1', NOW - HOUR, NOW + 10 * DAY, { tenant: 'cpo-b' });
    mk('b2', NOW - HOUR, NOW - 1, { tenant: 'cpo-b' });
    for (const c of Object.values(certs)) deepStrictEqual(await store.recordIssuance(c, COVERAGE), { ok: true });
    await store.revokeCertificate(certs.r1!.serial, 'keyCompromise', at(NOW), () => []);
    await store.revokeCertificate(certs.r2!.serial, 'superseded', at(NOW), () => []);
    await store.revokeCertificate(certs.b1!.serial, 'superseded', at(NOW), () => []);
    await store.revokeCertificate(certs.r2!.serial, 'keyCompromise', at(NOW), () => []); // raised again: counted once

    const a = await store.tenantSummary('cpo-a', NOW);
    deepStrictEqual(a.stations, { total: 3, allowed: 2, disallowed: 1 });
    deepStrictEqual(a.certificates, { total: 7, good: 4, revoked: 2, expired: 1 });
    deepStrictEqual(a.expiring, [{ withinDays: 30, count: 2 }, { withinDays: 90, count: 3 }], 'g1 and g4, then g2; r1 is revoked');
    deepStrictEqual(perDay(a), { '2026-06-01': 1, '2026-05-31': 1, '2026-05-30': 2, '2026-05-29': 1, '2026-05-03': 1 });
    await checkedAgainstLists(store, 'cpo-a', a);

    const b = await store.tenantSummary('cpo-b', NOW);
    deepStrictEqual(b.stations, { total: 1, allowed: 1, disallowed: 0 });
    deepStrictEqual(b.certificates, { total: 2, good: 0, revoked: 1, expired: 1 });
    deepStrictEqual(perDay(b), { '2026-06-01': 2 });
    await checkedAgainstLists(store, 'cpo-b', b);
    deepStrictEqual((await store.tenantSummary('cpo', NOW)).certificates.total, 0, 'a tenant whose id is a prefix of another\'s sees none of it');
  },
  'the counts follow time (no write when a certificate expires) and a station removal (its certificates revoked)': async (store) => {
    const later = NOW + 20 * DAY;
    const s = await store.tenantSummary('cpo-a', later);
    // g1 expired (notAfter NOW+10d); r1 expired too but stays revoked.
    deepStrictEqual(s.certificates, { total: 7, good: 3, revoked: 2, expired: 2 });
    deepStrictEqual(s.expiring, [{ withinDays: 30, count: 1 }, { withinDays: 90, count: 2 }], 'g4, then g2');
    deepStrictEqual(perDay(s), { '2026-06-01': 1, '2026-05-31': 1, '2026-05-30': 2, '2026-05-29': 1 }, 'the 30 days end at `now`: e1\'s day is out');
    await checkedAgainstLists(store, 'cpo-a', s, later);
    // CP1's good certificates (g1-g4) are revoked with it; e1 (expired) too: removeStation revokes every good one.
    await store.removeStation('cpo-a', 'CP1', 'cessationOfOperation', at(NOW), () => []);
    const removed = await store.tenantSummary('cpo-a', NOW);
    deepStrictEqual(removed.stations, { total: 2, allowed: 1, disallowed: 1 });
    deepStrictEqual(removed.certificates, { total: 7, good: 0, revoked: 7, expired: 0 });
    deepStrictEqual(removed.expiring, [{ withinDays: 30, count: 0 }, { withinDays: 90, count: 0 }]);
    await checkedAgainstLists(store, 'cpo-a', removed);
  },
});
