/**
 * Several instances of every service on one Redis, as real processes: two RAs, two OCSP
 * responders, one CA (issue 4, "Scale").
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { parseCertificate, type ParsedCertificate } from '@evpki/x509';
import { mintToken } from '@evpki/cli';
import { startCluster, type Cluster } from './helpers/cluster.js';
import { buildCsr } from './helpers/csr.js';
import { ocspStatusOf } from './helpers/ocsp-client.js';
import { requestJson } from './helpers/pki.js';

const N = 1000;
let cluster: Cluster;
let token: string;
let issuer: ParsedCertificate;

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

const call = (base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  requestJson(base + path, method, body, { authorization: `Bearer ${token}`, ...headers });

/**
 * As a CSMS calls: a 503 (the store or the CA busy past its timeout, as on an oversubscribed test
 * machine) is retried a few times with the same request and Idempotency-Key, which keeps it one issuance.
 */
async function callRetrying(base: string, method: string, path: string, body: unknown, idempotencyKey?: string) {
  for (let attempt = 1; ; attempt++) {
    const r = await call(base, method, path, body, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
    if (r.status !== 503 || attempt === 5) return r;
    await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
  }
}

before(async () => {
  // 1,000 CSRs in a few seconds is over the default tenant limit of 600 a minute.
  cluster = await startCluster({ ras: 2, ocsps: 2, env: { RA_RATE_TENANT_CSRS_PER_MINUTE: '0' } });
  token = await cluster.token();
  issuer = parseCertificate((await cluster.store.getIssuer(cluster.pki.manifest.issuers.chargePoint))!.certificate);
});
after(async () => cluster?.stop());

test(`${N} CSRs signed concurrently across two RAs: ${N} distinct serials, each good at both responders; a revocation through one RA is revoked at both within a second`, async () => {
  const ra0 = cluster.ras[0]!;
  const ra1 = cluster.ras[1]!;
  const stations = Array.from({ length: N }, (_, i) => ({ id: `multi-${i}`, serial: `MULTI-${i}` }));
  // Registered through one RA, signed through either: the registry is shared.
  const registered = await pool(stations, 16, (s) => callRetrying(ra0.url, 'PUT', `/v1/stations/${s.id}`, { serialNumber: s.serial, allowed: true }));
  assert.ok(registered.every((r) => r.status === 201 || r.status === 200), 'registered (200: a retried PUT had gone through)');

  const csrs = stations.map((s) => buildCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { o: 'Demo CPO', cn: s.serial }));
  const signed = await pool(stations, 32, (s, i) =>
    callRetrying(i % 2 ? ra1.url : ra0.url, 'POST', `/v1/stations/${s.id}/certificates`, { csr: csrs[i], certificateType: 'ChargingStationCertificate' }, `sign-${s.id}`),
  );
  const failures = signed.filter((r) => r.status !== 201);
  assert.deepEqual(failures.slice(0, 3), [], `${failures.length} failed`);
  const serials = signed.map((r) => r.body.serialNumber as string);
  assert.equal(new Set(serials).size, N, 'every serial distinct');

  for (const serial of serials) {
    const record = await cluster.store.getCertificate(serial);
    assert.equal(record?.status, 'good', `${serial} recorded`);
  }
  for (const ocsp of cluster.ocsps) {
    const statuses = await pool(serials, 16, (serial) => ocspStatusOf(ocsp.url, issuer, serial));
    const notGood = statuses.filter((s) => s !== 'good');
    assert.deepEqual(notGood.slice(0, 3), [], `${ocsp.name}: ${notGood.length} not good`);
  }

  // Both responders answer this one from memory now; the revocation must reach both.
  const target = serials[7]!;
  for (const ocsp of cluster.ocsps) assert.equal(await ocspStatusOf(ocsp.url, issuer, target), 'good');
  const revoked = await call(ra1.url, 'POST', `/v1/certificates/${target}/revoke`, { reason: 'keyCompromise' });
  assert.equal(revoked.status, 200);
  const t0 = Date.now();
  const seen = await Promise.all(
    cluster.ocsps.map(async (ocsp) => {
      for (;;) {
        if ((await ocspStatusOf(ocsp.url, issuer, target)) === 'revoked') return Date.now() - t0;
        if (Date.now() - t0 > 5000) return Infinity;
      }
    }),
  );
  assert.ok(seen.every((ms) => ms <= 1000), `revoked at both responders after ${seen.join(' / ')} ms`);
  // The other RA and the other certificates are unaffected.
  assert.equal((await call(ra0.url, 'GET', `/v1/certificates/${target}`)).body.status, 'revoked');
  assert.equal(await ocspStatusOf(cluster.ocsps[1]!.url, issuer, serials[8]!), 'good');
});

test('rate limits are shared: a station over its daily limit is refused by every RA (429, Retry-After, RateLimit.station)', async () => {
  const ra0 = cluster.ras[0]!;
  const ra1 = cluster.ras[1]!;
  assert.equal((await call(ra0.url, 'PUT', '/v1/stations/limited', { serialNumber: 'LIMITED', allowed: true })).status, 201);
  const sign = (base: string) =>
    fetch(`${base}/v1/stations/limited/certificates`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ csr: buildCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { o: 'Demo CPO', cn: 'LIMITED' }), certificateType: 'ChargingStationCertificate' }),
    });
  // The default: 10 per station in any 24 hours, counted across both RAs.
  for (let i = 0; i < 10; i++) assert.equal((await sign(i % 2 ? ra1.url : ra0.url)).status, 201);
  for (const base of [ra0.url, ra1.url]) {
    const res = await sign(base);
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    const retryAfter = Number(res.headers.get('retry-after'));
    assert.ok(retryAfter > 86_000 && retryAfter <= 86_400, `Retry-After ${retryAfter}`);
    const body = (await res.json()) as { violations: { rule: string }[] };
    assert.deepEqual(body.violations.map((v) => v.rule), ['RateLimit.station']);
  }
});

test("a tenant's own limit (its record overrides RA_RATE_*) is counted across both RAs (429, RateLimit.tenant)", async () => {
  await cluster.store.putTenant({ id: 'small-cpo', cpoName: 'Small CPO', disabled: false, createdAt: new Date().toISOString(), rateLimits: { tenantCsrsPerMinute: 3 } });
  const small = await mintToken({ dataDir: cluster.pki.dataDir, tenant: 'small-cpo', ttlSeconds: 600 });
  const as = (base: string, method: string, path: string, body?: unknown) =>
    fetch(base + path, { method, headers: { authorization: `Bearer ${small}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const base = cluster.ras[i % 2]!.url;
    assert.equal((await as(base, 'PUT', `/v1/stations/small-${i}`, { serialNumber: `SMALL-${i}`, allowed: true })).status, 201);
    const csr = buildCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { o: 'Small CPO', cn: `SMALL-${i}` });
    const res = await as(base, 'POST', `/v1/stations/small-${i}/certificates`, { csr, certificateType: 'ChargingStationCertificate' });
    statuses.push(res.status);
    if (res.status === 429) {
      assert.deepEqual(((await res.json()) as { violations: { rule: string }[] }).violations.map((v) => v.rule), ['RateLimit.tenant']);
      assert.ok(Number(res.headers.get('retry-after')) <= 60);
    }
  }
  assert.deepEqual(statuses, [201, 201, 201, 429]);
});
