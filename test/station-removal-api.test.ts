/**
 * DELETE /v1/stations/{stationId} through the RA and CA for a station with thousands of good
 * certificates (A00.FR.702/704): 204, every certificate revoked (status, CRL), the removal's audit
 * entries in the verified chain, a retry 404; above STATION_REMOVAL_LIMIT a 409 naming
 * Station.removal-limit and nothing changed. The certificates are recorded in the store directly
 * (signing thousands through the API would take minutes and the station rate limit).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { STATION_REMOVAL_LIMIT, verifyAuditChain, type AuditEntry, type CertificateRecord } from '@evpki/store';
import { newP256Csr } from './helpers/csr.js';
import { openssl } from './helpers/openssl.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { recordCert } from './helpers/record-cert.js';

const MANY = 2_500;

let pki: DevPki;
let stack: Stack;

/** `n` good charge point certificates of the station under the active charge point issuer (a third of them expired). */
async function seed(stationId: string, n: number): Promise<CertificateRecord[]> {
  const day = 86_400_000;
  const certs = Array.from({ length: n }, (_, i): CertificateRecord => {
    const notBefore = Date.now() - (n - i) * day;
    return {
      serial: `1${randomBytes(15).toString('hex')}`,
      issuerId: pki.manifest.issuers.chargePoint,
      der: randomBytes(400),
      kind: 'ChargingStationCertificate',
      tenant: 'demo',
      stationId,
      subject: 'CN=CP-MANY,O=Demo CPO',
      notBefore: new Date(notBefore).toISOString(),
      notAfter: new Date(notBefore + 2 * (n / 3) * day).toISOString(),
      issuedAt: new Date(notBefore).toISOString(),
      spkiSha256: randomBytes(32).toString('hex'),
      sha256Fingerprint: randomBytes(32).toString('hex'),
      status: 'good',
    };
  });
  for (let i = 0; i < n; i += 250) {
    const outcomes = await Promise.all(certs.slice(i, i + 250).map((c) => recordCert(stack.store, c)));
    assert.ok(outcomes.every((o) => o.ok));
  }
  return certs;
}

/** The serials the issuer's current CRL lists (lowercase hex, no leading zeros), as openssl reads it. */
async function crlSerials(issuerId: string): Promise<Set<string>> {
  const text = openssl(['crl', '-inform', 'DER', '-noout', '-text'], (await stack.store.getCrl(issuerId))!.der);
  assert.equal(text.code, 0, text.stderr);
  return new Set([...text.stdout.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!.toLowerCase().replace(/^0+(?=.)/, '')));
}

describe(`removing a station with ${MANY} good certificates through the API`, () => {
  before(async () => {
    pki = await makeDevPki();
    stack = await startStack(pki);
  });
  after(async () => {
    await stack?.stop();
    pki?.cleanup();
  });

  it('revokes them all in one write with their audit entries; a retry is 404', async () => {
    await registerStation(stack, 'cp-many', 'CP-MANY');
    const signed = await api(stack, 'POST', '/v1/stations/cp-many/certificates', { csr: newP256Csr('CP-MANY').csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(signed.status, 201, JSON.stringify(signed.body));
    const serials = [signed.body.serialNumber as string, ...(await seed('cp-many', MANY - 1)).map((c) => c.serial)];
    const head = await stack.store.auditHead();

    const removed = await api(stack, 'DELETE', '/v1/stations/cp-many');
    assert.equal(removed.status, 204, removed.text);
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-many')).status, 404);
    const issued = await api(stack, 'GET', `/v1/certificates/${signed.body.serialNumber}`);
    assert.deepEqual([issued.body.status, issued.body.revocationReason], ['revoked', 'cessationOfOperation']);
    const crl = await crlSerials(pki.manifest.issuers.chargePoint);
    assert.ok(serials.every((s) => crl.has(s)), 'the CRL lists every certificate revoked');

    const entries: AuditEntry[] = [];
    for (let afterSeq = head.seq; ; afterSeq = entries.at(-1)!.seq) {
      const page = await stack.store.listAudit({ afterSeq, limit: 1000 });
      entries.push(...page);
      if (page.length < 1000) break;
    }
    const removal = entries.find((e) => e.event === 'station.removed');
    assert.deepEqual(removal?.details, { stationId: 'cp-many', revoked: MANY });
    const revoked = entries.filter((e) => e.event === 'certificate.revoked' && e.details?.stationId === 'cp-many');
    assert.deepEqual(new Set(revoked.map((e) => e.details?.serialNumber)), new Set(serials));
    const v = await verifyAuditChain(stack.store);
    assert.ok(v.ok, JSON.stringify(v.break));

    const again = await api(stack, 'DELETE', '/v1/stations/cp-many');
    assert.equal(again.status, 404);
  });

  it('more than STATION_REMOVAL_LIMIT good certificates: 409 naming Station.removal-limit, nothing changed', async () => {
    await registerStation(stack, 'cp-too-many', 'CP-TOO-MANY');
    const certs = await seed('cp-too-many', STATION_REMOVAL_LIMIT + 1);
    const head = await stack.store.auditHead();
    const refused = await api(stack, 'DELETE', '/v1/stations/cp-too-many');
    assert.equal(refused.status, 409, refused.text);
    assert.equal(refused.body.violations[0].rule, 'Station.removal-limit');
    assert.match(refused.body.violations[0].message, /revoke 1 or more of its certificates first/);
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-too-many')).status, 200, 'the station is kept');
    assert.equal((await stack.store.getCertificate(certs[0]!.serial))!.status, 'good');
    // The refusal itself may be audited (a refusal entry), but nothing is revoked.
    const after = await stack.store.listAudit({ afterSeq: head.seq, limit: 1000 });
    assert.ok(after.every((e) => e.event !== 'certificate.revoked' && e.event !== 'station.removed'), JSON.stringify(after.map((e) => e.event)));

    // As the refusal says: revoke one, then remove.
    assert.equal((await api(stack, 'POST', `/v1/certificates/${certs[0]!.serial}/revoke`, { reason: 'cessationOfOperation' })).status, 200);
    assert.equal((await api(stack, 'DELETE', '/v1/stations/cp-too-many')).status, 204);
  });
});
