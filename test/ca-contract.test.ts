import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { CA_API, CA_CONTRACT, CaClient, type CaOperation } from '@evpki/ca-client';
import { AppError, OCSP_CLIENT_CN, RA_CLIENT_CN, createLogger, readServiceTls, routeTable, type RouteKey } from '@evpki/service';
import { Rule } from '@evpki/policy';
import { newP256Csr } from './helpers/csr.js';
import { makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { caRequest } from './helpers/service-tls.js';
import { metricsText, samples } from './helpers/monitoring.js';

/**
 * Issue 15: the CA's internal API is one typed contract (@evpki/ca-client): each operation's method,
 * path, caller, success status, request and answer. The CA serves each operation from it, once
 * (services/ca/src/routes.ts); the RA and the OCSP responder call it with the same CaClient, which
 * these tests use as each of them, against a real CA over mutual TLS.
 */

let pki: DevPki;
let stack: Stack;
let asRa: CaClient;
let asOcsp: CaClient;

before(async () => {
  pki = await makeDevPki();
  stack = await startStack(pki);
  asRa = new CaClient({ baseUrl: stack.caUrl, tls: readServiceTls(pki.dataDir, 'ra-client'), as: RA_CLIENT_CN, timeoutMs: 10_000 });
  asOcsp = new CaClient({ baseUrl: stack.caUrl, tls: readServiceTls(pki.dataDir, 'ocsp-client'), as: OCSP_CLIENT_CN, timeoutMs: 10_000 });
});
after(async () => {
  await asRa.close();
  await asOcsp.close();
  await stack.stop();
  pki.cleanup();
});

/** The AppError a call rejects with. */
async function refusal(call: Promise<unknown>): Promise<AppError> {
  try {
    await call;
  } catch (e) {
    assert.ok(e instanceof AppError, String(e));
    return e;
  }
  assert.fail('the CA accepted the call');
}

const operations = Object.entries(CA_API) as [string, CaOperation<unknown, unknown>][];

describe('the CA contract, both sides', () => {
  it('ping: the CA knows each client by its certificate (the RA and the responder)', async () => {
    assert.equal(await asRa.ping(), true);
    assert.equal(await asOcsp.ping(), true);
    assert.deepEqual(await asOcsp.call(CA_API.ping, undefined), { status: 'ok', client: OCSP_CLIENT_CN, contract: CA_CONTRACT });
  });

  it('ping: a CA below this contract level (it would not count the rate limits) fails the ping, and the log says to upgrade the CAs first', async () => {
    // A CA of before level 2, on the CA's own server certificate: its ping names the client, no level.
    const tls = readServiceTls(pki.dataDir, 'ca-server');
    const old = createHttpsServer({ key: tls.key, cert: tls.cert, ca: [tls.ca], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (req, res) => {
      const client = (req.socket as TLSSocket).getPeerCertificate().subject?.CN;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', client }));
    });
    await new Promise<void>((r) => old.listen(0, '127.0.0.1', r));
    const lines: string[] = [];
    const url = new URL(stack.caUrl);
    url.port = String((old.address() as AddressInfo).port);
    const client = new CaClient({ baseUrl: url.origin, tls: readServiceTls(pki.dataDir, 'ra-client'), as: RA_CLIENT_CN, timeoutMs: 5000, log: createLogger('ra', 'info', { write: (l: string) => void lines.push(l) }) });
    try {
      assert.equal(await client.ping(), false);
      const logged = lines.map((l) => JSON.parse(l) as { msg: string; contract?: number; required?: number }).find((l) => /older than this service/.test(l.msg));
      assert.ok(logged, lines.join('\n'));
      assert.match(logged.msg, /upgrade the CAs first/);
      assert.deepEqual([logged.contract, logged.required], [1, CA_CONTRACT]);
    } finally {
      await client.close();
      old.closeAllConnections();
      await new Promise((r) => old.close(r));
    }
  });

  it('every operation that names a caller refuses the other service: forbidden, A00.FR.703, relayed by the client', async () => {
    for (const [name, op] of operations) {
      if (op.caller === undefined) continue;
      const other = op.caller === RA_CLIENT_CN ? asOcsp : asRa;
      const e = await refusal(other.call(op, {}));
      assert.equal(e.kind, 'forbidden', `${name}: ${e.message}`);
      assert.deepEqual(
        e.violations?.map((v) => v.rule),
        ['A00.FR.703'],
        name,
      );
      assert.match(e.message, new RegExp(`only ${op.caller} may call ${op.path}`), name);
    }
  });

  it("each operation is at its contract path with its method only: another method is 405 with the contract's Allow", async () => {
    for (const [name, op] of operations) {
      const as = op.caller === OCSP_CLIENT_CN ? 'ocsp-client' : 'ra-client';
      const r = await caRequest(pki.dataDir, stack.caUrl, as, op.method === 'GET' ? 'POST' : 'GET', op.path, op.method === 'GET' ? {} : undefined);
      assert.equal(r.status, 405, `${name}: ${r.text}`);
      assert.equal(r.headers.allow, op.method === 'GET' ? 'GET, HEAD' : 'POST', name);
    }
    assert.equal((await caRequest(pki.dataDir, stack.caUrl, 'ra-client', 'POST', '/v1/nope', {})).status, 404);
  });

  it('the RA side: sign, revoke and remove a station through the typed client', async () => {
    await registerStation(stack, 'cp-contract', 'CP-CONTRACT-1');
    const req = { tenant: 'demo', stationId: 'cp-contract', certificateType: 'ChargingStationCertificate', actor: 'contract-test' };
    const first = await asRa.sign({ ...req, csr: newP256Csr('CP-CONTRACT-1').csr });
    assert.equal(first.replayed, false);
    assert.equal(first.certificateType, 'ChargingStationCertificate');
    assert.match(first.certificateChain, /^-----BEGIN CERTIFICATE-----/);
    assert.match(first.serialNumber, /^[0-9a-f]+$/);
    const revoked = await asRa.revoke({ tenant: 'demo', serialNumber: first.serialNumber, reason: 'superseded', actor: 'contract-test' });
    assert.deepEqual([revoked.status, revoked.revocationReason, revoked.changed], ['revoked', 'superseded', true]);
    const second = await asRa.sign({ ...req, csr: newP256Csr('CP-CONTRACT-1').csr });
    const removed = await asRa.removeStation({ tenant: 'demo', stationId: 'cp-contract', actor: 'contract-test' });
    assert.deepEqual(removed, { deleted: true, revoked: [second.serialNumber] });
  });

  it("the responder's side: a delegated signer certificate for its own key", async () => {
    const { csr, key } = newP256Csr('OCSP Signer contract');
    const signer = await asOcsp.ocspSigner({ issuerId: pki.manifest.issuers.chargePoint, csr });
    const cert = new X509Certificate(signer.certificate);
    assert.ok(cert.publicKey.equals(createPublicKey(key)), 'certified for the key of the CSR');
    // The answer's notAfter keeps the milliseconds the certificate's UTCTime drops.
    assert.equal(Math.floor(Date.parse(signer.notAfter) / 1000), Date.parse(cert.validTo) / 1000);
  });

  it('a field the CA refuses is named in the malformed error the client relays', async () => {
    const e = await refusal(asRa.revoke({ tenant: 'demo', serialNumber: 'f'.repeat(41), reason: 'superseded', actor: 'contract-test' }));
    assert.equal(e.kind, 'malformed');
    assert.match(e.message, /serialNumber must be a string of at most 40 characters/);
  });
});

describe("rate limits: the RA's come with each request, the CA counts them in its issuance write", () => {
  it('a station over its day is refused before it is signed (429, RateLimit.station, Retry-After); a replay is answered and counts nothing', async () => {
    await registerStation(stack, 'cp-rate', 'CP-RATE-1');
    const rateLimits = { stationCsrsPerDay: 1, tenantCsrsPerMinute: 0 };
    const req = { tenant: 'demo', stationId: 'cp-rate', certificateType: 'ChargingStationCertificate', actor: 'contract-test', rateLimits };
    const csr = newP256Csr('CP-RATE-1').csr;
    const first = await asRa.sign({ ...req, csr, idempotencyKey: 'rate-first' });
    const over = await refusal(asRa.sign({ ...req, csr: newP256Csr('CP-RATE-1').csr }));
    assert.deepEqual([over.kind, over.violations?.map((v) => v.rule)], ['rate-limited', [Rule.stationRate]]);
    assert.ok((over.retryAfterSeconds ?? 0) > 86_000 && (over.retryAfterSeconds ?? 0) <= 86_400, `Retry-After ${over.retryAfterSeconds}`);
    assert.match(over.message, /at most 1 certificate requests per station in 24 hours/);
    const again = await asRa.sign({ ...req, csr, idempotencyKey: 'rate-first' });
    assert.deepEqual([again.replayed, again.serialNumber], [true, first.serialNumber]);
    assert.deepEqual(
      (await stack.store.listStationCertificates('demo', 'cp-rate')).map((c) => c.serial),
      [first.serialNumber],
      'the refused request recorded nothing',
    );
    // Without the RA's limits (an RA configured with none), the CA counts nothing.
    assert.equal((await asRa.sign({ ...req, rateLimits: { stationCsrsPerDay: 0, tenantCsrsPerMinute: 0 }, csr: newP256Csr('CP-RATE-1').csr })).replayed, false);
  });

  it("CSMS server certificates count in the tenant's window (429, RateLimit.tenant)", async () => {
    const req = { tenant: 'demo', actor: 'contract-test', rateLimits: { stationCsrsPerDay: 0, tenantCsrsPerMinute: 1 } };
    await asRa.signServer({ ...req, csr: newP256Csr('csms.demo.local').csr });
    const over = await refusal(asRa.signServer({ ...req, csr: newP256Csr('csms.demo.local').csr }));
    assert.deepEqual([over.kind, over.violations?.map((v) => v.rule)], ['rate-limited', [Rule.tenantRate]]);
    assert.ok((over.retryAfterSeconds ?? 0) > 0 && (over.retryAfterSeconds ?? 0) <= 60, `Retry-After ${over.retryAfterSeconds}`);
  });

  it('limits that are not whole numbers are malformed, naming the field', async () => {
    const req = { tenant: 'demo', stationId: 'cp-rate', certificateType: 'ChargingStationCertificate', actor: 'contract-test', csr: newP256Csr('CP-RATE-1').csr };
    for (const [rateLimits, message] of [
      [{ stationCsrsPerDay: -1, tenantCsrsPerMinute: 0 }, /rateLimits\.stationCsrsPerDay must be a whole number/],
      [{ stationCsrsPerDay: 1 }, /rateLimits\.tenantCsrsPerMinute must be a whole number/],
      ['many', /rateLimits must be a JSON object/],
    ] as const) {
      const e = await refusal(asRa.sign({ ...req, rateLimits: rateLimits as never }));
      assert.equal(e.kind, 'malformed');
      assert.match(e.message, message);
    }
  });
});

/** The CA's request count of a route and status (0 before its first request). */
async function caRequests(route: string, status: string): Promise<number> {
  return samples(await metricsText(stack.caOpsUrl))
    .filter((x) => x.name === 'pki_ca_http_requests_total' && x.labels.route === route && x.labels.status === status)
    .reduce((a, x) => a + x.value, 0);
}

describe('sign batches: the RA sends the sign requests of one event-loop turn in one call', () => {
  const base = { tenant: 'demo', certificateType: 'ChargingStationCertificate', actor: 'batch-test' };

  it('requests made together travel in one batch; each is counted and answered as if it had come alone', async () => {
    for (let i = 1; i <= 5; i++) await registerStation(stack, `cp-batch-${i}`, `CP-BATCH-${i}`);
    const [batches, signs] = [await caRequests('POST /v1/sign/batch', '200'), await caRequests('POST /v1/sign', '201')];
    const issued = await Promise.all([1, 2, 3, 4, 5].map((i) => asRa.sign({ ...base, stationId: `cp-batch-${i}`, csr: newP256Csr(`CP-BATCH-${i}`).csr }, `batch-test-${i}`)));
    assert.equal(new Set(issued.map((c) => c.serialNumber)).size, 5);
    issued.forEach((c, i) => assert.match(new X509Certificate(c.certificateChain).subject, new RegExp(`CN=CP-BATCH-${i + 1}`)));
    assert.equal((await caRequests('POST /v1/sign/batch', '200')) - batches, 1, 'one call to the CA');
    assert.equal((await caRequests('POST /v1/sign', '201')) - signs, 5, 'five sign requests, counted by their own route');
  });

  it("a refused or malformed request fails alone, with the CA's rule or field; the others in its batch are issued", async () => {
    await registerStation(stack, 'cp-batch-mixed', 'CP-BATCH-MIXED');
    const batches = await caRequests('POST /v1/sign/batch', '200');
    const [good, wrongCn, noCsr] = await Promise.allSettled([
      asRa.sign({ ...base, stationId: 'cp-batch-mixed', csr: newP256Csr('CP-BATCH-MIXED').csr }),
      // CN must be the station's serial number (A00.FR.511), re-checked by the CA.
      asRa.sign({ ...base, stationId: 'cp-batch-mixed', csr: newP256Csr('NOT-THE-SERIAL').csr }),
      asRa.sign({ ...base, stationId: 'cp-batch-mixed' } as never),
    ]);
    assert.equal((await caRequests('POST /v1/sign/batch', '200')) - batches, 1, 'one call to the CA');
    assert.equal(good.status, 'fulfilled');
    assert.equal(wrongCn.status, 'rejected');
    const refused = (wrongCn).reason as AppError;
    assert.equal(refused.kind, 'policy');
    assert.ok(refused.violations?.some((v) => v.rule === 'A00.FR.511'), JSON.stringify(refused.violations));
    const malformed = (noCsr as PromiseRejectedResult).reason as AppError;
    assert.deepEqual([malformed.kind, malformed.message], ['malformed', 'csr is required']);
  });

  it(`the CA reads at most ${CA_API.signBatch.max} requests in a batch, and names what is wrong with one`, async () => {
    const item = { request: { ...base, stationId: 'cp-none', csr: 'x' } };
    const over = await caRequest(pki.dataDir, stack.caUrl, 'ra-client', 'POST', CA_API.signBatch.path, { requests: Array.from({ length: CA_API.signBatch.max + 1 }, () => item) });
    assert.equal(over.status, 400, over.text);
    assert.match(over.text, new RegExp(`requests must be an array of 1 to ${CA_API.signBatch.max} requests`));
    const noRequest = await caRequest(pki.dataDir, stack.caUrl, 'ra-client', 'POST', CA_API.signBatch.path, { requests: [item, { requestId: 'r2' }] });
    assert.equal(noRequest.status, 400);
    assert.match(noRequest.text, /requests\[1\]\.request is required/);
    // An item's problem is its own: the batch itself succeeds.
    const one = await caRequest(pki.dataDir, stack.caUrl, 'ra-client', 'POST', CA_API.signBatch.path, { requests: [item] });
    assert.equal(one.status, 200, one.text);
    const [result] = (JSON.parse(one.text) as { results: { status: number; problem?: { violations?: { rule: string }[] } }[] }).results;
    assert.equal(result!.status, 422);
    assert.deepEqual(result!.problem?.violations?.map((v) => v.rule), [Rule.pkcs10]);
  });

  it('a CA that cannot be reached fails every request of the batch as unavailable, with Retry-After', async () => {
    const nowhere = new CaClient({ baseUrl: 'https://127.0.0.1:1', tls: readServiceTls(pki.dataDir, 'ra-client'), as: RA_CLIENT_CN, timeoutMs: 2_000 });
    try {
      const all = await Promise.allSettled([1, 2, 3].map((i) => nowhere.sign({ ...base, stationId: `cp-${i}`, csr: newP256Csr(`CP-${i}`).csr })));
      for (const r of all) {
        assert.equal(r.status, 'rejected');
        const e = (r).reason as AppError;
        assert.deepEqual([e.kind, e.retryAfterSeconds], ['unavailable', 5]);
      }
    } finally {
      await nowhere.close();
    }
  });
});

describe('routeTable (@evpki/service): what every node:http route table derives', () => {
  const routes: RouteKey[] = [
    { method: 'POST', path: '/ocsp', label: 'POST /ocsp' },
    { method: 'GET', path: /^\/ocsp\//, label: 'GET /ocsp/{request}' },
    { method: 'POST', path: /^\/ocsp\//, label: 'POST /ocsp' },
    { method: 'GET', path: '/healthz', label: 'GET /healthz' },
  ];
  const table = routeTable(routes);

  it('finds a route by method and path; HEAD is GET; a query or another spelling is no route', () => {
    assert.equal(table.find('POST', '/ocsp'), routes[0]);
    assert.equal(table.find('HEAD', '/ocsp/AAAA'), routes[1]);
    assert.equal(table.find('GET', '/healthz?x=1'), undefined);
    assert.equal(table.find('GET', '/HEALTHZ'), undefined);
  });

  it('another method is 405 with Allow (sorted, HEAD with GET); another path is 404', () => {
    assert.deepEqual(table.allowed('/ocsp/AAAA'), ['GET', 'HEAD', 'POST']);
    const e = table.refusal('/healthz');
    assert.deepEqual([e.kind, e.allow], ['method-not-allowed', ['GET', 'HEAD']]);
    assert.deepEqual([table.refusal('/nope', 'no such thing').kind, table.refusal('/nope', 'no such thing').message], ['not-found', 'no such thing']);
  });

  it('a route declared twice stops the service at start', () => {
    assert.throws(() => routeTable([...routes, { method: 'GET', path: '/healthz', label: 'GET /healthz' }]), /routes declared twice: GET \/healthz/);
  });
});
