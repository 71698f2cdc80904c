/**
 * The audit log cannot be flooded (issue 14.5): a tenant's refused requests are aggregated per
 * (tenant, event, rules, route) and interval (PKI_AUDIT_REFUSAL_INTERVAL_SECONDS), the counts add up
 * and none is lost on shutdown; /metrics shows the log's size.
 */
import { equal, ok } from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, test } from 'node:test';
import { loadStoreConfig } from '@evpki/service';
import { openStore, type AuditEntry } from '@evpki/store';
import { buildCsr } from './helpers/csr.js';
import { makeDevPki, requestJson, startStack, type DevPki, type Stack } from './helpers/pki.js';

let pki: DevPki;
let stack: Stack | undefined;
// The services' clock: moved on by the test, never by waiting.
let t = Date.now();

before(async () => {
  pki = await makeDevPki();
  // Rate limits off: every request of the burst reaches the policy check.
  stack = await startStack(pki, { now: () => new Date(t), raEnv: { RA_RATE_STATION_CSRS_PER_DAY: '0', RA_RATE_TENANT_CSRS_PER_MINUTE: '0' } });
});
after(async () => {
  await stack?.stop();
  pki.cleanup();
});

/** `n` requests, 25 in flight; every status must be `status`. */
async function burst(n: number, status: number, send: () => Promise<{ status: number }>): Promise<void> {
  let left = n;
  await Promise.all(
    Array.from({ length: 25 }, async () => {
      while (left > 0) {
        left--;
        equal((await send()).status, status);
      }
    }),
  );
}

test("issue 14.5: a burst of one tenant's refused requests writes a bounded number of audit entries, and the counts add up (none lost on stop)", async () => {
  const s = stack!;
  const all = { authorization: `Bearer ${await s.token()}` };
  const readOnly = { authorization: `Bearer ${await s.token('demo', { scopes: ['status:read'] })}` };
  equal((await requestJson(`${s.raUrl}/v1/stations/flood-1`, 'PUT', { serialNumber: 'FLOOD-1', allowed: true }, all)).status, 201);
  // A CSR for another station's serial: refused by policy (422, with its rule), every time.
  const csr = buildCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { o: 'Demo CPO', cn: 'NOT-FLOOD-1' });
  const refusedCsr = () => requestJson(`${s.raUrl}/v1/stations/flood-1/certificates`, 'POST', { csr, certificateType: 'ChargingStationCertificate' }, all);
  const forbidden = () => requestJson(`${s.raUrl}/v1/stations/flood-2`, 'PUT', { serialNumber: 'FLOOD-2', allowed: true }, readOnly);
  const h0 = (await s.store.auditHead()).seq;

  await burst(300, 422, refusedCsr);
  await burst(200, 403, forbidden);
  t += 10_000; // the next interval
  await burst(50, 422, refusedCsr);
  await stack!.stop(); // the RA writes what it still counts
  stack = undefined;

  const store = openStore({ ...loadStoreConfig(pki.storeEnv), dataDir: pki.dataDir });
  let entries: AuditEntry[];
  try {
    entries = (await store.listAudit({ afterSeq: h0, limit: 1000 })).filter((e) => e.tenant === 'demo' && e.outcome === 'refused');
  } finally {
    await store.close();
  }
  const rejected = entries.filter((e) => e.event === 'certificate.rejected');
  const forbids = entries.filter((e) => e.event === 'auth.forbidden');
  // Per key and interval: the first refusal, and one summary with the count of the others.
  ok(rejected.length <= 4, `${rejected.length} certificate.rejected entries for 350 refusals`);
  ok(forbids.length <= 2, `${forbids.length} auth.forbidden entries for 200 refusals`);
  const requests = (es: AuditEntry[]): number => es.reduce((n, e) => n + (e.details?.summary === true ? Number(e.details.suppressed) : 1), 0);
  equal(requests(rejected), 350, 'entries without summary + suppressed counts = refused requests');
  equal(requests(forbids), 200);
  for (const e of rejected) {
    equal(e.details?.route, 'POST /v1/stations/{stationId}/certificates');
    ok(e.rules?.length, 'the rule IDs are kept');
  }
});

test('issue 14.5: /metrics shows the audit log size (head minus checkpoint)', async () => {
  const p = await makeDevPki();
  const s = await startStack(p);
  try {
    await s.store.appendAudit([{ event: 'certificate.issued', actor: 'ca', outcome: 'ok' }], new Date().toISOString());
    const text = await (await fetch(`${s.raUrl}/metrics`)).text();
    const m = /^pki_ra_audit_log_entries (\d+)$/m.exec(text);
    ok(m, 'pki_ra_audit_log_entries is exposed');
    equal(Number(m[1]), (await s.store.auditHead()).seq - (await s.store.auditCheckpoint()).seq);
  } finally {
    await s.stop();
    p.cleanup();
  }
});
