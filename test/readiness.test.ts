/**
 * Readiness means "can serve" (README "Health and readiness"), on real processes sharing a real
 * Redis: the CA stopped leaves the RA ready for reads (`ca: false`, degraded) while signing and
 * revoking answer 503 with Retry-After; Redis stopped leaves a responder that holds pre-signed
 * answers ready (`store: false`, degraded) and answering them; /healthz never depends on either.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildOcspRequest } from '@evpki/ocsp';
import { parseCertificate } from '@evpki/x509';
import { startCluster } from './helpers/cluster.js';
import { buildCsr } from './helpers/csr.js';
import { certIdFor, ocspStatusOf, parseOcspResponse, postOcsp } from './helpers/ocsp-client.js';
import { requestJson } from './helpers/pki.js';

const newCsr = (cn: string): string => buildCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { o: 'Demo CPO', cn });

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const readyz = (base: string) => requestJson(`${base}/readyz`, 'GET');

async function assertLive(...bases: string[]): Promise<void> {
  for (const base of bases) {
    const h = await requestJson(`${base}/healthz`, 'GET');
    assert.deepEqual([h.status, h.body], [200, { status: 'ok' }], `${base}/healthz never depends on the store or the CA`);
  }
}

describe('readiness: what each service needs to serve', () => {
  test('CA down: the RA stays ready for reads (ca: false), signing and revoking answer 503 with Retry-After; Redis down: a responder holding pre-signed answers stays ready and answers them', async () => {
    const c = await startCluster({ ras: 1, ocsps: 1 });
    try {
      const token = await c.token();
      const call = (method: string, path: string, body?: unknown) => requestJson(c.ras[0]!.url + path, method, body, { authorization: `Bearer ${token}` });
      const ra = c.ras[0]!.url;
      const ocsp = c.ocsps[0]!.url;
      const ca = c.ca.url;
      const issuer = parseCertificate((await c.store.getIssuer(c.pki.manifest.issuers.chargePoint))!.certificate);
      for (const id of ['held', 'later']) assert.equal((await call('PUT', `/v1/stations/${id}`, { serialNumber: id.toUpperCase(), allowed: true })).status, 201);
      const issued = await call('POST', '/v1/stations/held/certificates', { csr: newCsr('HELD'), certificateType: 'ChargingStationCertificate' });
      assert.equal(issued.status, 201, issued.text);
      const serial = issued.body.serialNumber as string;
      assert.deepEqual((await readyz(ra)).body, { status: 'ready', checks: { store: true, ca: true } });

      // The CA stops: the RA is still ready (its reads need only the store) and says the CA is down.
      await c.kill(c.ca);
      const raReady = await readyz(ra);
      assert.equal(raReady.status, 200, raReady.text);
      assert.deepEqual(raReady.body, { status: 'ready', checks: { store: true, ca: false }, degraded: ['ca'] });
      assert.equal((await call('GET', '/v1/stations/held')).status, 200);
      assert.equal((await call('GET', `/v1/certificates/${serial}`)).status, 200);
      assert.equal((await call('GET', '/v1/trust-anchors')).status, 200);
      for (const [path, body] of [
        ['/v1/stations/later/certificates', { csr: newCsr('LATER'), certificateType: 'ChargingStationCertificate' }],
        [`/v1/certificates/${serial}/revoke`, { reason: 'superseded' }],
      ] as const) {
        const r = await call('POST', path, body);
        assert.equal(r.status, 503, `${path}: ${r.text}`);
        assert.equal(r.headers.get('content-type'), 'application/problem+json');
        assert.ok(Number(r.headers.get('retry-after')) > 0, `${path}: Retry-After`);
      }
      // The responder holds its delegated signer: ready, and answering from the store.
      assert.equal((await readyz(ocsp)).status, 200);
      assert.equal(await ocspStatusOf(ocsp, issuer, serial), 'good');
      await assertLive(ra, ocsp);
      await c.restart(c.ca);
      await until('the RA sees the CA again', async () => ((await readyz(ra)).body.checks.ca === true ? true : undefined));
      assert.deepEqual((await readyz(ra)).body, { status: 'ready', checks: { store: true, ca: true } });

      // The responder holds the pre-signed answer in memory once asked for it twice (responder.ts).
      const request = buildOcspRequest([certIdFor(issuer, serial)]);
      await until('a pre-signed answer', async () => ((await ocspStatusOf(ocsp, issuer, serial)) === 'good' ? true : undefined));
      for (let i = 0; i < 3; i++) await postOcsp(ocsp, request);

      // Redis stops: the responder is degraded, not unready; the RA and the CA are unready.
      await c.redis.kill();
      const ocspReady = await readyz(ocsp);
      assert.equal(ocspReady.status, 200, ocspReady.text);
      assert.deepEqual(
        { status: ocspReady.body.status, checks: ocspReady.body.checks, degraded: ocspReady.body.degraded },
        { status: 'ready', checks: { issuers: true, signers: true, store: false, memory: true }, degraded: ['store'] },
      );
      assert.ok(ocspReady.body.heldAnswers >= 1, ocspReady.text);
      const held = parseOcspResponse((await postOcsp(ocsp, request)).der);
      assert.deepEqual([held.status, held.singles?.[0]?.status], [0, 'good'], 'the held answer is served with the store down');
      for (const base of [ra, ca]) {
        const r = await readyz(base);
        assert.deepEqual([r.status, r.body.status, r.body.checks.store], [503, 'unready', false], base);
      }
      await assertLive(ra, ca, ocsp);

      await c.redis.restart();
      await until('every service ready again', async () => ((await Promise.all([ra, ca, ocsp].map(readyz))).every((r) => r.status === 200 && !r.body.degraded) ? true : undefined));
    } finally {
      await c.stop();
    }
  });
});
