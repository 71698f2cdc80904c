/**
 * The store contract, trusted manufacturers (issue 21) and the zero-touch onboarding write: both
 * backends (helpers/store-contract.ts).
 */
import { deepStrictEqual, equal } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ManufacturerRecord, StationRecord } from '@evpki/store';
import { cert, storeContract, withActiveIssuer } from './helpers/store-contract.js';

const coverage = { underActiveIssuer: true, hierarchy: 'csms', presignOcsp: true, stationIndex: true };

const acme: ManufacturerRecord = {
  tenant: 'cpo-a',
  name: 'ACME',
  roots: [randomBytes(300)],
  intermediates: [randomBytes(280)],
  revocation: { crlUrls: ['http://crl.acme.example/root.crl'], ocsp: true, failMode: 'closed' },
  mapping: { serialFrom: 'serialNumber', models: ['W1', 'W2'], modelFrom: 'OU' },
  autoRegister: true,
  createdAt: 'c',
  updatedAt: 'u',
};

const onboarded: StationRecord = {
  tenant: 'cpo-a',
  stationId: 'st-1',
  serialNumber: 'SN1',
  model: 'W1',
  allowed: true,
  manufacturer: { name: 'ACME', certificateSha256: 'ab'.repeat(32), certificateSerial: '1f' },
  createdAt: 'c',
  updatedAt: 'c',
};

/** Each case writes its own stations: the cases of a backend share one store. */
storeContract('manufacturers', {
  'a manufacturer round-trips whole (DER buffers, revocation, mapping); an unknown one is undefined': async (store) => {
    await store.putManufacturer(acme);
    deepStrictEqual(await store.getManufacturer('cpo-a', 'ACME'), acme);
    equal(await store.getManufacturer('cpo-a', 'Other'), undefined);
    equal(await store.getManufacturer('cpo-b', 'ACME'), undefined, "another tenant's name finds nothing");
  },

  'listManufacturers lists a tenant its own, by name; putManufacturer replaces; deleteManufacturer removes once': async (store) => {
    await store.putManufacturer(acme);
    await store.putManufacturer({ ...acme, name: 'Beta' });
    await store.putManufacturer({ ...acme, tenant: 'cpo-b', name: 'Alpha' });
    await store.putManufacturer({ ...acme, autoRegister: false, updatedAt: 'u2' });
    deepStrictEqual((await store.listManufacturers('cpo-a')).map((m) => [m.name, m.autoRegister]), [['ACME', false], ['Beta', true]]);
    deepStrictEqual((await store.listManufacturers('cpo-b')).map((m) => m.name), ['Alpha']);
    deepStrictEqual(await store.listManufacturers('cpo-none'), []);
    equal(await store.deleteManufacturer('cpo-b', 'ACME'), false, "cpo-b cannot remove cpo-a's ACME");
    equal(await store.deleteManufacturer('cpo-a', 'ACME'), true);
    equal(await store.deleteManufacturer('cpo-a', 'ACME'), false);
    deepStrictEqual((await store.listManufacturers('cpo-a')).map((m) => m.name), ['Beta']);
  },

  'recordIssuance with a station to register writes station and certificate in one write': async (store) => {
    await withActiveIssuer(store);
    const c = cert();
    deepStrictEqual(await store.recordIssuance(c, coverage, undefined, { register: onboarded }), { ok: true });
    deepStrictEqual(await store.getStation('cpo-a', 'st-1'), onboarded);
    equal((await store.getCertificate(c.serial))?.serial, c.serial);
    deepStrictEqual((await store.listStationCertificates('cpo-a', 'st-1')).map((x) => x.serial), [c.serial]);
  },

  'recordIssuance refuses to register a station that exists by then, and writes nothing': async (store) => {
    await withActiveIssuer(store);
    const manual: StationRecord = { tenant: 'cpo-a', stationId: 'st-2', serialNumber: 'SN1', allowed: true, createdAt: 'm', updatedAt: 'm' };
    await store.putStation(manual);
    const c = cert({ stationId: 'st-2' });
    deepStrictEqual(await store.recordIssuance(c, coverage, { tenant: 'cpo-a', key: 'k1', requestHash: 'h' }, { register: { ...onboarded, stationId: 'st-2' } }), { ok: false, conflict: 'station' });
    deepStrictEqual(await store.getStation('cpo-a', 'st-2'), manual);
    equal(await store.getCertificate(c.serial), undefined);
    equal(await store.isKeyCertified(c.spkiSha256), false);
    equal(await store.getIdempotency('cpo-a', 'k1'), undefined);
  },

  'a refused issuance (key already certified) registers no station': async (store) => {
    await withActiveIssuer(store);
    const first = cert({ stationId: 'st-0' });
    deepStrictEqual(await store.recordIssuance(first, coverage), { ok: true });
    deepStrictEqual(await store.recordIssuance(cert({ stationId: 'st-3', spkiSha256: first.spkiSha256 }), coverage, undefined, { register: { ...onboarded, stationId: 'st-3' } }), { ok: false, conflict: 'key' });
    equal(await store.getStation('cpo-a', 'st-3'), undefined);
  },
});
