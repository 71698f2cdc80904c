import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditTrail, createLogger } from '@evpki/service';
import { LmdbStore, verifyAuditChain, type AuditEntry, type Store } from '@evpki/store';
import { newP256Csr } from './helpers/csr.js';
import { makeDevPki, requestJson, startStack, type DevPki, type JsonResponse, type Stack } from './helpers/pki.js';

// Issue 7, audit trail: every issuance, rejection (with its rule IDs), revocation and station
// change is in the hash-chained log before it is answered; GET /v1/audit (scope audit:read) pages
// through the caller's tenant's entries; no secret, token or private key in any entry.

let pki: DevPki;
let stack: Stack;
let token: string;

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> =>
  requestJson(stack.raUrl + path, method, body, { authorization: `Bearer ${token}`, ...headers });

/** Every entry of the tenant through GET /v1/audit, `limit` per page. */
async function allEntries(limit: number): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  let after = 0;
  for (;;) {
    const r = await call('GET', `/v1/audit?after=${after}&limit=${limit}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.body.items.length <= limit);
    out.push(...r.body.items);
    if (r.body.next === null) return out;
    after = r.body.next;
  }
}

const byEvent = (entries: AuditEntry[], event: string): AuditEntry[] => entries.filter((e) => e.event === event);

describe('the audit trail through the RA and CA', () => {
  let serial: string;
  let serverSerial: string;
  let orphanSerial: string;
  let csrs: string[] = [];

  before(async () => {
    pki = await makeDevPki();
    stack = await startStack(pki, { raEnv: { RA_RATE_STATION_CSRS_PER_DAY: '3' } });
    token = await stack.token('demo', { subject: 'csms-backend-7' });

    assert.equal((await call('PUT', '/v1/stations/cp-a', { serialNumber: 'CP-AUD-0001', allowed: true })).status, 201);
    assert.equal((await call('PUT', '/v1/stations/cp-a', { serialNumber: 'CP-AUD-0001', model: 'Wallbox 22', allowed: true })).status, 200);
    const good = newP256Csr('CP-AUD-0001');
    csrs = [good.csr];
    const signed = await call('POST', '/v1/stations/cp-a/certificates', { csr: good.csr, certificateType: 'ChargingStationCertificate' }, { 'idempotency-key': 'aud-1' });
    assert.equal(signed.status, 201);
    serial = signed.body.serialNumber;
    assert.equal((await call('POST', '/v1/stations/cp-a/certificates', { csr: good.csr, certificateType: 'ChargingStationCertificate' }, { 'idempotency-key': 'aud-1' })).status, 201);
    // A00.FR.511: a URL as CN.
    const bad = newP256Csr('https://evil.example/');
    csrs.push(bad.csr);
    const rejected = await call('POST', '/v1/stations/cp-a/certificates', { csr: bad.csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(rejected.status, 422);
    const server = await call('POST', '/v1/server-certificates', { csr: newP256Csr('csms.demo.local').csr });
    assert.equal(server.status, 201, JSON.stringify(server.body));
    serverSerial = server.body.serialNumber;
    assert.equal((await call('POST', `/v1/certificates/${serial}/revoke`, { reason: 'keyCompromise' })).status, 200);
    // Rate limit: 3 CSRs a day for this station (one counted above, one rejected before counting).
    for (let i = 0; i < 3; i++) await call('POST', '/v1/stations/cp-a/certificates', { csr: newP256Csr('CP-AUD-0001').csr, certificateType: 'ChargingStationCertificate' });
    assert.equal((await call('PUT', '/v1/stations/cp-b', { serialNumber: 'CP-AUD-0002', allowed: true })).status, 201);
    assert.equal((await call('POST', '/v1/stations/cp-b/certificates', { csr: newP256Csr('CP-AUD-0002').csr, certificateType: 'ChargingStationCertificate' })).status, 201);
    assert.equal((await call('DELETE', '/v1/stations/cp-b')).status, 204);
    // A station whose record went outside the CA (the store's deleteStation) while its certificate was good.
    assert.equal((await call('PUT', '/v1/stations/cp-c', { serialNumber: 'CP-AUD-0003', allowed: true })).status, 201);
    const orphan = await call('POST', '/v1/stations/cp-c/certificates', { csr: newP256Csr('CP-AUD-0003').csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(orphan.status, 201);
    orphanSerial = orphan.body.serialNumber;
    assert.equal(await stack.store.deleteStation('demo', 'cp-c'), true);
    assert.equal((await call('DELETE', '/v1/stations/cp-c')).status, 204, 'its certificate was revoked');
    assert.equal((await call('DELETE', '/v1/stations/cp-c')).status, 404, 'nothing left to do');
  });
  after(async () => {
    await stack?.stop();
    pki?.cleanup();
  });

  it('records station registration and update, with the token subject as actor', async () => {
    const entries = await allEntries(1000);
    const [registered] = byEvent(entries, 'station.registered');
    assert.deepEqual(
      { actor: registered!.actor, outcome: registered!.outcome, tenant: registered!.tenant, details: registered!.details },
      { actor: 'csms-backend-7', outcome: 'ok', tenant: 'demo', details: { stationId: 'cp-a', serialNumber: 'CP-AUD-0001', allowed: true } },
    );
    assert.equal(byEvent(entries, 'station.updated').length, 1);
  });

  it('records each issuance (charge point and server) and the replay of an Idempotency-Key', async () => {
    const entries = await allEntries(1000);
    const issued = byEvent(entries, 'certificate.issued');
    const cp = issued.find((e) => e.details?.serialNumber === serial)!;
    assert.equal(cp.details?.kind, 'ChargingStationCertificate');
    assert.equal(cp.details?.stationId, 'cp-a');
    assert.equal(cp.actor, 'csms-backend-7');
    assert.match(String(cp.details?.sha256Fingerprint), /^[0-9a-f]{64}$/);
    assert.equal(issued.find((e) => e.details?.serialNumber === serverSerial)?.details?.kind, 'CSMSServerCertificate');
    assert.equal(byEvent(entries, 'certificate.replayed')[0]?.details?.serialNumber, serial);
    // Every certificate of the tenant in the store has its issuance entry.
    for (const s of [serial, serverSerial]) assert.ok(await stack.store.getCertificate(s));
  });

  it('records rejections with their rule IDs, including rate limiting', async () => {
    const rejected = byEvent(await allEntries(1000), 'certificate.rejected');
    const url = rejected.find((e) => e.rules?.includes('A00.FR.511'));
    assert.ok(url, JSON.stringify(rejected));
    assert.equal(url.outcome, 'refused');
    assert.equal(url.details?.stationId, 'cp-a');
    assert.ok(rejected.some((e) => e.details?.kind === 'rate-limited'), JSON.stringify(rejected.map((e) => e.details)));
  });

  it('records revocations, and a station removal with the certificates it revoked', async () => {
    const entries = await allEntries(1000);
    const revoked = byEvent(entries, 'certificate.revoked');
    assert.ok(revoked.some((e) => e.details?.serialNumber === serial && e.details?.reason === 'keyCompromise' && e.details?.changed === true));
    const removed = byEvent(entries, 'station.removed');
    assert.deepEqual(removed.map((e) => e.details), [{ stationId: 'cp-b', revoked: 1 }]);
    assert.ok(revoked.some((e) => e.details?.stationId === 'cp-b' && e.details?.reason === 'cessationOfOperation'));
  });

  it("audits each revocation of a station's removal even when its record was gone already", async () => {
    const entries = await allEntries(1000);
    assert.deepEqual(
      byEvent(entries, 'certificate.revoked')
        .filter((e) => e.details?.stationId === 'cp-c')
        .map((e) => [e.details?.serialNumber, e.details?.reason]),
      [[orphanSerial, 'cessationOfOperation']],
    );
    assert.equal(byEvent(entries, 'station.removed').filter((e) => e.details?.stationId === 'cp-c').length, 0, 'no station was removed');
    assert.equal((await stack.store.getCertificate(orphanSerial))?.status, 'revoked');
  });

  it('pages through the tenant\'s entries in order, without gaps or repeats between pages', async () => {
    const whole = await allEntries(1000);
    const paged = await allEntries(2);
    assert.deepEqual(paged, whole);
    for (let i = 1; i < whole.length; i++) assert.ok(whole[i]!.seq > whole[i - 1]!.seq);
    assert.ok(whole.every((e) => e.tenant === 'demo'));
    const r = await call('GET', '/v1/audit?limit=1001');
    assert.equal(r.status, 400);
  });

  it('keeps no secret in any entry: no token, CSR or key', async () => {
    const text = JSON.stringify(await stack.store.listAudit({ afterSeq: 0, limit: 1000 }));
    assert.ok(!text.includes(token.split('.')[2]!));
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}|BEGIN|PRIVATE KEY/.test(text));
    for (const csr of csrs) assert.ok(!text.includes(csr.split('\n')[1]!));
  });

  it('leaves a chain that verifies', async () => {
    const v = await verifyAuditChain(stack.store);
    assert.equal(v.ok, true, JSON.stringify(v));
    assert.ok(v.verified >= 12);
  });
});

describe('an issuance whose audit entry cannot be written is not handed out', () => {
  let dev: DevPki;
  let broken: Stack;

  before(async () => {
    dev = await makeDevPki();
    broken = await startStack(dev);
    assert.equal((await requestJson(`${broken.raUrl}/v1/stations/cp-x`, 'PUT', { serialNumber: 'CP-X-1', allowed: true }, { authorization: `Bearer ${await broken.token()}` })).status, 201);
  });
  after(async () => {
    await broken?.stop();
    dev?.cleanup();
  });

  it('answers 5xx, not the certificate, and records neither when the audit part of the issuance write is refused', async () => {
    // The certificate's audit entry is written in the same store write as the certificate
    // (recordIssuance's audit): here the store refuses that entry (a detail naming a secret), so
    // the whole write fails, as a log that cannot take the entry would make it.
    const store = broken.store as Store & { recordIssuance: Store['recordIssuance'] };
    const real = store.recordIssuance.bind(store);
    store.recordIssuance = (cert, coverage, idem, also) =>
      real(cert, coverage, idem, also?.audit && { ...also, audit: { ...also.audit, events: also.audit.events.map((e) => ({ ...e, details: { ...e.details, token: 'refused by the log' } })) } });
    const head = await store.auditHead();
    try {
      const r = await requestJson(`${broken.raUrl}/v1/stations/cp-x/certificates`, 'POST', { csr: newP256Csr('CP-X-1').csr, certificateType: 'ChargingStationCertificate' }, { authorization: `Bearer ${await broken.token()}` });
      assert.ok(r.status >= 500, `${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.certificateChain, undefined);
      assert.deepEqual(await store.listStationCertificates('demo', 'cp-x'), [], 'no certificate recorded without its audit entry');
      assert.equal((await store.listAudit({ afterSeq: head.seq, limit: 10 })).filter((e) => e.event === 'certificate.issued').length, 0, 'no audit entry without its certificate');
    } finally {
      store.recordIssuance = real;
    }
  });
});

describe('authentication failures are rate limited in the audit log', () => {
  let dir: string;
  let store: LmdbStore;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'evpki-audit-rate-'));
    store = new LmdbStore(dir);
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records at most the burst, then counts the rest into the next recorded entry', async () => {
    let t = Date.parse('2026-01-01T00:00:00Z');
    const audit = createAuditTrail(store, { log: createLogger('test', 'silent'), now: () => new Date(t), authFailuresPerSecond: 5 });
    const failure = { event: 'auth.failed', actor: 'anonymous', outcome: 'refused', details: { reason: 'signature' } } as const;
    for (let i = 0; i < 200; i++) await audit.recordAuthFailure(failure);
    assert.equal((await store.auditHead()).seq, 50, 'burst: ten seconds of the rate');
    t += 1000;
    await audit.recordAuthFailure(failure);
    const entries = await store.listAudit({ afterSeq: 0, limit: 1000 });
    assert.equal(entries.length, 51);
    assert.equal(entries[50]!.details?.suppressedBefore, 150);
    assert.equal(entries[49]!.details?.suppressedBefore, undefined);
  });

  it("issue 14.5: a tenant's refusals with ever new rule combinations share a bounded number of intervals; the counts add up", async () => {
    let t = Date.parse('2026-01-02T00:00:00Z');
    const audit = createAuditTrail(store, { log: createLogger('test', 'silent'), now: () => new Date(t), refusalIntervalMs: 10_000 });
    const h0 = (await store.auditHead()).seq;
    const rules = ['A00.FR.501', 'A00.FR.502', 'A00.FR.503', 'A00.FR.504', 'A00.FR.505', 'A00.FR.506', 'A00.FR.509', 'A00.FR.511', 'A02.FR.02', 'A02.FR.03'];
    // 1,000 refusals, each with another subset of ten rule IDs (and a second tenant's 10 alongside).
    for (let i = 1; i <= 1000; i++) {
      const subset = rules.filter((_, b) => i & (1 << b));
      await audit.recordRefusal({ event: 'certificate.rejected', actor: 'csms', outcome: 'refused', tenant: 'flood', rules: subset, details: { route: 'POST /v1/stations/{stationId}/certificates', reason: `r${i}` } });
      if (i % 100 === 0) await audit.recordRefusal({ event: 'auth.forbidden', actor: 'csms', outcome: 'refused', tenant: 'quiet', details: { route: 'PUT /v1/stations/{stationId}' } });
    }
    t += 10_000;
    await audit.recordRefusal({ event: 'certificate.rejected', actor: 'csms', outcome: 'refused', tenant: 'flood', rules: ['A00.FR.511'], details: { route: 'POST /v1/stations/{stationId}/certificates' } });
    await audit.close();
    const entries = await store.listAudit({ afterSeq: h0, limit: 1000 });
    const of = (tenant: string) => entries.filter((e) => e.tenant === tenant);
    const requests = (es: AuditEntry[]): number => es.reduce((n, e) => n + (e.details?.summary === true ? Number(e.details.suppressed) : 1), 0);
    assert.ok(of('flood').length <= 2 * 33 + 2, `${of('flood').length} entries for 1,001 refusals`);
    assert.equal(requests(of('flood')), 1001);
    assert.equal(of('quiet').length, 2, 'another tenant: its own interval, first and summary');
    assert.equal(requests(of('quiet')), 10);
  });
});
