/**
 * The Redis backend's compact encodings (store schemas 6 and 7, libs/store/src/redis-encoding.ts): what
 * is stored per certificate is smaller, reads give back exactly what was written, and what
 * versions before schema 6 wrote (MessagePack maps, a hash of responses) is still read.
 */
import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pack } from 'msgpackr';
import { encodeCertId, OcspResponseSigner } from '@evpki/ocsp';
import { RedisStore, STORE_SCHEMA_VERSION, certificateIndexEntries, redisKey, timeKey, type CertificateRecord, type OcspResponseRecord } from '@evpki/store';
import { parseCertificate, serialFromHex } from '@evpki/x509';
import { certificateWithSpki, spkiOf } from './helpers/keys.js';
import { recordCert } from './helpers/record-cert.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { cert, redisOptions, withActiveIssuer } from './helpers/store-contract.js';

/** A real pre-signed response of a delegated signer (its certificate in the response's certs). */
function signedResponse(signer: OcspResponseSigner, c: CertificateRecord, hash: 'sha1' | 'sha256'): OcspResponseRecord {
  const now = new Date();
  const nextUpdate = new Date(now.getTime() + 3_600_000);
  const certId = encodeCertId(hash, Buffer.alloc(hash === 'sha1' ? 20 : 32, 1), Buffer.alloc(hash === 'sha1' ? 20 : 32, 2), serialFromHex(c.serial));
  const der = signer.sign([{ certId, status: { kind: 'good' }, thisUpdate: now, nextUpdate }], { producedAt: now });
  return { issuerId: c.issuerId, serial: c.serial, hash, certId, der, thisUpdate: now.getTime(), nextUpdate: nextUpdate.getTime(), etag: `"${hash}-etag"` };
}

describe('redis store: compact encodings (schema 6)', () => {
  let r: TestRedis;
  let store: RedisStore;
  let raw: Redis;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signerCert = certificateWithSpki(spkiOf(publicKey));
  const signer = new OcspResponseSigner(privateKey, signerCert);
  before(async () => {
    r = await startRedis();
    store = await withActiveIssuer(new RedisStore(redisOptions(r.url)));
    raw = new Redis(r.url);
  });
  after(async () => {
    raw.disconnect();
    await store.close();
    await r.stop();
  });

  test('a certificate record reads back exactly; its stored form has no field names and is smaller than the MessagePack map', async () => {
    const c = cert({ requestHash: 'ab'.repeat(32) });
    await recordCert(store, c);
    deepStrictEqual(await store.getCertificate(c.serial), c);
    const stored = (await raw.hgetBuffer(redisKey('c', c.serial), 'rec'))!;
    const { status: _s, ...asMap } = c;
    ok(stored.indexOf('sha256Fingerprint') < 0, 'no field names');
    ok(stored.length < pack(asMap).length - 150, `${stored.length} B vs ${pack(asMap).length} B`);
    // Times that do not print back identically, and digests that are not whole lowercase hex, are kept as they are.
    const odd = cert({ notBefore: '2026-01-01T00:00:00Z', spkiSha256: 'ABC', sha256Fingerprint: 'f' });
    await recordCert(store, odd);
    deepStrictEqual(await store.getCertificate(odd.serial), odd);
    // A kind without a code is kept as its name (recorded as a charge point certificate is: its coverage).
    const future = cert({ kind: 'SomeFutureCertificate' });
    ok((await store.recordIssuance(future, { underActiveIssuer: true, hierarchy: 'csms', presignOcsp: true, stationIndex: true })).ok);
    deepStrictEqual(await store.getCertificate(future.serial), future);
  });

  test('a record written before schema 6 (a MessagePack map) is still read, listed and revoked', async () => {
    const c = cert({ stationId: 'legacy' });
    await recordCert(store, c);
    const { status: _s, ...asMap } = c;
    await raw.hset(redisKey('c', c.serial), 'rec', pack(asMap));
    deepStrictEqual(await store.getCertificate(c.serial), c);
    deepStrictEqual(await store.listStationCertificates(c.tenant, 'legacy'), [c]);
    const revoked = await store.revokeCertificate(c.serial, 'superseded', '2026-02-01T00:00:00.000Z', () => []);
    ok(revoked.ok);
    equal((await store.getCertificate(c.serial))?.status, 'revoked');
  });

  test('schema 7: a real DER is deflated against its issuer and profile\'s dictionary (stored once), and reads back byte for byte elsewhere; a record of schema 6 is still read', async () => {
    const certs = [0, 1, 2].map((i) => {
      const der = certificateWithSpki(spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey));
      const { notBefore, notAfter } = parseCertificate(der);
      // The first with the DER's validity (as issued records have it: then null in the record), the others not.
      return cert({ der, ...(i === 0 ? { notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString() } : {}) });
    });
    for (const c of certs) {
      await recordCert(store, c);
      const stored = (await raw.hgetBuffer(redisKey('c', c.serial), 'rec'))!;
      ok(stored.length < c.der.length + 150, `${stored.length} B stored for a ${c.der.length} B DER`);
      equal(stored.indexOf(c.der.subarray(0, 40)), -1, 'the DER is not stored as it is');
    }
    equal(await raw.hlen(redisKey('der-dict')), 1, 'one issuer and profile, one dictionary');
    const fresh = new RedisStore(redisOptions(r.url)); // reads the dictionary from the store
    try {
      for (const c of certs) deepStrictEqual(await fresh.getCertificate(c.serial), c);
      deepStrictEqual((await fresh.findCertificates('cpo-a', { serialPrefix: certs[0]!.serial, now: Date.now() }, { limit: 5 })).items, [certs[0]]);
    } finally {
      await fresh.close();
    }
    // As schema 6 wrote it: the compact array with the DER as it is.
    const old = cert({ der: certs[0]!.der, serial: 'ab12' });
    await recordCert(store, old);
    const { der, issuerId, tenant, stationId, subject } = old;
    await raw.hset(redisKey('c', old.serial), 'rec', pack([1, issuerId, der, 0, tenant, stationId, subject, Date.parse(old.notBefore), Date.parse(old.notAfter), Date.parse(old.issuedAt), Buffer.from(old.spkiSha256, 'hex'), Buffer.from(old.sha256Fingerprint, 'hex')]));
    deepStrictEqual(await store.getCertificate(old.serial), old);
  });

  test('schema 7: certificate list members packed (cl:) page in the order and from the positions of their unpacked form', async () => {
    const tenant = 'cpo-packed';
    const at = (ms: number) => new Date(Date.UTC(2026, 5, 1) + ms).toISOString();
    // Ties in a millisecond, serials of 31 and 32 digits, odd and even, an id that is not hex; two
    // kinds (the issued list is their kind indexes together).
    const serials = ['f'.repeat(31), '1'.repeat(32), 'abc', 'abd0', '0a', 'Z-1'];
    const certs = serials.flatMap((serial, i) => [cert({ tenant, serial, issuedAt: at(i % 2) }), cert({ tenant, serial: `${serial}e`, issuedAt: at(7), ...(i % 3 ? {} : { kind: 'V2GCertificate' }) })]);
    for (const c of certs) ok((await store.recordIssuance(c, { underActiveIssuer: true, hierarchy: 'csms', presignOcsp: true, stationIndex: true })).ok);
    const member = (c: CertificateRecord) => `${timeKey(Date.parse(c.issuedAt))} ${c.serial}`;
    const sorted = certs.map(member).sort();
    const list = async (after?: string) => (await store.findCertificates(tenant, { now: Date.now() }, { limit: 100, ...(after === undefined ? {} : { after }) })).items.map(member);
    deepStrictEqual(await list(), sorted);
    const t0 = timeKey(Date.parse(at(0)));
    for (const after of [...sorted, '0', '1', '~', t0, `${t0} `, `${t0}!`, `${t0}0`, `${t0} b`, t0.slice(0, 10), `${t0.slice(0, 10)}x`, `${t0.slice(0, 10)} `]) deepStrictEqual(await list(after), sorted.filter((m) => m > after), `after ${JSON.stringify(after)}`);
    equal(await raw.exists(redisKey('cx', tenant, 'issued')), 0, 'cx: is no longer written');
    equal(await raw.exists(redisKey('cl', tenant, 'issued')), 0, 'the issued index is the kind indexes together');
    deepStrictEqual(await raw.zrange(redisKey('cl', tenant, 'kinds'), 0, -1), ['ChargingStationCertificate', 'V2GCertificate']);
    const packed = await raw.zrangeBuffer(redisKey('cl', tenant, 'kind', 'ChargingStationCertificate'), 0, 0);
    equal(packed[0]!.length, 7 + 1 + 1, 'a packed member: 7 bytes of time, the serial, its length');
  });

  test('schema 6 to 7: the certificate list indexes of before (cx:, members unpacked) are built again as cl: and deleted', async () => {
    const tenant = 'cpo-upgrade';
    const certs = [cert({ tenant }), cert({ tenant, stationId: 'st-up' }), cert({ tenant })];
    for (const c of certs) await recordCert(store, c);
    await store.revokeCertificate(certs[2]!.serial, 'superseded', '2026-02-01T00:00:00.000Z', () => []);
    const before = await store.findCertificates(tenant, { now: Date.now() }, { limit: 10 });
    const summary = await store.tenantSummary(tenant, Date.now());
    // As schema 6 left it: cx: with the members as list-index.ts has them, no cl:.
    for (const key of await raw.keys(redisKey('cl', tenant) + ':*')) await raw.del(key);
    for (const c of certs) {
      for (const e of certificateIndexEntries((await store.getCertificate(c.serial))!)) await raw.zadd(redisKey('cx', tenant, ...e.index), 0, e.member);
    }
    await raw.set(redisKey('schema'), '6');
    const upgraded = new RedisStore(redisOptions(r.url));
    try {
      const m = await upgraded.migrate();
      deepStrictEqual([m.from, m.to, m.indexedCertificates >= certs.length], [6, STORE_SCHEMA_VERSION, true]);
      deepStrictEqual(await upgraded.findCertificates(tenant, { now: Date.now() }, { limit: 10 }), before);
      deepStrictEqual(await upgraded.findCertificates(tenant, { stationId: 'st-up', now: Date.now() }, { limit: 10 }), { items: [(await store.getCertificate(certs[1]!.serial))!], order: 'issuedAt' });
      deepStrictEqual(await upgraded.tenantSummary(tenant, Date.now()), summary);
      deepStrictEqual(await raw.keys(redisKey('cx') + ':*'), [], 'no cx: key left');
    } finally {
      await upgraded.close();
    }
  });

  test('pre-signed responses: the signer certificate is stored once, not per response; each hash reads back byte for byte', async () => {
    const certs = [cert(), cert()];
    for (const c of certs) {
      await recordCert(store, c);
      const rs = [signedResponse(signer, c, 'sha256'), signedResponse(signer, c, 'sha1')];
      ok(await store.putOcspResponses(c.serial, { status: 'good' }, rs));
      const fresh = new RedisStore(redisOptions(r.url)); // reads the signer's certificates from the store
      try {
        for (const x of rs) deepStrictEqual(await fresh.getOcspResponse(c.issuerId, c.serial, x.hash), x);
      } finally {
        await fresh.close();
      }
      const value = (await raw.getBuffer(redisKey('o', c.issuerId, c.serial)))!;
      equal(value.indexOf(signerCert), -1, 'the signer certificate is not in the response key');
      ok(value.length < rs[0]!.der.length + rs[1]!.der.length - 2 * signerCert.length + 200, `${value.length} B for two responses`);
    }
    equal(await raw.hlen(redisKey('ocsp-tail')), 1, 'one signer, one entry');
  });

  test('a put of one hash keeps the other hashes; a response of another shape is kept whole', async () => {
    const c = cert();
    await recordCert(store, c);
    const sha1 = signedResponse(signer, c, 'sha1');
    ok(await store.putOcspResponses(c.serial, { status: 'good' }, [signedResponse(signer, c, 'sha256'), sha1]));
    const opaque: OcspResponseRecord = { ...signedResponse(signer, c, 'sha256'), der: Buffer.from('not a response'), certId: Buffer.from('cert id') };
    ok(await store.putOcspResponses(c.serial, { status: 'good' }, [opaque]));
    deepStrictEqual(await store.getOcspResponse(c.issuerId, c.serial, 'sha256'), opaque);
    deepStrictEqual(await store.getOcspResponse(c.issuerId, c.serial, 'sha1'), sha1);
  });

  test('responses written before schema 6 (a hash of MessagePack records) are read, then replaced whole by the next put', async () => {
    const c = cert();
    await recordCert(store, c);
    const old = signedResponse(signer, c, 'sha256');
    const { issuerId: _i, serial: _s, hash: _h, ...fields } = old;
    await raw.hset(redisKey('o', c.issuerId, c.serial), 'sha256', pack(fields));
    deepStrictEqual(await store.getOcspResponse(c.issuerId, c.serial, 'sha256'), old);
    equal(await store.getOcspResponse(c.issuerId, c.serial, 'sha1'), undefined);
    const next = [signedResponse(signer, c, 'sha256'), signedResponse(signer, c, 'sha1')];
    ok(await store.putOcspResponses(c.serial, { status: 'good' }, next));
    equal(await raw.type(redisKey('o', c.issuerId, c.serial)), 'string');
    for (const x of next) deepStrictEqual(await store.getOcspResponse(c.issuerId, c.serial, x.hash), x);
    // A revocation drops them, whatever their form.
    ok((await store.revokeCertificate(c.serial, 'keyCompromise', '2026-02-01T00:00:00.000Z', () => [])).ok);
    equal(await store.getOcspResponse(c.issuerId, c.serial, 'sha256'), undefined);
  });
});
