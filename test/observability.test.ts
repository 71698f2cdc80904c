/**
 * Metrics, health and logs of the three services, on the real in-process stack: /metrics scraped
 * and parsed (Prometheus text format) after issuing, rejecting, revoking and OCSP queries (pre-signed,
 * live-signed, malformed), with bounded route labels; /healthz and /readyz, and /readyz turning 503
 * with store_errors_total rising when the (private) Redis goes down; and the services' pino output
 * at debug level carrying no token, passphrase, private key or Authorization header.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { NOT_ISSUED_STATUS, buildOcspRequest, encodeCertId, issuerHashes, ocspErrorResponse, type SingleStatus } from '@evpki/ocsp';
import { answeredStatus } from '@evpki/ocsp-responder';
import { createLogger, dataPaths } from '@evpki/service';
import { readSecretFile } from '@evpki/keys';
import { parseCertificate, serialFromHex, type ParsedCertificate } from '@evpki/x509';
import { newP256Csr } from './helpers/csr.js';
import { parseOcspResponse } from './helpers/ocsp-client.js';
import { api, makeDevPki, registerStation, requestJson, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { caRequest } from './helpers/service-tls.js';

/** The gauges without a service prefix (k8s/monitoring alerts on them; the scrape's job label names the service). */
const SHARED_GAUGES: ReadonlySet<string> = new Set(['pki_certificate_not_after_seconds', 'pki_crl_next_update_seconds', 'pki_store_up', 'pki_ca_up']);

// ---------------------------------------------------------------------------------------------
// The Prometheus text format (what a scraper reads)

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses a /metrics body: every sample line; comments (HELP, TYPE) checked for shape only. */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) {
      if (line) assert.match(line, /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseMetrics(await res.text());
}

/** The sum of the samples of `name` whose labels include `labels`. */
function sum(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

/** Scrapes before and after `fn`; returns how much a series moved. */
async function moved(url: string, fn: () => Promise<void>): Promise<(name: string, labels?: Record<string, string>) => number> {
  const before = await scrape(url);
  await fn();
  const after = await scrape(url);
  return (name, labels = {}) => sum(after, name, labels) - sum(before, name, labels);
}

function certIdFor(issuer: ParsedCertificate, serial: string, hash: 'sha1' | 'sha256' = 'sha256'): Buffer {
  const h = issuerHashes(issuer)[hash];
  return encodeCertId(hash, h.name, h.key, serialFromHex(serial));
}

async function postOcsp(base: string, body: Buffer): Promise<Buffer> {
  const res = await fetch(`${base}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

const ocspStatus = (der: Buffer): string | number => {
  const p = parseOcspResponse(der);
  return p.status === 0 ? p.singles![0]!.status! : p.status;
};

let seq = 0;
async function issue(stack: Stack): Promise<string> {
  const n = ++seq;
  await registerStation(stack, `obs-${n}`, `CP-OBS-${n}`);
  const r = await api(stack, 'POST', `/v1/stations/obs-${n}/certificates`, { csr: newP256Csr(`CP-OBS-${n}`).csr, certificateType: 'ChargingStationCertificate' });
  assert.equal(r.status, 201, r.text);
  return r.body.serialNumber as string;
}

// ---------------------------------------------------------------------------------------------

describe('metrics, health and readiness of RA, CA and OCSP', () => {
  let pki: DevPki;
  let stack: Stack;
  let issuer: ParsedCertificate;
  before(async () => {
    pki = await makeDevPki();
    stack = await startStack(pki);
    issuer = parseCertificate((await stack.store.getIssuer(pki.manifest.issuers.chargePoint))!.certificate);
  });
  after(async () => {
    await stack?.stop();
    pki?.cleanup();
  });

  it('/healthz and /readyz answer on every service; the responder names a signer for each issuer it serves', async () => {
    for (const base of [stack.raUrl, stack.caOpsUrl, stack.ocspUrl]) {
      const health = await requestJson(`${base}/healthz`, 'GET');
      assert.deepEqual([health.status, health.body], [200, { status: 'ok' }], base);
      const ready = await requestJson(`${base}/readyz`, 'GET');
      assert.equal(ready.status, 200, `${base}: ${ready.text}`);
      assert.equal(ready.body.status, 'ready');
      assert.equal(ready.body.checks.store, true);
    }
    assert.equal((await requestJson(`${stack.raUrl}/readyz`, 'GET')).body.checks.ca, true);
    assert.equal((await requestJson(`${stack.caOpsUrl}/readyz`, 'GET')).body.checks.keys, true);
    const ocsp = (await requestJson(`${stack.ocspUrl}/readyz`, 'GET')).body;
    assert.equal(ocsp.checks.signers, true);
    assert.equal(ocsp.issuers[pki.manifest.issuers.chargePoint].signer, true);
    assert.ok(Date.parse(ocsp.issuers[pki.manifest.issuers.chargePoint].notAfter) > Date.now());
  });

  it('an issuance moves requests, issuances and the CA signing histogram (by kind) on RA and CA', async () => {
    let ra!: Awaited<ReturnType<typeof moved>>;
    const ca = await moved(stack.caOpsUrl, async () => {
      ra = await moved(stack.raUrl, async () => void (await issue(stack)));
    });
    assert.equal(ra('pki_ra_issuances_total', { kind: 'ChargingStationCertificate', outcome: 'issued' }), 1);
    assert.equal(ra('pki_ra_http_requests_total', { route: 'POST /v1/stations/{stationId}/certificates', status: '201' }), 1);
    assert.equal(ra('pki_ra_http_requests_total', { route: 'PUT /v1/stations/{stationId}', status: '201' }), 1);
    assert.equal(ca('pki_ca_issuances_total', { kind: 'ChargingStationCertificate', outcome: 'issued' }), 1);
    assert.equal(ca('pki_ca_http_requests_total', { route: 'POST /v1/sign', status: '201' }), 1);
    assert.equal(ca('pki_ca_sign_duration_seconds_count', { kind: 'ChargingStationCertificate' }), 1);
    assert.ok(ca('pki_ca_sign_duration_seconds_sum', { kind: 'ChargingStationCertificate' }) > 0);
    assert.equal(ca('pki_ca_sign_duration_seconds_bucket', { kind: 'ChargingStationCertificate', le: '+Inf' }), 1);
  });

  it('a policy violation is counted by rule on the RA, and the CA counts its own re-check refusing it', async () => {
    await registerStation(stack, 'obs-wrong-o', 'CP-OBS-WRONG-O');
    const ra = await moved(stack.raUrl, async () => {
      const r = await api(stack, 'POST', '/v1/stations/obs-wrong-o/certificates', { csr: newP256Csr('CP-OBS-WRONG-O', 'Other CPO').csr, certificateType: 'ChargingStationCertificate' });
      assert.equal(r.status, 422, r.text);
      assert.ok(r.body.violations.some((v: { rule: string }) => v.rule === 'A02.FR.13'));
    });
    assert.equal(ra('pki_ra_rejections_total', { rule: 'A02.FR.13' }), 1);
    assert.equal(ra('pki_ra_issuances_total', { kind: 'ChargingStationCertificate', outcome: 'rejected' }), 1);
    assert.equal(ra('pki_ra_http_requests_total', { route: 'POST /v1/stations/{stationId}/certificates', status: '422' }), 1);

    // The CA trusts no caller: the same request sent to it directly is refused by its own policy run.
    const ca = await moved(stack.caOpsUrl, async () => {
      const r = await caRequest(pki.dataDir, stack.caUrl, 'ra-client', 'POST', '/v1/sign', {
        actor: 'test',
        tenant: 'demo',
        stationId: 'obs-wrong-o',
        csr: newP256Csr('CP-OBS-WRONG-O', 'Other CPO').csr,
        certificateType: 'ChargingStationCertificate',
      });
      assert.equal(r.status, 422, r.text);
    });
    assert.equal(ca('pki_ca_rejections_total', { rule: 'A02.FR.13' }), 1);
    assert.equal(ca('pki_ca_issuances_total', { kind: 'ChargingStationCertificate', outcome: 'rejected' }), 1);
    assert.equal(ca('pki_ca_http_requests_total', { route: 'POST /v1/sign', status: '422' }), 1);
  });

  it('OCSP: pre-signed and live answers by status and source, live signing latency, malformed requests', async () => {
    const good = await issue(stack);
    const revoked = await issue(stack);
    await stack.ocsp.presigner.runOnce();
    const nonce = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const ocsp = await moved(stack.ocspUrl, async () => {
      // Pre-signed: a single CertID without a nonce, after the pre-signer ran.
      assert.equal(ocspStatus(await postOcsp(stack.ocspUrl, buildOcspRequest([certIdFor(issuer, good)]))), 'good');
      // Live: with a nonce.
      assert.equal(ocspStatus(await postOcsp(stack.ocspUrl, buildOcspRequest([certIdFor(issuer, good)], nonce))), 'good');
      // Live: revoked, asked before the pre-signer ran again (the revocation dropped the pre-signed answers).
      const r = await api(stack, 'POST', `/v1/certificates/${revoked}/revoke`, { reason: 'keyCompromise' });
      assert.equal(r.status, 200, r.text);
      assert.equal(ocspStatus(await postOcsp(stack.ocspUrl, buildOcspRequest([certIdFor(issuer, revoked)]))), 'revoked');
      // GET with the request in the path (pre-signed, SHA-1 CertID).
      const get = await fetch(`${stack.ocspUrl}/ocsp/${encodeURIComponent(buildOcspRequest([certIdFor(issuer, good, 'sha1')]).toString('base64'))}`);
      assert.equal(ocspStatus(Buffer.from(await get.arrayBuffer())), 'good');
      // Malformed.
      assert.equal(ocspStatus(await postOcsp(stack.ocspUrl, Buffer.from('not DER'))), 1);
    });
    assert.equal(ocsp('pki_ocsp_responses_total', { status: 'good', source: 'presigned', method: 'POST' }), 1);
    assert.equal(ocsp('pki_ocsp_responses_total', { status: 'good', source: 'live', method: 'POST' }), 1);
    assert.equal(ocsp('pki_ocsp_responses_total', { status: 'revoked', source: 'live', method: 'POST' }), 1);
    assert.equal(ocsp('pki_ocsp_responses_total', { status: 'good', source: 'presigned', method: 'GET' }), 1);
    assert.equal(ocsp('pki_ocsp_responses_total', { status: 'malformedRequest', source: 'unsigned', method: 'POST' }), 1);
    // By tenant (GET /v1/summary): the certificates' tenant, none ("") for an answer about no certificate.
    assert.equal(ocsp('pki_ocsp_responses_total', { tenant: 'demo' }), 4);
    assert.equal(ocsp('pki_ocsp_responses_total', { status: 'malformedRequest', tenant: '' }), 1);
    assert.equal(ocsp('pki_ocsp_sign_duration_seconds_count', { kind: 'live' }), 2);
    assert.equal(ocsp('pki_ocsp_http_requests_total', { route: 'POST /ocsp', status: '200' }), 4);
    assert.equal(ocsp('pki_ocsp_http_requests_total', { route: 'GET /ocsp/{request}', status: '200' }), 1);
    // The old unprefixed name is gone.
    assert.equal((await scrape(stack.ocspUrl)).filter((s) => s.name.startsWith('ocsp_')).length, 0);
  });

  it('the status label of a pre-signed answer is read from its DER as pkijs reads it', () => {
    const signer = stack.ocsp.signers.get(pki.manifest.issuers.chargePoint)!;
    const at = new Date();
    const single = (serial: string, status: SingleStatus) => ({ certId: certIdFor(issuer, serial), status, thisUpdate: at, nextUpdate: new Date(at.getTime() + 3_600_000) });
    const revoked: SingleStatus = { kind: 'revoked', revokedAt: at, reason: 'keyCompromise' };
    const cases: [string, Buffer, string | undefined][] = [
      ['good', signer.sign([single('1a', { kind: 'good' })], { producedAt: at }), 'good'],
      ['revoked', signer.sign([single('1b', revoked)], { producedAt: at }), 'revoked'],
      ['never issued (revoked, extended)', signer.sign([single('1c', NOT_ISSUED_STATUS)], { producedAt: at, extendedRevoke: true }), 'revoked'],
      ['unknown', signer.sign([single('1d', { kind: 'unknown' })], { producedAt: at }), 'unknown'],
      ['two the same', signer.sign([single('1e', { kind: 'good' }), single('1f', { kind: 'good' })], { producedAt: at }), 'good'],
      ['mixed', signer.sign([single('20', { kind: 'good' }), single('21', revoked)], { producedAt: at }), 'mixed'],
      ['an error status', ocspErrorResponse('tryLater'), undefined],
      ['garbage', Buffer.from('30820000', 'hex'), undefined],
    ];
    for (const [name, der, want] of cases) {
      assert.equal(answeredStatus(der), want, name);
      if (want && want !== 'mixed') assert.equal(ocspStatus(der), want, `${name}: pkijs agrees`);
    }
    // Truncated anywhere: never a throw, never a wrong status.
    const good = cases[0]![1];
    for (let n = 0; n < good.length; n++) assert.ok([undefined, 'good'].includes(answeredStatus(good.subarray(0, n))), `truncated to ${n}`);
  });

  it('a revocation is counted on the RA and CA routes; the CA counts a refused revocation reason by rule', async () => {
    const serial = await issue(stack);
    const ra = await moved(stack.raUrl, async () => {
      assert.equal((await api(stack, 'POST', `/v1/certificates/${serial}/revoke`, { reason: 'cessationOfOperation' })).status, 200);
      assert.equal((await api(stack, 'POST', `/v1/certificates/${serial}/revoke`, { reason: 'removeFromCRL' })).status, 422);
    });
    assert.equal(ra('pki_ra_http_requests_total', { route: 'POST /v1/certificates/{serialNumber}/revoke', status: '200' }), 1);
    assert.equal(ra('pki_ra_rejections_total', { rule: 'RFC5280-5.3.1' }), 1);
  });

  it('route labels stay bounded: templates, never raw paths, OCSP requests or unknown URLs', async () => {
    const probe = 'probe0123456789abcdef';
    await requestJson(`${stack.raUrl}/v1/stations/${probe}`, 'GET');
    await requestJson(`${stack.raUrl}/${probe}`, 'GET');
    await requestJson(`${stack.raUrl}/v1/${probe}`, 'POST', {});
    await requestJson(`${stack.caOpsUrl}/${probe}`, 'GET');
    await fetch(`${stack.ocspUrl}/${probe}`);
    await fetch(`${stack.ocspUrl}/ocsp/${probe}`);
    await fetch(`${stack.ocspUrl}/issuers/${probe}.der`);
    for (const [name, base] of [
      ['ra', stack.raUrl],
      ['ca', stack.caOpsUrl],
      ['ocsp', stack.ocspUrl],
    ] as const) {
      const samples = await scrape(base);
      const routes = [...new Set(samples.filter((s) => s.name === `pki_${name}_http_requests_total`).map((s) => s.labels.route!))];
      for (const r of routes) {
        assert.ok(!r.includes(probe), `${name} route label ${r}`);
        assert.match(r, /^(unmatched|(GET|POST|PUT|DELETE) \/[A-Za-z0-9/{}._-]*)$/, `${name} route label ${r}`);
      }
      assert.ok(routes.includes('unmatched'), `${name}: ${routes.join(', ')}`);
      // Every series name follows pki_<service>_…, but the expiry and health gauges (libs/service/src/health-metrics.ts), named alike on every service so that one alert covers them all.
      for (const s of samples) assert.ok(s.name.startsWith(`pki_${name}_`) || SHARED_GAUGES.has(s.name), s.name);
    }
    const ra = await scrape(stack.raUrl);
    assert.ok(sum(ra, 'pki_ra_http_requests_total', { route: 'GET /v1/stations/{stationId}', status: '401' }) >= 1);
    const ocsp = await scrape(stack.ocspUrl);
    assert.ok(sum(ocsp, 'pki_ocsp_http_requests_total', { route: 'GET /issuers/{issuerId}.der', status: '404' }) >= 1);
    assert.ok(sum(ocsp, 'pki_ocsp_responses_total', { status: 'malformedRequest', method: 'GET' }) >= 1);
  });
});

describe('readiness and store errors when the store goes down (private Redis)', () => {
  let redis: TestRedis;
  let pki: DevPki;
  let stack: Stack;
  before(async () => {
    redis = await startRedis();
    pki = await makeDevPki('ecdsa-p256', { ...redis.env, REDIS_COMMAND_TIMEOUT_MS: '300' });
    stack = await startStack(pki);
  });
  after(async () => {
    await stack?.stop();
    pki?.cleanup();
    await redis?.stop();
  });

  it('/readyz turns 503 on every service (the responder holds no answer in memory) and store_errors_total rises; both recover when Redis is back', async () => {
    const serial = await issue(stack);
    const issuer = parseCertificate((await stack.store.getIssuer(pki.manifest.issuers.chargePoint))!.certificate);
    for (const base of [stack.raUrl, stack.caOpsUrl, stack.ocspUrl]) assert.equal((await requestJson(`${base}/readyz`, 'GET')).status, 200);
    const token = await stack.token();
    const before = { ra: await scrape(stack.raUrl), ca: await scrape(stack.caOpsUrl), ocsp: await scrape(stack.ocspUrl) };

    await redis.kill();
    for (const base of [stack.raUrl, stack.caOpsUrl, stack.ocspUrl]) {
      const r = await requestJson(`${base}/readyz`, 'GET');
      assert.equal(r.status, 503, `${base}: ${r.text}`);
      assert.deepEqual([r.body.status, r.body.checks.store], ['unready', false]);
      if (base === stack.ocspUrl) assert.equal(r.body.checks.memory, false);
    }
    // An API call that needs the store: 503 with Retry-After, counted under its route.
    const down = await requestJson(`${stack.raUrl}/v1/stations/obs-1`, 'GET', undefined, { authorization: `Bearer ${token}` });
    assert.equal(down.status, 503, down.text);
    // A live OCSP answer needs the store too: tryLater.
    assert.equal(ocspStatus(await postOcsp(stack.ocspUrl, buildOcspRequest([certIdFor(issuer, serial)], Buffer.from('0011223344556677', 'hex')))), 3);

    const after = { ra: await scrape(stack.raUrl), ca: await scrape(stack.caOpsUrl), ocsp: await scrape(stack.ocspUrl) };
    for (const s of ['ra', 'ca', 'ocsp'] as const) {
      const name = `pki_${s}_store_errors_total`;
      assert.ok(sum(after[s], name, { operation: 'GET /readyz' }) > sum(before[s], name, { operation: 'GET /readyz' }), `${name}{operation="GET /readyz"}`);
    }
    assert.ok(sum(after.ra, 'pki_ra_store_errors_total', { operation: 'GET /v1/stations/{stationId}' }) >= 1);
    assert.ok(sum(after.ra, 'pki_ra_http_requests_total', { route: 'GET /v1/stations/{stationId}', status: '503' }) >= 1);
    assert.ok(sum(after.ocsp, 'pki_ocsp_store_errors_total', { operation: 'ocsp-answer' }) >= 1);
    assert.ok(sum(after.ocsp, 'pki_ocsp_responses_total', { status: 'tryLater', source: 'unsigned' }) >= 1);

    await redis.restart();
    for (const base of [stack.raUrl, stack.caOpsUrl, stack.ocspUrl]) {
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        status = (await requestJson(`${base}/readyz`, 'GET')).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, 200, `${base} ready again`);
    }
  });
});

describe('logs: structured JSON, no secrets at debug level', () => {
  let pki: DevPki;
  let stack: Stack;
  const lines: string[] = [];
  let passphrase: string;
  const saved = process.env.PKI_KEY_PASSPHRASE;
  before(async () => {
    pki = await makeDevPki();
    passphrase = readSecretFile(dataPaths(pki.dataDir).devPassphrase);
    // The passphrase is in the environment the whole time, as a Kubernetes Secret would put it.
    process.env.PKI_KEY_PASSPHRASE = passphrase;
    const env = { PKI_KEY_PASSPHRASE: passphrase };
    const logger = createLogger('stack', 'debug', { write: (line: string) => void lines.push(line) });
    stack = await startStack(pki, { logger, caEnv: env, raEnv: env, ocspEnv: env });
  });
  after(async () => {
    await stack?.stop();
    pki?.cleanup();
    if (saved === undefined) delete process.env.PKI_KEY_PASSPHRASE;
    else process.env.PKI_KEY_PASSPHRASE = saved;
  });

  it('requests with tokens, CSRs, bad tokens and private keys in bodies leave none of them in the logs', async () => {
    const token = await stack.token();
    const auth = { authorization: `Bearer ${token}` };
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const csr = newP256Csr('CP-LOG-1');

    await registerStation(stack, 'log-1', 'CP-LOG-1');
    const signed = await api(stack, 'POST', '/v1/stations/log-1/certificates', { csr: csr.csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(signed.status, 201, signed.text);
    assert.equal((await api(stack, 'POST', '/v1/stations/log-1/certificates', { csr: newP256Csr('CP-LOG-1', 'Wrong O').csr, certificateType: 'ChargingStationCertificate' })).status, 422);
    assert.equal((await api(stack, 'POST', `/v1/certificates/${signed.body.serialNumber}/revoke`, { reason: 'keyCompromise' })).status, 200);
    // Refused tokens: garbage, a token of another audience's shape, none.
    const forged = `${token.slice(0, -8)}AAAAAAAA`;
    assert.equal((await api(stack, 'GET', '/v1/stations/log-1', undefined, { authorization: `Bearer ${forged}` })).status, 401);
    assert.equal((await api(stack, 'GET', '/v1/stations/log-1', undefined, { authorization: 'Bearer not-a-jwt' })).status, 401);
    assert.equal((await api(stack, 'GET', '/v1/stations/log-1', undefined, { authorization: '' })).status, 401);
    // A private key where a serial number or a CSR belongs, and as a body that is not JSON.
    assert.equal((await api(stack, 'PUT', '/v1/stations/log-2', { serialNumber: keyPem, allowed: true }, auth)).status, 400);
    assert.equal((await api(stack, 'POST', '/v1/stations/log-1/certificates', { csr: keyPem, certificateType: 'ChargingStationCertificate' }, auth)).status < 500, true);
    assert.equal((await api(stack, 'PUT', '/v1/stations/log-2', `{"serialNumber": "${keyPem.replace(/\n/g, '\\n')}`, auth)).status, 400);
    // Authorization headers where nobody asks for them: the CA's ops port, the responder.
    await requestJson(`${stack.caOpsUrl}/readyz`, 'GET', undefined, auth);
    await requestJson(`${stack.ocspUrl}/nope`, 'GET', undefined, auth);
    await fetch(`${stack.ocspUrl}/ocsp`, { method: 'POST', headers: { ...auth, 'content-type': 'application/ocsp-request' }, body: keyPem });
    await new Promise((r) => setTimeout(r, 50));

    assert.ok(lines.length > 10, `${lines.length} log lines`);
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const e of entries) {
      // Level names and ISO 8601 UTC timestamps (the issue "Ship it").
      assert.ok(['debug', 'info', 'warn', 'error'].includes(e.level as string), `level ${String(e.level)}`);
      assert.match(e.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(typeof e.msg, 'string');
    }
    // Debug is on: every request is logged by route (and the capture sees all three services).
    const routes = new Set(entries.filter((e) => e.event === 'http.request').map((e) => e.route));
    for (const r of ['POST /v1/stations/{stationId}/certificates', 'POST /v1/sign', 'GET /readyz', 'unmatched']) assert.ok(routes.has(r), `${r} in ${[...routes].join(', ')}`);

    const all = lines.join('\n');
    const secrets: [string, string][] = [
      ['the bearer token', token],
      ['the token signature', token.split('.')[2]!],
      ['the forged token', forged.split('.')[2]!],
      ['the key passphrase', passphrase],
      ['a PEM private key', 'PRIVATE KEY'],
      ['the private key body', keyPem.split('\n')[1]!],
      ['an Authorization header', 'Bearer '],
      ['a CSR', 'CERTIFICATE REQUEST'],
    ];
    for (const [what, secret] of secrets) assert.ok(!all.includes(secret), `${what} appears in the logs`);
    assert.ok(!/"authorization":"(?!\[redacted\])/i.test(all), 'an authorization field');
  });

  it('createLogger redacts credentials even when a caller logs them by mistake', () => {
    const out: string[] = [];
    const log = createLogger('redact', 'debug', { write: (l: string) => void out.push(l) });
    log.info({ req: { headers: { authorization: 'Bearer abc.def.ghi', cookie: 'sid=1' } }, token: 't0k3n', cfg: { passphrase: 'pass-123', password: 'pw-456', secret: 's-789' }, privateKey: 'pk', err: { body: 'raw body' } }, 'oops');
    const text = out.join('');
    for (const s of ['abc.def.ghi', 'sid=1', 't0k3n', 'pass-123', 'pw-456', 's-789', '"pk"', 'raw body']) assert.ok(!text.includes(s), `${s} in ${text}`);
    assert.match(text, /\[redacted\]/);
  });
});
