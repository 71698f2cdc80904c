import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadOperations, OPENAPI_PATH } from '@evpki/ra';
import { buildOcspRequest } from '@evpki/ocsp';
import { parseCertificate } from '@evpki/x509';
import { newP256Csr } from './helpers/csr.js';
import { certIdFor, parseOcspResponse, postOcsp } from './helpers/ocsp-client.js';
import { makeDevPki, requestJson, startStack, type DevPki, type JsonResponse, type Stack } from './helpers/pki.js';

// Issue 7: a tenant cannot register, sign for, read or revoke another tenant's stations or
// certificates; it gets 404, exactly as for an identifier that does not exist, so that others'
// identifiers cannot be probed. Every /v1 operation is covered (checked against openapi.yaml).

let pki: DevPki;
let stack: Stack;
/** demo's station and certificates, which tenant "other" tries to reach. */
let serial: string;
let serverSerial: string;

const as = async (tenant: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> =>
  requestJson(stack.raUrl + path, method, body, { authorization: `Bearer ${await stack.token(tenant)}`, ...headers });

/** Status and body, minus what differs per request. */
const shape = (r: JsonResponse): unknown => ({ status: r.status, body: r.body });

before(async () => {
  pki = await makeDevPki();
  stack = await startStack(pki);
  await stack.store.putTenant({ id: 'other', cpoName: 'Other CPO', serverDomains: ['other.test'], disabled: false, createdAt: new Date().toISOString() });
  await stack.store.putTenant({ id: 'demo', cpoName: 'Demo CPO', serverDomains: ['demo.local'], disabled: false, createdAt: new Date().toISOString() });
  assert.equal((await as('demo', 'PUT', '/v1/stations/cp-1', { serialNumber: 'CP-ISO-0001', allowed: true })).status, 201);
  const signed = await as('demo', 'POST', '/v1/stations/cp-1/certificates', { csr: newP256Csr('CP-ISO-0001').csr, certificateType: 'ChargingStationCertificate' }, { 'idempotency-key': 'shared-key-1' });
  assert.equal(signed.status, 201);
  serial = signed.body.serialNumber;
  const server = await as('demo', 'POST', '/v1/server-certificates', { csr: newP256Csr('csms.demo.local', 'Demo CPO').csr });
  assert.equal(server.status, 201, JSON.stringify(server.body));
  serverSerial = server.body.serialNumber;
});
after(async () => {
  await stack?.stop();
  pki?.cleanup();
});

/** demo's objects are as they were: station, certificate good. */
async function demoUntouched(): Promise<void> {
  const station = await as('demo', 'GET', '/v1/stations/cp-1');
  assert.equal(station.status, 200);
  assert.equal(station.body.serialNumber, 'CP-ISO-0001');
  const cert = await as('demo', 'GET', `/v1/certificates/${serial}`);
  assert.equal(cert.body.status, 'good');
}

describe('tenant isolation on every endpoint (404, as for what does not exist)', () => {
  const { all: operations, find: operationOf } = loadOperations(OPENAPI_PATH);
  const covered = new Set<string>();
  const cover = (method: string, path: string): void => void covered.add(operationOf(method, path)!.route);

  it('GET a station of another tenant', async () => {
    cover('GET', '/v1/stations/x');
    const theirs = await as('other', 'GET', '/v1/stations/cp-1');
    assert.equal(theirs.status, 404);
    assert.deepEqual(shape(theirs), shape(await as('other', 'GET', '/v1/stations/cp-never')));
  });

  it('list the certificates of another tenant\'s station', async () => {
    cover('GET', '/v1/stations/x/certificates');
    const theirs = await as('other', 'GET', '/v1/stations/cp-1/certificates');
    assert.equal(theirs.status, 404);
    assert.deepEqual(shape(theirs), shape(await as('other', 'GET', '/v1/stations/cp-never/certificates')));
  });

  it('sign for another tenant\'s station', async () => {
    cover('POST', '/v1/stations/x/certificates');
    const body = (cn: string) => ({ csr: newP256Csr(cn, 'Other CPO').csr, certificateType: 'ChargingStationCertificate' });
    const theirs = await as('other', 'POST', '/v1/stations/cp-1/certificates', body('CP-ISO-0001'));
    assert.equal(theirs.status, 404, JSON.stringify(theirs.body));
    assert.equal(theirs.body.violations[0].rule, 'PnC-4.3');
    assert.deepEqual(shape(theirs), shape(await as('other', 'POST', '/v1/stations/cp-never/certificates', body('CP-ISO-0001'))));
    // With demo's O value too: still nothing.
    const asDemoO = await as('other', 'POST', '/v1/stations/cp-1/certificates', { csr: newP256Csr('CP-ISO-0001', 'Demo CPO').csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(asDemoO.status, 404);
  });

  it("sign for another tenant's station through the OCPP 1.6 DataTransfer wrapper", async () => {
    cover('POST', '/v1/stations/x/data-transfer');
    const body = { vendorId: 'org.openchargealliance.iso15118pnc', messageId: 'SignCertificate', data: JSON.stringify({ csr: newP256Csr('CP-ISO-0001', 'Other CPO').csr, certificateType: 'ChargingStationCertificate' }) };
    const theirs = await as('other', 'POST', '/v1/stations/cp-1/data-transfer', body);
    assert.equal(theirs.status, 404, JSON.stringify(theirs.body));
    assert.deepEqual(shape(theirs), shape(await as('other', 'POST', '/v1/stations/cp-never/data-transfer', body)));
  });

  it('an Idempotency-Key another tenant used replays nothing of theirs', async () => {
    assert.equal((await as('other', 'PUT', '/v1/stations/cp-o', { serialNumber: 'CP-OTHER-1', allowed: true })).status, 201);
    const r = await as('other', 'POST', '/v1/stations/cp-o/certificates', { csr: newP256Csr('CP-OTHER-1', 'Other CPO').csr, certificateType: 'ChargingStationCertificate' }, { 'idempotency-key': 'shared-key-1' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.headers.get('idempotent-replayed'), null);
    assert.notEqual(r.body.serialNumber, serial);
  });

  it('register a station under an id another tenant uses: its own, separate station', async () => {
    cover('PUT', '/v1/stations/x');
    const r = await as('other', 'PUT', '/v1/stations/cp-1', { serialNumber: 'CP-OTHER-2', allowed: false });
    assert.equal(r.status, 201, 'a new station of tenant other, not an update of demo\'s');
    await demoUntouched();
    assert.equal((await as('other', 'GET', '/v1/stations/cp-1')).body.serialNumber, 'CP-OTHER-2');
    assert.equal((await as('other', 'GET', '/v1/stations/cp-1/certificates')).body.items.length, 0);
    assert.equal((await as('other', 'DELETE', '/v1/stations/cp-1')).status, 204);
  });

  it('remove another tenant\'s station', async () => {
    cover('DELETE', '/v1/stations/x');
    const theirs = await as('other', 'DELETE', '/v1/stations/cp-1');
    assert.equal(theirs.status, 404);
    assert.deepEqual(shape(theirs), shape(await as('other', 'DELETE', '/v1/stations/cp-never')));
    await demoUntouched();
  });

  it('read another tenant\'s certificates (charge point and server)', async () => {
    cover('GET', '/v1/certificates/01');
    for (const s of [serial, serverSerial, serial.toUpperCase(), `00${serial}`]) {
      const theirs = await as('other', 'GET', `/v1/certificates/${s}`);
      assert.equal(theirs.status, 404);
      assert.deepEqual(shape(theirs), shape(await as('other', 'GET', '/v1/certificates/abcdef0123')));
    }
  });

  it('revoke another tenant\'s certificate', async () => {
    cover('POST', '/v1/certificates/01/revoke');
    for (const s of [serial, serverSerial]) {
      const theirs = await as('other', 'POST', `/v1/certificates/${s}/revoke`, { reason: 'keyCompromise' });
      assert.equal(theirs.status, 404);
      assert.deepEqual(shape(theirs), shape(await as('other', 'POST', '/v1/certificates/abcdef0123/revoke', { reason: 'keyCompromise' })));
    }
    await demoUntouched();
  });

  it('a server certificate for another tenant\'s domain', async () => {
    cover('POST', '/v1/server-certificates');
    const r = await as('other', 'POST', '/v1/server-certificates', { csr: newP256Csr('csms.demo.local', 'Other CPO').csr });
    assert.equal(r.status, 422);
    assert.ok(r.body.violations.some((v: { rule: string }) => v.rule === 'A00.FR.510'), JSON.stringify(r.body));
  });

  it('read another tenant\'s audit entries', async () => {
    cover('GET', '/v1/audit');
    const theirs = await as('other', 'GET', '/v1/audit?limit=1000');
    assert.equal(theirs.status, 200);
    assert.ok(theirs.body.items.length > 0, 'other sees its own entries');
    assert.ok(theirs.body.items.every((e: { tenant?: string }) => e.tenant === 'other'));
    assert.ok(!JSON.stringify(theirs.body).includes(serial), 'nothing about demo\'s certificate');
  });

  it('shared, not per tenant: trust anchors (and the OPCP root pool), and certificate status (as the public OCSP responder answers anyone)', async () => {
    cover('GET', '/v1/trust-anchors');
    cover('POST', '/v1/certificate-status');
    cover('GET', '/v1/root/rootCerts');
    const a = await as('other', 'GET', '/v1/trust-anchors');
    assert.deepEqual(a.body, (await as('demo', 'GET', '/v1/trust-anchors')).body);
    const r = await as('other', 'GET', '/v1/root/rootCerts');
    assert.deepEqual(r.body, (await as('demo', 'GET', '/v1/root/rootCerts')).body);
  });

  it("another tenant's manufacturers: not listed, not readable, not removable, not replaceable, their chains not trusted (details: test/manufacturers.test.ts)", async () => {
    cover('GET', '/v1/manufacturers');
    cover('POST', '/v1/manufacturers');
    cover('GET', '/v1/manufacturers/x');
    cover('DELETE', '/v1/manufacturers/x');
    cover('POST', '/v1/manufacturer-certificates/verify');
    const root = (await as('demo', 'GET', '/v1/trust-anchors')).body.items[0].certificate as string;
    assert.equal((await as('demo', 'POST', '/v1/manufacturers', { name: 'DemoMfr', roots: root })).status, 201);
    assert.deepEqual((await as('other', 'GET', '/v1/manufacturers')).body, { items: [] });
    const theirs = await as('other', 'GET', '/v1/manufacturers/DemoMfr');
    assert.equal(theirs.status, 404);
    assert.deepEqual(shape(theirs), shape(await as('other', 'GET', '/v1/manufacturers/NoSuch')));
    assert.equal((await as('other', 'DELETE', '/v1/manufacturers/DemoMfr')).status, 404);
    // A manufacturer of the same name is other's own: demo's stays as it was.
    assert.equal((await as('other', 'POST', '/v1/manufacturers', { name: 'DemoMfr', roots: root })).status, 201);
    assert.equal((await as('demo', 'GET', '/v1/manufacturers/DemoMfr')).body.createdAt, (await stack.store.getManufacturer('demo', 'DemoMfr'))?.createdAt);
    assert.equal((await as('other', 'DELETE', '/v1/manufacturers/DemoMfr')).status, 204);
    assert.equal((await as('demo', 'GET', '/v1/manufacturers/DemoMfr')).status, 200, "demo's survives other's removal of its own");
    const verdict = await as('other', 'POST', '/v1/manufacturer-certificates/verify', { chain: root });
    assert.equal(verdict.body.valid, false);
  });

  it('list and search stations and certificates: only the caller\'s own, whatever the filters; another tenant\'s cursor is refused', async () => {
    cover('GET', '/v1/stations');
    cover('GET', '/v1/certificates');
    cover('GET', '/v1/certificates/expiring');
    const lists = ['/v1/stations', '/v1/stations?q=cp-1', '/v1/stations?q=CP-ISO', '/v1/stations?allowed=true', '/v1/certificates', `/v1/certificates?serialPrefix=${serial.slice(0, 6)}`, '/v1/certificates?stationId=cp-1', '/v1/certificates?status=good', '/v1/certificates?kind=CSMSServerCertificate', '/v1/certificates/expiring?within=400d'];
    for (const path of lists) {
      const theirs = await as('other', 'GET', path);
      assert.equal(theirs.status, 200, path);
      const text = JSON.stringify(theirs.body);
      assert.ok(!text.includes(serial) && !text.includes(serverSerial) && !text.includes('CP-ISO-0001'), `nothing of demo's in ${path}`);
    }
    const mine = await as('demo', 'GET', '/v1/certificates?limit=1');
    assert.equal(mine.body.items.length, 1);
    assert.ok(mine.body.nextCursor, 'demo has more than one certificate');
    const replayed = await as('other', 'GET', `/v1/certificates?limit=1&cursor=${mine.body.nextCursor}`);
    assert.equal(replayed.status, 400);
    assert.equal(replayed.body.violations[0].rule, 'List.cursor');
  });

  it('the summary counts only the caller\'s own: stations, certificates, OCSP answers about its certificates', async () => {
    cover('GET', '/v1/summary');
    // An OCSP answer about demo's certificate: demo's, never other's.
    const issuer = parseCertificate((await stack.store.getIssuer(pki.manifest.issuers.chargePoint))!.certificate);
    assert.equal(parseOcspResponse((await postOcsp(stack.ocspUrl, buildOcspRequest([certIdFor(issuer, serial)]))).der).singles?.[0]?.status, 'good');
    const demo = (await as('demo', 'GET', '/v1/summary')).body;
    const theirs = await as('other', 'GET', '/v1/summary');
    assert.equal(theirs.status, 200, theirs.text);
    assert.equal(theirs.body.tenant, 'other');
    assert.ok(demo.ocspAnswers.available && demo.ocspAnswers.byStatus.good >= 1, JSON.stringify(demo.ocspAnswers));
    assert.deepEqual(theirs.body.ocspAnswers, { available: true, responders: 1, total: 0, byStatus: { good: 0, revoked: 0, unknown: 0, mixed: 0 } });
    // What other has of its own (a station it registered under an id demo uses, nothing issued), no more.
    const ownStations = (await as('other', 'GET', '/v1/stations?limit=500')).body.items.length;
    const ownCertificates = (await as('other', 'GET', '/v1/certificates?limit=500')).body.items.length;
    assert.deepEqual([theirs.body.stations.total, theirs.body.certificates.total], [ownStations, ownCertificates]);
    assert.ok(demo.certificates.total >= 2 && demo.certificates.total !== theirs.body.certificates.total, 'demo\'s certificates are counted for demo only');
    assert.equal(theirs.body.issuedPerDay.reduce((n: number, d: { count: number }) => n + d.count, 0), ownCertificates);
  });

  it('shared, not per tenant: the CA hierarchies (GET /v1/issuers)', async () => {
    cover('GET', '/v1/issuers');
    const theirs = await as('other', 'GET', '/v1/issuers');
    assert.equal(theirs.status, 200);
    assert.deepEqual(theirs.body, (await as('demo', 'GET', '/v1/issuers')).body);
  });

  it('covers every /v1 operation of openapi.yaml', () => {
    assert.deepEqual([...covered].sort(), operations.map((o) => o.route).sort());
  });
});
