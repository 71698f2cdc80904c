/**
 * Issue 14.13: a CSMS that sends the identical CSR again (its first answer was lost, e.g. a 503
 * after the CA had issued) gets the certificate issued for it, not A02.FR.02; anything else that
 * reuses the key is still refused. RA → CA in process on a dev PKI (LMDB), and real processes on
 * Redis with the CA paused (SIGSTOP) while the RA gives up on it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { startCluster } from './helpers/cluster.js';
import { buildCsr } from './helpers/csr.js';
import { api, makeDevPki, registerStation, requestJson, startStack, type DevPki, type Stack } from './helpers/pki.js';

const DAY_MS = 86_400_000;
let pki: DevPki;
let stack: Stack;
/** The services' clock: moved forward to expire certificates. */
let clockOffsetMs = 0;
const now = (): Date => new Date(Date.now() + clockOffsetMs);

before(async () => {
  pki = await makeDevPki();
  stack = await startStack(pki, { now });
});
after(async () => {
  await stack.stop();
  pki.cleanup();
});

const sign = async (stationId: string, csr: string, headers: Record<string, string> = {}) =>
  api(stack, 'POST', `/v1/stations/${stationId}/certificates`, { csr, certificateType: 'ChargingStationCertificate' }, { authorization: `Bearer ${await stack.token('demo', { now: now() })}`, ...headers });
const rules = (r: { body: { violations?: { rule: string }[] } }): string[] => (r.body.violations ?? []).map((v) => v.rule);
const newKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

describe('issue 14.13: the identical CSR sent again is a retry', () => {
  it('issue 14.13: the same CSR for the same station gets its certificate again (201, Idempotent-Replayed), with or without Idempotency-Key; another CSR for the key is A02.FR.02', async () => {
    await registerStation(stack, 'cp-retry', 'CP-RETRY');
    const key = newKey();
    const csr = buildCsr(key, { o: 'Demo CPO', cn: 'CP-RETRY' });
    const first = await sign('cp-retry', csr);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.headers.get('idempotent-replayed'), null);

    for (const headers of [{}, { 'idempotency-key': 'retry-after-503' }] as Record<string, string>[]) {
      const again = await sign('cp-retry', csr, headers);
      assert.equal(again.status, 201, JSON.stringify(again.body));
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(again.body, first.body, 'the same certificate and chain');
    }
    // The same key in another CSR (ECDSA signatures differ) is a reused key, not a retry.
    const other = await sign('cp-retry', buildCsr(key, { o: 'Demo CPO', cn: 'CP-RETRY' }));
    assert.equal(other.status, 422, JSON.stringify(other.body));
    assert.deepEqual(rules(other), ['A02.FR.02']);
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-retry/certificates')).body.items.length, 1, 'one certificate');
    const replayed = (await stack.store.listAudit({ tenant: 'demo', afterSeq: 0, limit: 1000 })).filter((e) => e.event === 'certificate.replayed');
    assert.equal(replayed.length, 2, 'each replay is in the audit log');
  });

  it('a retry is the same request: the same CSR for another station is a reused key (A02.FR.02)', async () => {
    await registerStation(stack, 'cp-retry-a', 'CP-RETRY-B');
    await registerStation(stack, 'cp-retry-b', 'CP-RETRY-B');
    const csr = buildCsr(newKey(), { o: 'Demo CPO', cn: 'CP-RETRY-B' });
    assert.equal((await sign('cp-retry-a', csr)).status, 201);
    const elsewhere = await sign('cp-retry-b', csr);
    assert.equal(elsewhere.status, 422, JSON.stringify(elsewhere.body));
    assert.deepEqual(rules(elsewhere), ['A02.FR.02']);
  });

  it('a retry needs a good certificate: the CSR of a revoked one is refused (A02.FR.02), of a keyCompromise one A00.FR.501', async () => {
    await registerStation(stack, 'cp-retry-rev', 'CP-RETRY-REV');
    for (const [reason, rule] of [
      ['superseded', 'A02.FR.02'],
      ['keyCompromise', 'A00.FR.501'],
    ] as const) {
      const csr = buildCsr(newKey(), { o: 'Demo CPO', cn: 'CP-RETRY-REV' });
      const first = await sign('cp-retry-rev', csr);
      assert.equal(first.status, 201);
      assert.equal((await api(stack, 'POST', `/v1/certificates/${first.body.serialNumber}/revoke`, { reason }, { authorization: `Bearer ${await stack.token('demo', { now: now() })}` })).status, 200);
      const again = await sign('cp-retry-rev', csr);
      assert.equal(again.status, 422, JSON.stringify(again.body));
      assert.deepEqual(rules(again), [rule]);
    }
  });

  it('a retry needs a good certificate: the CSR of an expired one is refused (A02.FR.02)', async () => {
    await registerStation(stack, 'cp-retry-exp', 'CP-RETRY-EXP');
    const csr = buildCsr(newKey(), { o: 'Demo CPO', cn: 'CP-RETRY-EXP' });
    const first = await sign('cp-retry-exp', csr);
    assert.equal(first.status, 201);
    clockOffsetMs = Date.parse(first.body.notAfter) - Date.now() + DAY_MS;
    try {
      const again = await sign('cp-retry-exp', csr);
      assert.equal(again.status, 422, JSON.stringify(again.body));
      assert.deepEqual(rules(again), ['A02.FR.02']);
    } finally {
      clockOffsetMs = 0;
    }
  });
});

describe('issue 14.13: a retry after the RA gave up on a paused CA', () => {
  it('issue 14.13: the CA paused (SIGSTOP) past the RA timeout issues anyway; the CSMS retry with the same CSR gets that certificate', async () => {
    const c = await startCluster({ ras: 1, ocsps: 1, env: { RA_CA_TIMEOUT_MS: '1000' } });
    try {
      const token = await c.token();
      const ra = c.ras[0]!.url;
      const call = (method: string, path: string, body?: unknown) => requestJson(ra + path, method, body, { authorization: `Bearer ${token}` });
      assert.equal((await call('PUT', '/v1/stations/paused', { serialNumber: 'PAUSED', allowed: true })).status, 201);
      // A first certificate over a kept-alive RA → CA connection.
      assert.equal((await call('POST', '/v1/stations/paused/certificates', { csr: buildCsr(newKey(), { o: 'Demo CPO', cn: 'PAUSED' }), certificateType: 'ChargingStationCertificate' })).status, 201);

      const csr = buildCsr(newKey(), { o: 'Demo CPO', cn: 'PAUSED' });
      process.kill(c.ca.proc.child.pid!, 'SIGSTOP');
      let lost;
      try {
        lost = await call('POST', '/v1/stations/paused/certificates', { csr, certificateType: 'ChargingStationCertificate' });
      } finally {
        process.kill(c.ca.proc.child.pid!, 'SIGCONT');
      }
      assert.equal(lost.status, 503, JSON.stringify(lost.body));
      // The CA read the request before it was paused or after, and recorded what it signed.
      let issued = await c.store.listStationCertificates('demo', 'paused');
      for (let i = 0; issued.length < 2 && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 100));
        issued = await c.store.listStationCertificates('demo', 'paused');
      }
      assert.equal(issued.length, 2, 'the CA issued while the RA answered 503');

      const retry = await call('POST', '/v1/stations/paused/certificates', { csr, certificateType: 'ChargingStationCertificate' });
      assert.equal(retry.status, 201, JSON.stringify(retry.body));
      assert.equal(retry.headers.get('idempotent-replayed'), 'true');
      assert.equal(retry.body.serialNumber, issued[1]!.serial);
      assert.equal((await c.store.listStationCertificates('demo', 'paused')).length, 2);
    } finally {
      await c.stop();
    }
  });
});
