/**
 * Faults survived (issue 4): Redis stopping under running services, and the CA killed in the
 * middle of signing load. Real processes, a real redis-server.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildOcspRequest } from '@evpki/ocsp';
import { parseCertificate, type ParsedCertificate } from '@evpki/x509';
import { startCluster, type Cluster } from './helpers/cluster.js';
import { buildCsr } from './helpers/csr.js';
import { certIdFor, ocspStatusOf, parseOcspResponse, postOcsp } from './helpers/ocsp-client.js';
import { makeDevPki, requestJson, startStack } from './helpers/pki.js';
import { startRedis } from './helpers/redis.js';

const newCsr = (cn: string): string => buildCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { o: 'Demo CPO', cn });

const call = (base: string, token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  requestJson(base + path, method, body, { authorization: `Bearer ${token}`, ...headers });

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const issuerOf = async (c: Cluster): Promise<ParsedCertificate> => parseCertificate((await c.store.getIssuer(c.pki.manifest.issuers.chargePoint))!.certificate);

describe('Redis stops under running services, then comes back', () => {
  test('RA: 503 problem+json with Retry-After in bounded time; OCSP: held answers, else tryLater; back up: all recovers without a restart, nothing half-written', async () => {
    const c = await startCluster({ ras: 1, ocsps: 1 });
    try {
      const token = await c.token();
      const ra = c.ras[0]!.url;
      const ocsp = c.ocsps[0]!.url;
      const issuer = await issuerOf(c);
      for (const id of ['held', 'other', 'after']) assert.equal((await call(ra, token, 'PUT', `/v1/stations/${id}`, { serialNumber: id.toUpperCase(), allowed: true })).status, 201);
      const held = (await call(ra, token, 'POST', '/v1/stations/held/certificates', { csr: newCsr('HELD'), certificateType: 'ChargingStationCertificate' })).body.serialNumber as string;
      const other = (await call(ra, token, 'POST', '/v1/stations/other/certificates', { csr: newCsr('OTHER'), certificateType: 'ChargingStationCertificate' })).body.serialNumber as string;
      // Asked until it comes pre-signed from the store: then the responder holds it in memory.
      const heldRequest = buildOcspRequest([certIdFor(issuer, held)]);
      await until('a pre-signed answer', async () => ((await ocspStatusOf(ocsp, issuer, held)) === 'good' ? true : undefined));
      for (let i = 0; i < 3; i++) await postOcsp(ocsp, heldRequest);

      await c.redis.kill();

      const t0 = Date.now();
      const station = await call(ra, token, 'GET', '/v1/stations/held');
      const ms = Date.now() - t0;
      assert.equal(station.status, 503);
      assert.equal(station.headers.get('content-type'), 'application/problem+json');
      assert.ok(Number(station.headers.get('retry-after')) > 0);
      assert.ok(ms < 5000, `answered in ${ms} ms`);
      assert.doesNotMatch(station.text, /at |Error|redis:\/\//, 'no stack, no store address');
      const sign = await call(ra, token, 'POST', '/v1/stations/after/certificates', { csr: newCsr('AFTER'), certificateType: 'ChargingStationCertificate' });
      assert.equal(sign.status, 503);
      assert.ok(Number(sign.headers.get('retry-after')) > 0);
      const ready = await fetch(`${ra}/readyz`);
      assert.equal(ready.status, 503, 'the RA reports not ready while its store is down');

      // The held answer is still served (within its nextUpdate); another certificate: tryLater.
      const stillHeld = parseOcspResponse((await postOcsp(ocsp, heldRequest)).der);
      assert.equal(stillHeld.status, 0);
      assert.equal(stillHeld.singles![0]!.status, 'good');
      assert.equal(await ocspStatusOf(ocsp, issuer, other), 'tryLater');

      await c.redis.restart();

      const signed = await until('signing again', async () => {
        const r = await call(ra, token, 'POST', '/v1/stations/after/certificates', { csr: newCsr('AFTER'), certificateType: 'ChargingStationCertificate' });
        return r.status === 201 ? r : undefined;
      });
      assert.equal((await call(ra, token, 'GET', '/v1/stations/held')).status, 200);
      await until('OCSP answers from the store again', async () => ((await ocspStatusOf(ocsp, issuer, other)) === 'good' ? true : undefined));
      assert.equal(await until('the new certificate at OCSP', async () => ((await ocspStatusOf(ocsp, issuer, signed.body.serialNumber)) === 'good' ? 'good' : undefined)), 'good');
      // AOF (appendfsync always): what was acknowledged before the crash is there.
      assert.equal((await c.store.getCertificate(held))?.status, 'good');
      assert.deepEqual(await c.store.verifyIntegrity(), []);
    } finally {
      await c.stop();
    }
  });

  test('OCSP: a held answer is served while the store is down only until its nextUpdate, then tryLater', async () => {
    const redis = await startRedis();
    const pki = await makeDevPki('ecdsa-p256', { ...redis.env, REDIS_COMMAND_TIMEOUT_MS: '300' });
    let now = Date.now();
    const stack = await startStack(pki, { now: () => new Date(now), ocspEnv: { OCSP_NEXT_UPDATE_HOURS: '2' } });
    try {
      const token = await stack.token();
      // The setup, before the store goes down, retries a 503 as a CSMS would: under load a store
      // command can outlast this test's 300 ms timeout (the same Idempotency-Key keeps it one issuance).
      const setup = (method: string, path: string, body: unknown) =>
        until(`${method} ${path}`, async () => {
          const r = await call(stack.raUrl, token, method, path, body, method === 'POST' ? { 'idempotency-key': 'clock-setup' } : {});
          return r.status === 503 ? undefined : r;
        });
      assert.equal((await setup('PUT', '/v1/stations/clock', { serialNumber: 'CLOCK', allowed: true })).status, 201);
      const signed = await setup('POST', '/v1/stations/clock/certificates', { csr: newCsr('CLOCK'), certificateType: 'ChargingStationCertificate' });
      assert.equal(signed.status, 201);
      const serial = signed.body.serialNumber as string;
      await until('pre-signing', () => stack.ocsp.presigner.runOnce().then(() => true));
      const issuer = parseCertificate((await stack.store.getIssuer(pki.manifest.issuers.chargePoint))!.certificate);
      const request = buildOcspRequest([certIdFor(issuer, serial)]);
      // Held in memory from its second answer on. Under load a store read can outlast the 300 ms
      // command timeout (tryLater): ask until two answers came from the store.
      for (let ok = 0, tries = 0; ok < 2; tries++) {
        assert.ok(tries < 20, 'the responder answered from the store twice');
        if (parseOcspResponse((await postOcsp(stack.ocspUrl, request)).der).status === 0) ok++;
      }

      await redis.kill();
      now += 90 * 60_000; // past half-life (1 h), before nextUpdate (2 h): still served
      const before = parseOcspResponse((await postOcsp(stack.ocspUrl, request)).der);
      assert.equal(before.status, 0);
      assert.equal(before.singles![0]!.status, 'good');
      now += 31 * 60_000; // past nextUpdate
      assert.equal(parseOcspResponse((await postOcsp(stack.ocspUrl, request)).der).status, 3, 'tryLater');
    } finally {
      await stack.stop();
      await redis.stop();
      pki.cleanup();
    }
  });
});

describe('the CA killed (SIGKILL) in the middle of signing load', () => {
  test('every certificate a client received is recorded and good at OCSP; no serial issued twice; retries under the same Idempotency-Key never double-issue', async () => {
    const c = await startCluster({ ras: 2, ocsps: 1, env: { RA_RATE_TENANT_CSRS_PER_MINUTE: '0', RA_CA_TIMEOUT_MS: '3000' } });
    try {
      const token = await c.token();
      const issuer = await issuerOf(c);
      const N = 240;
      const stations = Array.from({ length: N }, (_, i) => `kill-${i}`);
      for (const id of stations) assert.equal((await call(c.ras[0]!.url, token, 'PUT', `/v1/stations/${id}`, { serialNumber: id.toUpperCase(), allowed: true })).status, 201);
      const csrs = stations.map((id) => newCsr(id.toUpperCase()));

      // Each station sends one CSR under one Idempotency-Key and retries on 503, as a CSMS would.
      const received = new Map<string, string>();
      const statuses: number[] = [];
      let next = 0;
      let killed = false;
      const killer = (async () => {
        await until('load under way', async () => (received.size >= 40 ? true : undefined), 60_000);
        await c.kill(c.ca);
        killed = true;
        await sleep(500);
        await c.restart(c.ca);
      })();
      await Promise.all(
        Array.from({ length: 12 }, async (_, w) => {
          while (next < N) {
            const i = next++;
            for (let attempt = 0; ; attempt++) {
              const r = await call(c.ras[(i + w) % 2]!.url, token, 'POST', `/v1/stations/${stations[i]}/certificates`, { csr: csrs[i], certificateType: 'ChargingStationCertificate' }, { 'idempotency-key': `key-${i}` }).catch(() => ({ status: 0, body: undefined }));
              statuses.push(r.status);
              if (r.status === 201) {
                received.set(stations[i]!, r.body.serialNumber as string);
                break;
              }
              assert.ok([0, 409, 503].includes(r.status), `unexpected ${r.status}: ${JSON.stringify(r.body)}`);
              assert.ok(attempt < 200, `station ${i} never signed`);
              await sleep(100);
            }
          }
        }),
      );
      await killer;
      assert.ok(killed);
      assert.ok(statuses.some((s) => s === 503 || s === 0), 'the crash was felt by some requests');
      assert.equal(received.size, N);

      const serials = [...received.values()];
      assert.equal(new Set(serials).size, N, 'no serial handed out twice');
      for (const [station, serial] of received) {
        const record = await c.store.getCertificate(serial);
        assert.equal(record?.status, 'good', `${serial} recorded`);
        assert.equal(record?.stationId, station);
        // One CSR per station: a retry replayed, it did not issue again.
        const all = await c.store.listStationCertificates('demo', station);
        assert.deepEqual(all.map((x) => x.serial), [serial], `${station} holds exactly the certificate it received`);
      }
      const ocsp = c.ocsps[0]!.url;
      for (const serial of serials) assert.equal(await ocspStatusOf(ocsp, issuer, serial), 'good', serial);
      assert.deepEqual(await c.store.verifyIntegrity(), []);
    } finally {
      await c.stop();
    }
  });
});
