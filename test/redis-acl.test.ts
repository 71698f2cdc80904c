/**
 * Store by role on Redis (issue 15): the CA, RA and OCSP responder each connect as their own ACL
 * user from `pki redis-acl`, allowed only what their store view (libs/store views.ts) runs. The
 * whole system works with the ACLs on, and a real redis-server refuses what a view leaves out.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadStoreConfig } from '@evpki/service';
import { parseCertificate, type ParsedCertificate } from '@evpki/x509';
import { RedisStore, StoreUnavailableError, redisKey, type CaStore, type CertificateRecord, type OcspStore, type RaStore, type Store } from '@evpki/store';
import { startCluster, type Cluster } from './helpers/cluster.js';
import { buildCsr } from './helpers/csr.js';
import { ocspStatusOf } from './helpers/ocsp-client.js';
import { requestJson } from './helpers/pki.js';
import { runPki, sleep, tempDir } from './helpers/processes.js';
import { recordCert } from './helpers/record-cert.js';

let cluster: Cluster;
let token: string;
let issuer: ParsedCertificate;
/** A certificate issued through the RA, good. */
let serial: string;
const clients: Redis[] = [];
const stores: RedisStore[] = [];

const password = (user: string): string => readFileSync(join(cluster.redisPasswordDir!, user), 'utf8').trim();
/** A plain connection as `user` (undefined: not authenticated). */
async function connect(user?: string, pass?: string): Promise<Redis> {
  const r = new Redis(cluster.redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false, retryStrategy: () => null, ...(user ? { username: user, password: pass ?? password(user) } : {}) });
  r.on('error', () => undefined);
  clients.push(r);
  await r.connect();
  return r;
}
/** The store as a service's user has it, typed as the full Store: only Redis stands in the way. */
function storeAs(user: string): Store {
  const s = new RedisStore({ url: cluster.redis.url, username: user, password: password(user), commandTimeoutMs: 2000, waitReplicas: 0, waitTimeoutMs: 1000 });
  stores.push(s);
  return s;
}
const call = (base: string, method: string, path: string, body?: unknown) => requestJson(base + path, method, body, { authorization: `Bearer ${token}` });

before(async () => {
  cluster = await startCluster({ ras: 1, ocsps: 1, acl: true, env: { OCSP_PRESIGN_INTERVAL_MS: '100' } });
  token = await cluster.token();
  issuer = parseCertificate((await cluster.store.getIssuer(cluster.pki.manifest.issuers.chargePoint))!.certificate);
});
after(async () => {
  for (const c of clients) c.disconnect();
  for (const s of stores) await s.close();
  await cluster?.stop();
});

test('issue 15: with every service on its own ACL user, a station is registered, signed, answered by OCSP, revoked and removed, and Redis refused nothing', async () => {
  const ra = cluster.ras[0]!.url;
  const ocsp = cluster.ocsps[0]!.url;
  assert.equal((await call(ra, 'PUT', '/v1/stations/acl-1', { serialNumber: 'ACL-1', allowed: true })).status, 201);
  const csr = () => buildCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { o: 'Demo CPO', cn: 'ACL-1' });
  const signed = await call(ra, 'POST', '/v1/stations/acl-1/certificates', { csr: csr(), certificateType: 'ChargingStationCertificate' });
  assert.equal(signed.status, 201, JSON.stringify(signed.body));
  const second = await call(ra, 'POST', '/v1/stations/acl-1/certificates', { csr: csr(), certificateType: 'ChargingStationCertificate' });
  assert.equal(second.status, 201, JSON.stringify(second.body));
  serial = signed.body.serialNumber as string;
  const target = second.body.serialNumber as string;

  assert.equal(await ocspStatusOf(ocsp, issuer, target), 'good');
  // The responder pre-signs (its schedule and responses: the writes its user has).
  const presigned = async () => (await cluster.store.getOcspResponse(cluster.pki.manifest.issuers.chargePoint, target, 'sha256')) !== undefined;
  for (let i = 0; i < 100 && !(await presigned()); i++) await sleep(100);
  assert.ok(await presigned(), 'the responder stored pre-signed responses');
  // RA reads: the station's certificates, one certificate, trust anchors, the tenant's audit log.
  assert.equal((await call(ra, 'GET', '/v1/stations/acl-1/certificates')).status, 200);
  assert.equal((await call(ra, 'GET', `/v1/certificates/${target}`)).status, 200);
  assert.equal((await call(ra, 'GET', '/v1/trust-anchors')).status, 200);
  const audit = await call(ra, 'GET', '/v1/audit');
  assert.equal(audit.status, 200);
  assert.ok((audit.body.items as { event: string }[]).some((e) => e.event === 'certificate.issued'));

  const revoked = await call(ra, 'POST', `/v1/certificates/${target}/revoke`, { reason: 'keyCompromise' });
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
  let status = '';
  for (let i = 0; i < 50 && (status = await ocspStatusOf(ocsp, issuer, target)) !== 'revoked'; i++) await sleep(100);
  assert.equal(status, 'revoked');
  const crl = await fetch(`${ocsp}/crl/${cluster.pki.manifest.issuers.chargePoint}.crl`);
  assert.equal(crl.status, 200);
  await crl.arrayBuffer();

  // A station removal (the CA revokes its certificates and deletes it), on a station of its own.
  assert.equal((await call(ra, 'PUT', '/v1/stations/acl-2', { serialNumber: 'ACL-2', allowed: true })).status, 201);
  const csr2 = buildCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { o: 'Demo CPO', cn: 'ACL-2' });
  assert.equal((await call(ra, 'POST', '/v1/stations/acl-2/certificates', { csr: csr2, certificateType: 'ChargingStationCertificate' })).status, 201);
  assert.equal((await call(ra, 'DELETE', '/v1/stations/acl-2')).status, 204);
  assert.equal(await cluster.store.getStation('demo', 'acl-2'), undefined);

  // The lists (issue 19): the RA reads the list indexes the CA's and RA's writes kept.
  const stations = await call(ra, 'GET', '/v1/stations?q=ACL-');
  assert.deepEqual([stations.status, (stations.body.items as { stationId: string }[]).map((s) => s.stationId)], [200, ['acl-1']], 'the removed station left the index');
  const revokedList = await call(ra, 'GET', '/v1/certificates?status=revoked');
  assert.equal(revokedList.status, 200, JSON.stringify(revokedList.body));
  assert.equal((revokedList.body.items as { serialNumber: string }[]).length, 2, 'the revoked one and the removed station\'s');
  assert.ok((revokedList.body.items as { serialNumber: string }[]).some((c) => c.serialNumber === target));
  assert.equal((await call(ra, 'GET', '/v1/certificates/expiring?within=400d')).status, 200);
  assert.equal((await call(ra, 'GET', '/v1/issuers')).status, 200);
  // The summary's counts (ZLEXCOUNT on the list indexes, the revoked-by-notAfter one written by the CA's revocations).
  const summary = await call(ra, 'GET', '/v1/summary');
  assert.equal(summary.status, 200, JSON.stringify(summary.body));
  assert.equal((summary.body.certificates as { revoked: number }).revoked, 2);
  assert.equal((summary.body.certificates as { expired: number }).expired, 0);

  // Nothing any service sent was refused (ACL LOG: the pki-cli user administers Redis).
  const admin = await connect('pki-cli');
  assert.deepEqual(await admin.call('ACL', 'LOG'), [], 'no command of any service was refused');
  assert.equal(await cluster.store.getCertificate(serial).then((c) => c?.status), 'good');
});

test('issue 16: the RA user keeps and reads the SECC-ID index (PUT with seccIds, EST lookup, the one-off build), and Redis refused nothing', async () => {
  const ra = cluster.ras[0]!.url;
  assert.equal((await call(ra, 'PUT', '/v1/stations/acl-secc', { serialNumber: 'ACL-SECC', allowed: true, seccIds: ['DE*ACL*E1'] })).status, 201);
  const admin = await connect('pki-cli');
  // As a store from before the index: the RA's first lookup builds it.
  await admin.del(redisKey('secc-built'), redisKey('secc', 'demo'));
  const store = storeAs('pki-ra');
  assert.equal((await store.findStationBySeccId('demo', 'deacle1'))?.stationId, 'acl-secc');
  await store.putStation({ tenant: 'demo', stationId: 'acl-secc-2', serialNumber: 'ACL-SECC-2', allowed: true, createdAt: 'c', updatedAt: 'u', seccIds: ['DE*ACL*E2'] });
  assert.equal((await store.findStationBySeccId('demo', 'DE*ACL*E2'))?.stationId, 'acl-secc-2');
  assert.deepEqual(await admin.call('ACL', 'LOG'), [], 'no command of the RA was refused');
});

test('issue 15: the RA user cannot write a certificate record, nor run a dangerous or admin command (NOPERM)', async () => {
  const ra = await connect('pki-ra');
  const cert = redisKey('c', serial);
  assert.equal(await ra.hget(cert, 'st'), 'good', 'it reads certificates');
  for (const cmd of [
    ['HSET', cert, 'st', 'revoked'],
    ['DEL', cert],
    ['SET', redisKey('k', 'ab'), serial],
    ['SET', redisKey('t', 'demo'), 'x'],
    ['HSET', redisKey('issuers'), 'x', 'y'],
    ['FLUSHALL'],
    ['KEYS', '*'],
    ['CONFIG', 'GET', 'requirepass'],
    ['ACL', 'LIST'],
    ['SUBSCRIBE', 'evpki:ocsp-invalidate'],
  ])
    await assert.rejects(ra.call(cmd[0]!, ...cmd.slice(1)), /^ReplyError: NOPERM|NOPERM/, cmd.join(' '));
  // A script of its own cannot touch a certificate: its keys are outside the RA's script selector.
  await assert.rejects(ra.eval("return redis.call('HSET', KEYS[1], 'st', 'revoked')", 1, cert), /NOPERM/);

  // The RA's store, even cast to the full Store, cannot record, revoke or create anything of the CA's or the CLI's.
  const store = storeAs('pki-ra');
  const fake = { ...(await cluster.store.getCertificate(serial))!, serial: 'acl0ff1ce', spkiSha256: 'f'.repeat(64) } as CertificateRecord;
  await assert.rejects(recordCert(store, fake), /NOPERM|can't access/);
  await assert.rejects(store.revokeCertificate(serial, 'keyCompromise', new Date().toISOString(), () => []), /NOPERM|can't access/);
  await assert.rejects(store.putTenant({ ...(await cluster.store.getTenant('demo'))!, disabled: true }), /NOPERM|can't access/);
  assert.equal(await cluster.store.getCertificate('acl0ff1ce'), undefined, 'nothing recorded');
  assert.equal((await cluster.store.getCertificate(serial))?.status, 'good', 'not revoked');
  assert.equal((await cluster.store.getTenant('demo'))?.disabled, false);
  // What is in its view works.
  assert.equal((await store.getCertificate(serial))?.status, 'good');
});

test('issue 15: the OCSP user writes only responses and its schedule; a script of its own writing a certificate status is refused inside', async () => {
  const ocsp = await connect('pki-ocsp');
  const cert = redisKey('c', serial);
  for (const cmd of [['HSET', cert, 'st', 'revoked'], ['SET', redisKey('s', 'demo', 'x'), 'x'], ['ZADD', redisKey('audit'), '1', 'x'], ['INCR', redisKey('ocsp-epoch')], ['PUBLISH', 'evpki:ocsp-invalidate', '1'], ['FLUSHDB']])
    await assert.rejects(ocsp.call(cmd[0]!, ...cmd.slice(1)), /NOPERM/, cmd.join(' '));
  // Its putOcspResponses script declares the certificate (it reads the status): EVAL passes, the
  // write inside does not, because each command in a script is checked against the user's keys.
  await assert.rejects(ocsp.eval("return redis.call('HSET', KEYS[1], 'st', 'revoked')", 1, cert), /can't access|NOPERM/);
  assert.equal(await ocsp.hget(cert, 'st'), 'good');

  const store = storeAs('pki-ocsp');
  await assert.rejects(store.revokeCertificate(serial, 'keyCompromise', new Date().toISOString(), () => []), /NOPERM|can't access/);
  await assert.rejects(store.putStation({ tenant: 'demo', stationId: 'x', serialNumber: 'X', allowed: true, createdAt: '', updatedAt: '' }), /NOPERM/);
  await assert.rejects(store.appendAudit([{ event: 'x', actor: 'ocsp', outcome: 'ok' }], new Date().toISOString()), /NOPERM|can't access/);
  assert.equal((await cluster.store.getCertificate(serial))?.status, 'good');
});

// The CA user may write issuer and rotation records: it migrates them at start (schema 3).
test('issue 15: the CA user cannot change tenants (the CLI\'s) nor administer Redis', async () => {
  const store = storeAs('pki-ca');
  const tenant = (await cluster.store.getTenant('demo'))!;
  await assert.rejects(store.putTenant({ ...tenant, disabled: true }), /NOPERM|can't access/);
  assert.equal((await cluster.store.getTenant('demo'))?.disabled, tenant.disabled);
  const ca = await connect('pki-ca');
  for (const cmd of [['FLUSHALL'], ['CONFIG', 'SET', 'appendonly', 'no'], ['BGREWRITEAOF'], ['SCRIPT', 'FLUSH'], ['ACL', 'SETUSER', 'x']]) await assert.rejects(ca.call(cmd[0]!, ...cmd.slice(1)), /NOPERM/, cmd.join(' '));
});

test('issue 15: the default user needs its password and may only PING', async () => {
  const anonymous = await connect();
  await assert.rejects(anonymous.get(redisKey('schema')), /NOAUTH/);
  const dflt = await connect('default', password('default'));
  assert.equal(await dflt.ping(), 'PONG');
  await assert.rejects(dflt.get(redisKey('schema')), /NOPERM/);
  await assert.rejects(anonymous.call('AUTH', 'default', 'not-the-password-0123456789abcdef'), /WRONGPASS/);
  await assert.rejects(anonymous.call('AUTH', 'pki-ra', password('pki-ca')), /WRONGPASS/);
  await assert.rejects(anonymous.get(redisKey('schema')), /NOAUTH/);
});

test('issue 15: an RA before the CA has migrated the store is told to try again later, not a bug', async () => {
  const admin = await connect('pki-cli');
  const schema = redisKey('schema');
  const version = await admin.get(schema);
  await admin.del(schema);
  try {
    await assert.rejects(storeAs('pki-ra').isKeyCertified('0'.repeat(64)), (e: unknown) => e instanceof StoreUnavailableError && /Redis user pki-ra may not migrate it: the CA does/.test(e.message));
  } finally {
    await admin.set(schema, version ?? '2');
  }
});

test('issue 15: pki redis-acl keeps existing password files, writes new ones 0600, prints hashes only, refuses a bad one', async () => {
  const dir = join(tempDir('evpki-acl-cli-'), 'pw');
  const first = await runPki(['redis-acl', '--password-dir', dir]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /new password\(s\) for default, pki-ca, pki-ra, pki-ocsp, pki-cli/);
  for (const user of ['default', 'pki-ca', 'pki-ra', 'pki-ocsp', 'pki-cli']) {
    assert.equal(statSync(join(dir, user)).mode & 0o777, 0o600, user);
    const pw = readFileSync(join(dir, user), 'utf8').trim();
    assert.match(pw, /^[0-9a-f]{64}$/);
    assert.ok(!first.stdout.includes(pw), `${user}'s password is not in the ACL file`);
  }
  writeFileSync(join(dir, 'pki-ra'), 'A'.repeat(40) + '\n');
  const second = await runPki(['redis-acl', '--password-dir', dir, '--json']);
  assert.equal(second.code, 0, second.stderr);
  const { aclfile, generated } = JSON.parse(second.stdout) as { aclfile: string; generated: string[] };
  assert.deepEqual(generated, []);
  const line = (text: string, user: string) => text.split('\n').find((l) => l.startsWith(`user ${user} `))!;
  assert.equal(line(aclfile, 'pki-ca'), line(first.stdout, 'pki-ca'), 'an existing file is kept');
  assert.notEqual(line(aclfile, 'pki-ra'), line(first.stdout, 'pki-ra'));
  // The views in the rules: the RA and the OCSP responder only read certificates.
  for (const user of ['pki-ra', 'pki-ocsp']) assert.ok(line(aclfile, user).split(' ').includes('%R~evpki:c:*'), `${user} reads certificates only`);
  assert.ok(line(aclfile, 'pki-ca').split(' ').includes('~evpki:c:*'));
  writeFileSync(join(dir, 'pki-ocsp'), 'hunter2\n');
  const bad = await runPki(['redis-acl', '--password-dir', dir]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /pki-ocsp: a Redis password must be 32 to 256 letters and digits/);
  assert.equal((await runPki(['redis-acl'])).code, 2);
});

test('issue 15: REDIS_USERNAME and REDIS_PASSWORD_FILE give the store its user; a user name that is no ACL user name is refused', () => {
  const file = join(tempDir('evpki-acl-env-'), 'password');
  writeFileSync(file, 'a'.repeat(40) + '\n');
  const config = loadStoreConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_USERNAME: 'pki-ra', REDIS_PASSWORD_FILE: file });
  assert.equal(config.redis?.username, 'pki-ra');
  assert.equal(config.redis?.password, 'a'.repeat(40));
  assert.throws(() => loadStoreConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_USERNAME: 'pki ra' }), /REDIS_USERNAME must be 1\.\.64 letters/);
});

test('issue 15: the views leave out what their service must not call (compile-time)', () => {
  // Type-level only: tsc refuses these calls (@ts-expect-error fails the build when they compile).
  const views = (ca: CaStore, ra: RaStore, ocsp: OcspStore): unknown[] => [
    // @ts-expect-error the RA asks the CA to sign: it records no certificate
    ra.recordIssuance,
    // @ts-expect-error nor revokes one
    ra.revokeCertificate,
    // @ts-expect-error the responder writes no certificate status
    ocsp.revokeCertificate,
    // @ts-expect-error nor stations
    ocsp.putStation,
    // @ts-expect-error tenants are the CLI's
    ca.putTenant,
    // @ts-expect-error issuers and rotations too
    ca.commitRotation,
  ];
  assert.equal(typeof views, 'function');
});
