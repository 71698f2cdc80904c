import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildCsr, newP256Csr } from './helpers/csr.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';

/**
 * Revocation through the RA (A00.FR.702, A00.FR.704): real tokens, real RA → CA → store. What OCSP
 * answers afterwards is in certificate-status.test.ts.
 */
let pki: DevPki;
let stack: Stack;
let other: { authorization: string };

before(async () => {
  pki = await makeDevPki();
  stack = await startStack(pki);
  await stack.store.putTenant({ id: 'other', cpoName: 'Other CPO', disabled: false, createdAt: new Date().toISOString() });
  other = { authorization: `Bearer ${await stack.token('other')}` };
});
after(async () => {
  await stack.stop();
  pki.cleanup();
});

/** Registers a station (if needed) and issues it a certificate; returns serial and key. */
async function issue(stationId: string, cn: string) {
  await registerStation(stack, stationId, cn);
  const { csr, key } = newP256Csr(cn);
  const r = await api(stack, 'POST', `/v1/stations/${stationId}/certificates`, { csr, certificateType: 'ChargingStationCertificate' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { serial: r.body.serialNumber as string, key };
}

const revoke = (serial: string, reason: unknown, headers: Record<string, string> = {}) =>
  api(stack, 'POST', `/v1/certificates/${serial}/revoke`, reason === undefined ? {} : { reason }, headers);
const record = async (serial: string) => (await api(stack, 'GET', `/v1/certificates/${serial}`)).body;

describe('POST /v1/certificates/{serialNumber}/revoke', () => {
  it('revokes an own certificate: 200 with the revocation, GET shows it revoked (A00.FR.704)', async () => {
    const { serial } = await issue('cp-rev-1', 'CP-REV-1');
    const before = Date.now();
    const r = await revoke(serial.toUpperCase(), 'superseded');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.serialNumber, serial, 'the serial is answered normalized (lowercase hex)');
    assert.equal(r.body.status, 'revoked');
    assert.equal(r.body.revocationReason, 'superseded');
    assert.equal(r.body.changed, true);
    assert.ok(Date.parse(r.body.revokedAt) >= before - 1000 && Date.parse(r.body.revokedAt) <= Date.now() + 1000);
    const rec = await record(serial);
    assert.equal(rec.status, 'revoked');
    assert.equal(rec.revokedAt, r.body.revokedAt);
    assert.equal(rec.revocationReason, 'superseded');
  });

  it('revoking again is idempotent: 200, changed false, first time and reason kept', async () => {
    const { serial } = await issue('cp-rev-2', 'CP-REV-2');
    const first = await revoke(serial, 'cessationOfOperation');
    assert.equal(first.status, 200);
    for (const reason of ['cessationOfOperation', 'superseded']) {
      const again = await revoke(serial, reason);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.changed, false, reason);
      assert.equal(again.body.revokedAt, first.body.revokedAt);
      assert.equal(again.body.revocationReason, 'cessationOfOperation', 'only keyCompromise may replace a reason (RFC 5280 5.3.1)');
    }
    const raised = await revoke(serial, 'keyCompromise');
    assert.equal(raised.status, 200);
    assert.equal(raised.body.changed, true);
    assert.equal(raised.body.revocationReason, 'keyCompromise');
    assert.equal(raised.body.revokedAt, first.body.revokedAt);
  });

  for (const reason of ['unspecified', 'affiliationChanged', 'privilegeWithdrawn']) {
    it(`reason ${reason} is allowed`, async () => {
      const { serial } = await issue(`cp-ok-${reason}`, `CP-OK-${reason.toUpperCase()}`);
      const r = await revoke(serial, reason);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.revocationReason, reason);
    });
  }

  describe('refused reasons → 422 RFC5280-5.3.1, the certificate stays good', () => {
    let serial: string;
    before(async () => {
      serial = (await issue('cp-rev-bad', 'CP-REV-BAD')).serial;
    });
    for (const [reason, why] of [
      ['cACompromise', /CA certificates/],
      ['aACompromise', /attribute authorities/],
      ['certificateHold', /revocation is final/],
      ['removeFromCRL', /delta CRLs/],
    ] as const) {
      it(reason, async () => {
        const r = await revoke(serial, reason);
        assert.equal(r.status, 422, JSON.stringify(r.body));
        assert.equal(r.headers.get('content-type'), 'application/problem+json');
        assert.equal(r.body.violations[0].rule, 'RFC5280-5.3.1');
        assert.match(r.body.violations[0].message, why);
        assert.equal((await record(serial)).status, 'good');
      });
    }
    it('an unknown reason, no reason or an extra field → 400 (schema)', async () => {
      for (const body of [{ reason: 'stolen' }, {}, { reason: 'superseded', force: true }]) {
        const r = await api(stack, 'POST', `/v1/certificates/${serial}/revoke`, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.ok(r.body.violations.length > 0);
      }
      assert.equal((await record(serial)).status, 'good');
    });
  });

  it("another tenant's serial → 404 and it stays good; an unknown serial → 404; a bad serial → 400", async () => {
    const { serial } = await issue('cp-rev-mine', 'CP-REV-MINE');
    const r = await revoke(serial, 'keyCompromise', other);
    assert.equal(r.status, 404, JSON.stringify(r.body));
    assert.equal((await record(serial)).status, 'good');
    assert.equal((await revoke('7fffffffffffffff01', 'superseded')).status, 404);
    assert.equal((await revoke('not-hex', 'superseded')).status, 400);
  });

  it('needs a token (401)', async () => {
    const { serial } = await issue('cp-rev-anon', 'CP-REV-ANON');
    assert.equal((await revoke(serial, 'superseded', { authorization: '' })).status, 401);
    assert.equal((await record(serial)).status, 'good');
  });

  it('keyCompromise blocks the key: a later CSR with it is refused with A00.FR.501, not only A02.FR.02', async () => {
    const { serial, key } = await issue('cp-rev-kc', 'CP-REV-KC');
    assert.equal((await revoke(serial, 'keyCompromise')).status, 200);
    for (const stationId of ['cp-rev-kc', 'cp-rev-kc-2']) {
      await registerStation(stack, stationId, 'CP-REV-KC');
      const r = await api(stack, 'POST', `/v1/stations/${stationId}/certificates`, {
        csr: buildCsr(key, { o: 'Demo CPO', cn: 'CP-REV-KC' }),
        certificateType: 'ChargingStationCertificate',
      });
      assert.equal(r.status, 422, JSON.stringify(r.body));
      const rules = r.body.violations.map((v: { rule: string }) => v.rule);
      assert.ok(rules.includes('A00.FR.501'), JSON.stringify(r.body));
      assert.match(r.body.violations.find((v: { rule: string }) => v.rule === 'A00.FR.501').message, /blocked/);
    }
  });

  it('a key revoked for another reason is refused as reused (A02.FR.02), not as blocked', async () => {
    const { serial, key } = await issue('cp-rev-sup', 'CP-REV-SUP');
    assert.equal((await revoke(serial, 'superseded')).status, 200);
    const r = await api(stack, 'POST', '/v1/stations/cp-rev-sup/certificates', {
      csr: buildCsr(key, { o: 'Demo CPO', cn: 'CP-REV-SUP' }),
      certificateType: 'ChargingStationCertificate',
    });
    assert.equal(r.status, 422);
    assert.deepEqual(
      r.body.violations.map((v: { rule: string }) => v.rule),
      ['A02.FR.02'],
    );
  });
});

describe('DELETE /v1/stations/{stationId} revokes its certificates (A00.FR.702, A00.FR.704)', () => {
  it('good certificates → revoked with cessationOfOperation; an already revoked one keeps its reason', async () => {
    const a = await issue('cp-gone', 'CP-GONE');
    const b = await issue('cp-gone', 'CP-GONE');
    const c = await issue('cp-gone', 'CP-GONE');
    const earlier = await revoke(c.serial, 'keyCompromise');
    const keep = await issue('cp-stays', 'CP-STAYS');

    const del = await api(stack, 'DELETE', '/v1/stations/cp-gone');
    assert.equal(del.status, 204, JSON.stringify(del.body));
    for (const { serial } of [a, b]) {
      const rec = await record(serial);
      assert.equal(rec.status, 'revoked', serial);
      assert.equal(rec.revocationReason, 'cessationOfOperation');
      assert.ok(rec.revokedAt);
    }
    const cRec = await record(c.serial);
    assert.equal(cRec.revocationReason, 'keyCompromise');
    assert.equal(cRec.revokedAt, earlier.body.revokedAt);
    assert.equal((await record(keep.serial)).status, 'good', 'other stations are untouched');

    assert.equal((await api(stack, 'GET', '/v1/stations/cp-gone')).status, 404);
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-gone/certificates')).status, 404);
    assert.equal((await api(stack, 'DELETE', '/v1/stations/cp-gone')).status, 404);
  });

  it("another tenant cannot remove the station (404); nothing is revoked", async () => {
    const { serial } = await issue('cp-del-mine', 'CP-DEL-MINE');
    assert.equal((await api(stack, 'DELETE', '/v1/stations/cp-del-mine', undefined, other)).status, 404);
    assert.equal((await record(serial)).status, 'good');
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-del-mine')).status, 200);
  });

  it('a station without certificates is simply removed', async () => {
    await registerStation(stack, 'cp-empty', 'CP-EMPTY');
    assert.equal((await api(stack, 'DELETE', '/v1/stations/cp-empty')).status, 204);
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-empty')).status, 404);
  });
});
