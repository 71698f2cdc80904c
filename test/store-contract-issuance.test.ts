/**
 * The store contract, issuance: recording certificates under the active issuer, their indexes and
 * conflicts, issuer rotation, and the schema 2 migration of key hashes. Both backends
 * (helpers/store-contract.ts).
 */
import { deepStrictEqual, equal } from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { STORE_SCHEMA_VERSION, upToDate } from '@evpki/store';
import { inspectSpki } from '@evpki/x509';
import { certificateWithSpki, compressedEcSpki, rsaSpkiWithoutNull, spkiOf } from './helpers/keys.js';
import { cert, inStoreProcess, storeContract, withActiveIssuer } from './helpers/store-contract.js';
import { recordCert } from './helpers/record-cert.js';

/** What a store written before schema 2 held: no schema marker (the records are written as they were). */
const FORGET_SCHEMA = `
  if (process.env.STORE_LMDB) {
    const { open } = await import('lmdb');
    const db = open({ path: process.env.STORE_LMDB, compression: false });
    await db.remove(['meta', 'schema']);
    await db.close();
  } else {
    const { Redis } = await import('ioredis');
    const r = new Redis(process.env.STORE_REDIS);
    await r.del('evpki:schema');
    r.disconnect();
  }`;

storeContract(
  'issuance',
  {
    'rotation: leaves only under the active issuer, OCSP signers under any': async (store) => {
      const sub1 = (await store.getIssuer('sub-1'))!;
      const sub2 = { ...sub1, id: 'sub-2', state: 'prepared' as const };
      await store.putIssuer(sub2);
      deepStrictEqual(await recordCert(store, cert({ issuerId: 'sub-2' })), { ok: false, conflict: 'issuer' });
      deepStrictEqual(await recordCert(store, cert({ issuerId: 'no-such' })), { ok: false, conflict: 'issuer' });
      const signer = cert({ issuerId: 'sub-2', kind: 'OcspSigningCertificate', notAfter: '2030-01-01T00:00:00.000Z' });
      deepStrictEqual(await recordCert(store, signer), { ok: true }, 'a prepared issuer gets its OCSP signer');
    },

    'rotation: issuerLastExpiry is the last leaf expiry of an issuer; OCSP signers do not count': async (store) => {
      equal(await store.issuerLastExpiry('sub-2'), undefined, 'OCSP signers do not count as leaves');
      const before = (await store.issuerLastExpiry('sub-1')) ?? 0;
      await recordCert(store, cert({ issuerId: 'sub-1', notAfter: '2031-06-01T00:00:00.000Z' }));
      await recordCert(store, cert({ issuerId: 'sub-1', notAfter: '2029-06-01T00:00:00.000Z' }));
      equal(await store.issuerLastExpiry('sub-1'), Math.max(before, Date.parse('2031-06-01T00:00:00.000Z')));
    },

    'rotation: commitRotation is a compare-and-set over the revision read; one of concurrent steps wins': async (store) => {
      // The issuers as the first rotation case left them: sub-1 active, sub-2 prepared.
      const sub1 = (await store.getIssuer('sub-1'))!;
      const sub2 = (await store.getIssuer('sub-2'))!;
      // Activation: one write moves both issuers and the rotation record, only over the revision read.
      equal(await store.getRotation(), undefined);
      const rotation = { hierarchy: 'csms', kind: 'issuer' as const, revision: 1, step: 'prepare' as const, old: { rootId: 'root-1', issuerId: 'sub-1' }, new: { rootId: 'root-1', issuerId: 'sub-2' }, startedAt: 'a', steps: [{ step: 'prepare' as const, at: 'a' }] };
      equal(await store.commitRotation([sub2], rotation, 5), false, 'wrong revision: nothing written');
      equal(await store.getRotation(), undefined);
      equal(await store.commitRotation([sub2], rotation, undefined), true);
      const activated = { ...rotation, revision: 2, step: 'activate' as const };
      const racers = await Promise.all([1, 2, 3].map(() => store.commitRotation([{ ...sub2, state: 'active' }, { ...sub1, state: 'published' }], activated, 1)));
      deepStrictEqual(racers.filter(Boolean).length, 1, 'one of three concurrent steps wins');
      deepStrictEqual(await store.getRotation(), activated);
      equal((await store.getIssuer('sub-2'))!.state, 'active');
      deepStrictEqual(await recordCert(store, cert({ issuerId: 'sub-1' })), { ok: false, conflict: 'issuer' }, 'the old issuer signs no leaves');
      deepStrictEqual(await recordCert(store, cert({ issuerId: 'sub-2', kind: 'CSMSServerCertificate' })), { ok: true });
      // Back to sub-1 for the cases below.
      await store.putIssuer(sub1);
      await store.putIssuer({ ...sub2, state: 'retired' });
    },

    'recordIssuance writes the certificate with its indexes; conflicts write nothing': async (store) => {
      const a = cert({ stationId: 'issue-1' });
      deepStrictEqual(await recordCert(store, a, { tenant: 'cpo-a', key: 'k1', requestHash: 'h1' }), { ok: true });
      deepStrictEqual(await store.getCertificate(a.serial), a);
      equal(await store.isKeyCertified(a.spkiSha256), true);
      deepStrictEqual(await store.getIdempotency('cpo-a', 'k1'), { requestHash: 'h1', serial: a.serial, createdAt: a.issuedAt });

      // Same serial: refused, and the other key is not marked certified.
      const sameSerial = cert({ serial: a.serial, stationId: 'issue-1' });
      deepStrictEqual(await recordCert(store, sameSerial), { ok: false, conflict: 'serial' });
      equal(await store.isKeyCertified(sameSerial.spkiSha256), false);
      // Same key: refused, and no record under the new serial.
      const sameKey = cert({ spkiSha256: a.spkiSha256, stationId: 'issue-1' });
      deepStrictEqual(await recordCert(store, sameKey), { ok: false, conflict: 'key' });
      equal(await store.getCertificate(sameKey.serial), undefined);
      // Taken idempotency key: refused with the existing record; nothing else written.
      const again = cert({ stationId: 'issue-1' });
      deepStrictEqual(await recordCert(store, again, { tenant: 'cpo-a', key: 'k1', requestHash: 'h2' }), {
        ok: false,
        conflict: 'idempotency',
        existing: { requestHash: 'h1', serial: a.serial, createdAt: a.issuedAt },
      });
      equal(await store.getCertificate(again.serial), undefined);
      equal(await store.isKeyCertified(again.spkiSha256), false);
      deepStrictEqual((await store.listStationCertificates('cpo-a', 'issue-1')).map((c) => c.serial), [a.serial]);
    },

    'concurrent issuance of one serial, or of one key, records exactly one': async (store) => {
      const serial = randomBytes(16).toString('hex').replace(/^0+/, '');
      const outcomes = await Promise.all(Array.from({ length: 40 }, () => recordCert(store, cert({ serial, stationId: 'race' }))));
      equal(outcomes.filter((o) => o.ok).length, 1);
      const spki = randomBytes(32).toString('hex');
      const byKey = await Promise.all(Array.from({ length: 40 }, () => recordCert(store, cert({ spkiSha256: spki, stationId: 'race' }))));
      equal(byKey.filter((o) => o.ok).length, 1);
      equal((await store.listStationCertificates('cpo-a', 'race')).length, 2);
    },

    'station certificates list in issuance order; only charge point certificates are indexed': async (store) => {
      const certs = [cert({ stationId: 'order' }), cert({ stationId: 'order' }), cert({ stationId: 'order' })];
      for (const c of [certs[2]!, certs[0]!, certs[1]!]) await recordCert(store, c);
      await recordCert(store, cert({ stationId: 'order', kind: 'CSMSServerCertificate' }));
      deepStrictEqual((await store.listStationCertificates('cpo-a', 'order')).map((c) => c.serial), certs.map((c) => c.serial));
      deepStrictEqual(await store.listStationCertificates('cpo-a', 'nobody'), []);
    },

    // Last: it runs over every record the cases above left (random DER that is no certificate included).
    'issue 14.2: stored key hashes of the bytes a CSR used are migrated to the canonical key (schema 2), once, with several processes at once': async (store, opened) => {
      await withActiveIssuer(store);
      const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      const plain = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      // As the CA recorded them before: the certificate copied the CSR's SPKI, its hash was of those bytes.
      // The last one: the key of the first, in its canonical encoding, certified again (the bug).
      const spkis = [compressedEcSpki(ec), rsaSpkiWithoutNull(rsa), spkiOf(plain), spkiOf(ec)];
      const legacy = spkis.map((spki) => cert({ der: certificateWithSpki(spki), spkiSha256: sha256(spki), stationId: 'legacy' }));
      for (const c of legacy) equal((await recordCert(store, c)).ok, true);
      equal((await store.revokeCertificate(legacy[0]!.serial, 'keyCompromise', '2026-02-01T00:00:00.000Z', () => [])).ok, true);
      await inStoreProcess(opened.childEnv, FORGET_SCHEMA);

      const canonical = [spkiOf(ec), spkiOf(rsa), spkiOf(plain)].map((spki) => inspectSpki(spki).common.spkiSha256);
      equal(canonical[2], legacy[2]!.spkiSha256, 'a key stored in its canonical encoding keeps its hash');
      // Three processes open the store at once and migrate it.
      const HASHES = JSON.stringify(canonical);
      const outs = await Promise.all(
        [1, 2, 3].map(() =>
          inStoreProcess(
            { ...opened.childEnv, HASHES },
            `const h = JSON.parse(process.env.HASHES);
             const migrated = await s.migrate();
             console.log(JSON.stringify({ migrated, blocked: await s.isKeyBlocked(h[0]), certified: await Promise.all(h.map((x) => s.isKeyCertified(x))) }));`,
          ),
        ),
      );
      const results = outs.map((o) => JSON.parse(o) as { migrated: { rewritten: number; keyCertifiedTwice: string[] }; blocked: boolean; certified: boolean[] });
      for (const r of results) deepStrictEqual({ blocked: r.blocked, certified: r.certified }, { blocked: true, certified: [true, true, true] });
      equal(results.reduce((n, r) => n + r.migrated.rewritten, 0), 2, 'each record rewritten once');
      deepStrictEqual(results.flatMap((r) => r.migrated.keyCertifiedTwice), [legacy[3]!.serial, legacy[0]!.serial], 'the key certified twice is reported, once');

      deepStrictEqual(await store.migrate(), upToDate(STORE_SCHEMA_VERSION), 'idempotent');
      for (const [i, c] of legacy.slice(0, 3).entries()) equal((await store.getCertificate(c.serial))?.spkiSha256, canonical[i]);
      equal((await store.getCertificateByKey(canonical[0]!))?.serial, legacy[3]!.serial, 'the index keeps its holder');
      for (const i of [1, 2]) equal((await store.getCertificateByKey(canonical[i]!))?.serial, legacy[i]!.serial);
      for (const c of legacy.slice(0, 2)) {
        equal(await store.isKeyCertified(c.spkiSha256), false, 'the byte hash is gone');
        equal(await store.isKeyBlocked(c.spkiSha256), false);
      }

      // A process that only looks a key up migrates the store first by itself.
      const later = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
      const old = cert({ der: certificateWithSpki(compressedEcSpki(later)), spkiSha256: sha256(compressedEcSpki(later)), stationId: 'legacy' });
      equal((await recordCert(store, old)).ok, true);
      await inStoreProcess(opened.childEnv, FORGET_SCHEMA);
      const H = inspectSpki(spkiOf(later)).common.spkiSha256;
      equal(await inStoreProcess({ ...opened.childEnv, H }, 'console.log(await s.isKeyCertified(process.env.H));'), 'true\n');
      equal(await store.isKeyBlocked(canonical[1]!), false);
    },
  },
  withActiveIssuer,
);
