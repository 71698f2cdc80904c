import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CaClient } from '@evpki/ca-client';
import { DEFAULT_KEY_POLICY } from '@evpki/policy';
import { createEnrolment, type Enrolment, type Principal } from '@evpki/ra';
import { AppError, RA_CLIENT_CN, createMetrics, readServiceTls, type Metrics } from '@evpki/service';
import { newP256Csr } from './helpers/csr.js';
import { makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';

/**
 * Issue 15: the RA's enrolment core (services/ra/src/enrol.ts) called without express, as the coming
 * EST door (RFC 7030 simpleenroll) will: an authenticated principal and a request already read in,
 * a certificate or an AppError naming the rules out. A real CA over mutual TLS, a real store.
 */

let pki: DevPki;
let stack: Stack;
let ca: CaClient;
let metrics: Metrics;
let enrolment: Enrolment;
let principal: Principal;
const STATION_CSRS_PER_DAY = 2;

const newCaClient = (baseUrl: string): CaClient => new CaClient({ baseUrl, tls: readServiceTls(pki.dataDir, 'ra-client'), as: RA_CLIENT_CN, timeoutMs: 10_000 });
const enrolmentWith = (client: CaClient): Enrolment =>
  createEnrolment({ store: stack.store, ca: client, keyPolicy: DEFAULT_KEY_POLICY, now: () => new Date(), rateLimits: { stationCsrsPerDay: STATION_CSRS_PER_DAY, tenantCsrsPerMinute: 0 }, metrics });
const station = (stationId: string, csr: string) => ({ stationId, csr, certificateType: 'ChargingStationCertificate' });

before(async () => {
  pki = await makeDevPki();
  stack = await startStack(pki);
  ca = newCaClient(stack.caUrl);
  metrics = createMetrics('ra');
  enrolment = enrolmentWith(ca);
  principal = { tenant: (await stack.store.getTenant('demo'))!, actor: 'enrol-test' };
  await registerStation(stack, 'cp-enrol', 'CP-ENROL-1');
});
after(async () => {
  await ca.close();
  await stack.stop();
  pki.cleanup();
});

/** The AppError an enrolment rejects with. */
async function refusal(call: Promise<unknown>): Promise<AppError> {
  try {
    await call;
  } catch (e) {
    assert.ok(e instanceof AppError, String(e));
    return e;
  }
  assert.fail('the enrolment was accepted');
}
const rulesOf = (e: AppError): string[] => (e.violations ?? []).map((v) => v.rule);
const issuances = async (outcome: string): Promise<number> =>
  (await metrics.issuances.get()).values.find((v) => v.labels.kind === 'ChargingStationCertificate' && v.labels.outcome === outcome)?.value ?? 0;

describe('the enrolment core, without HTTP', () => {
  it('a station the tenant has not registered: not-found naming PnC-4.3', async () => {
    const e = await refusal(enrolment.station(principal, station('cp-nobody', newP256Csr('CP-NOBODY').csr)));
    assert.equal(e.kind, 'not-found');
    assert.deepEqual(rulesOf(e), ['PnC-4.3']);
  });

  it('policy refusals name their rules: an unreadable CSR (A02.FR.03), another CPO name (A02.FR.13), an unsupported type', async () => {
    const unreadable = await refusal(enrolment.station(principal, station('cp-enrol', 'not a CSR')));
    assert.deepEqual([unreadable.kind, rulesOf(unreadable)], ['policy', ['A02.FR.03']]);
    const otherCpo = await refusal(enrolment.station(principal, station('cp-enrol', newP256Csr('CP-ENROL-1', 'Other CPO').csr)));
    assert.deepEqual([otherCpo.kind, rulesOf(otherCpo)], ['policy', ['A02.FR.13']]);
    const unknown = await refusal(enrolment.station(principal, { ...station('cp-enrol', newP256Csr('CP-ENROL-1').csr), certificateType: 'ManufacturerCertificate' }));
    assert.deepEqual([unknown.kind, rulesOf(unknown)], ['policy', ['Issuance.certificate-type']]);
    // A V2G (SECC) certificate is issued now, but not for a charge point CSR: no DC=CPO, no SECC-ID.
    const v2g = await refusal(enrolment.station(principal, { ...station('cp-enrol', newP256Csr('CP-ENROL-1').csr), certificateType: 'V2GCertificate' }));
    assert.deepEqual([v2g.kind, rulesOf(v2g)], ['policy', ['V2G.dc-cpo', 'V2G.secc-id']]);
  });

  it('issues, and answers the same request again with the same certificate (issue 14.13), counting each', async () => {
    const { csr } = newP256Csr('CP-ENROL-1');
    const issued = await enrolment.station(principal, station('cp-enrol', csr));
    assert.equal(issued.replayed, false);
    assert.match(issued.certificateChain, /^-----BEGIN CERTIFICATE-----/);
    const again = await enrolment.station(principal, station('cp-enrol', csr));
    assert.deepEqual([again.replayed, again.serialNumber], [true, issued.serialNumber]);
    assert.equal(await issuances('issued'), 1);
    assert.equal(await issuances('replayed'), 1);
  });

  it('a CA that cannot be reached: unavailable with Retry-After, and nothing is counted (the CA counts in its issuance write)', async () => {
    const down = newCaClient('https://127.0.0.1:1');
    try {
      await registerStation(stack, 'cp-refund', 'CP-REFUND-1');
      for (let i = 0; i < STATION_CSRS_PER_DAY + 1; i++) {
        const e = await refusal(enrolmentWith(down).station(principal, station('cp-refund', newP256Csr('CP-REFUND-1').csr)));
        assert.equal(e.kind, 'unavailable');
        assert.ok((e.retryAfterSeconds ?? 0) > 0);
      }
    } finally {
      await down.close();
    }
    // None of the failed ones counted: the day's allowance is whole.
    for (let i = 0; i < STATION_CSRS_PER_DAY; i++) await enrolment.station(principal, station('cp-refund', newP256Csr('CP-REFUND-1').csr));
    const over = await refusal(enrolment.station(principal, station('cp-refund', newP256Csr('CP-REFUND-1').csr)));
    assert.deepEqual([over.kind, rulesOf(over)], ['rate-limited', ['RateLimit.station']]);
    assert.ok((over.retryAfterSeconds ?? 0) > 0);
    // Over the limit, the RA refuses before it calls the CA: with the CA down, still 429.
    const downAgain = newCaClient('https://127.0.0.1:1');
    try {
      const early = await refusal(enrolmentWith(downAgain).station(principal, station('cp-refund', newP256Csr('CP-REFUND-1').csr)));
      assert.deepEqual([early.kind, rulesOf(early)], ['rate-limited', ['RateLimit.station']]);
    } finally {
      await downAgain.close();
    }
  });

  it('a CSMS server certificate for the tenant, and a name outside its domains refused by rule', async () => {
    const server = await enrolment.server(principal, { csr: newP256Csr('csms.demo.local').csr, validityHours: 12 });
    assert.deepEqual([server.certificateType, server.replayed], ['CSMSServerCertificate', false]);
    const e = await refusal(enrolment.server(principal, { csr: newP256Csr('csms.example.org').csr }));
    assert.equal(e.kind, 'policy');
    assert.ok(rulesOf(e).length > 0, e.message);
  });
});
