/**
 * k8s/monitoring: the PrometheusRule's groups pass `promtool check rules` and `promtool test rules`
 * (tests.yml shows every alert firing and not firing), each alert has a severity and a runbook
 * section in k8s/README.md, the Grafana dashboard is well formed, the kustomization renders, and every
 * metric the rules and the dashboard read is exported by a service of the real in-process stack, whose
 * expiry gauges equal the certificates' and CRLs' own dates (read with X509Certificate and openssl).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { createRaService, loadRaConfig } from '@evpki/ra';
import { createLogger, readServiceTls, type ServiceCertName } from '@evpki/service';
import { K8S_DIR, render } from './helpers/k8s/render.js';
import { MONITORING_DIR, alertRules, dashboard, dashboardExprs, declaredMetrics, metricNames, metricsText, one, promtool, samples } from './helpers/monitoring.js';
import { openssl } from './helpers/openssl.js';
import { makeDevPki, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

/** Series the rules read that no service of ours exports, and who does. */
const EXTERNAL_METRICS: Record<string, string> = { kube_job_status_failed: 'kube-state-metrics (the audit retention Job)' };

const seconds = (d: Date | string): number => Math.floor(new Date(d).getTime() / 1000);

describe('k8s/monitoring: rules, promtool tests, dashboard', () => {
  it('promtool check rules accepts the PrometheusRule groups', () => {
    const r = promtool(['check', 'rules', 'rules.yml']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, new RegExp(`SUCCESS: ${alertRules().length} rules found`));
  });

  it('promtool test rules (tests.yml) passes', () => {
    const r = promtool(['test', 'rules', 'tests.yml']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });

  it('tests.yml shows every alert both firing and not firing', () => {
    const tests = (parse(readFileSync(join(MONITORING_DIR, 'tests.yml'), 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] }).tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of alertRules()) {
      assert.ok(cases.some((c) => c.alertname === alert && (c.exp_alerts ?? []).length > 0), `${alert}: no test where it fires`);
      assert.ok(cases.some((c) => c.alertname === alert && (c.exp_alerts ?? []).length === 0), `${alert}: no test where it does not fire`);
    }
    const known = new Set(alertRules().map((r) => r.alert));
    assert.deepEqual(cases.filter((c) => !known.has(c.alertname)).map((c) => c.alertname), [], 'tests of alerts that do not exist');
  });

  it('every alert: unique name, a severity, a summary and a runbook_url naming a section of k8s/README.md', () => {
    const readme = readFileSync(join(K8S_DIR, 'README.md'), 'utf8');
    // GitHub's anchors: the heading lowercased, punctuation dropped, spaces as dashes.
    const anchors = new Set([...readme.matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));
    const names = alertRules().map((r) => r.alert);
    assert.equal(new Set(names).size, names.length, 'alert names repeat');
    for (const r of alertRules()) {
      assert.ok(['warning', 'critical'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
      assert.ok(r.annotations?.summary, `${r.alert}: summary`);
      const m = /^k8s\/README\.md#([a-z0-9-]+)$/.exec(r.annotations?.runbook_url ?? '');
      assert.ok(m, `${r.alert}: runbook_url ${r.annotations?.runbook_url}`);
      assert.ok(anchors.has(m[1]!), `${r.alert}: k8s/README.md has no section #${m[1]}`);
    }
  });

  it('the dashboard: unique panel ids, every panel with a datasource and targets with an expr, on the 24-column grid', () => {
    const d = dashboard();
    assert.equal(typeof d.uid, 'string');
    assert.equal(typeof d.title, 'string');
    assert.equal(typeof d.schemaVersion, 'number');
    const vars = (d.templating as { list: { name: string; type: string }[] }).list;
    assert.ok(vars.some((v) => v.name === 'datasource' && v.type === 'datasource'), 'a datasource variable');
    const panels = d.panels as { id: number; type: string; title: string; datasource?: { uid?: string }; targets?: { refId: string; expr: string }[]; gridPos: { x: number; y: number; w: number; h: number } }[];
    assert.ok(panels.length > 0);
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `panel ids repeat: ${ids.join(',')}`);
    for (const p of panels) {
      assert.ok(Number.isInteger(p.id) && p.title, `panel ${p.id}: id and title`);
      assert.ok(p.gridPos.x >= 0 && p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24 && p.gridPos.h > 0, `panel ${p.id}: gridPos`);
      if (p.type === 'row') continue;
      assert.equal(p.datasource?.uid, '${datasource}', `panel ${p.id}: datasource`);
      assert.ok(p.targets && p.targets.length > 0, `panel ${p.id}: targets`);
      const refIds = p.targets.map((t) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `panel ${p.id}: refIds repeat`);
      for (const t of p.targets) assert.ok(t.expr.trim() && metricNames(t.expr).length > 0, `panel ${p.id}: expr ${t.expr}`);
    }
    // Every alerting series has a panel.
    const shown = new Set(dashboardExprs(d).flatMap(metricNames));
    for (const name of alertRules().flatMap((r) => metricNames(r.expr))) if (!(name in EXTERNAL_METRICS)) assert.ok(shown.has(name), `no panel shows ${name}`);
  });

  it('kubectl kustomize k8s/monitoring: the PrometheusRule, ServiceMonitor, scrape NetworkPolicy and dashboard ConfigMap, in ev-pki', () => {
    const objects = render(MONITORING_DIR);
    assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), ['ConfigMap/ev-pki-dashboard', 'NetworkPolicy/ca-ingress-metrics', 'PrometheusRule/ev-pki', 'ServiceMonitor/ev-pki']);
    for (const o of objects) assert.equal(o.metadata.namespace, 'ev-pki', `${o.kind}/${o.metadata.name}`);
    const cm = objects.find((o) => o.kind === 'ConfigMap') as unknown as { metadata: { labels: Record<string, string> }; data: Record<string, string> };
    assert.equal(cm.metadata.labels.grafana_dashboard, '1');
    assert.deepEqual(JSON.parse(cm.data['dashboard.json']!), dashboard());
  });
});

describe('every metric of the rules and the dashboard is exported; the expiry gauges are the certificates\' dates', () => {
  let pki: DevPki;
  let stack: Stack;
  let text: { ca: string; ra: string; ocsp: string };
  before(async () => {
    pki = await makeDevPki();
    stack = await startStack(pki);
    await stack.ocsp.presigner.runOnce();
    text = { ca: await metricsText(stack.caOpsUrl), ra: await metricsText(stack.raUrl), ocsp: await metricsText(stack.ocspUrl) };
  });
  after(async () => {
    await stack?.stop();
    pki?.cleanup();
  });

  it('each metric name in prometheus-rules.yaml and dashboard.json is declared by the CA, the RA or the OCSP responder', () => {
    const declared = new Map([...declaredMetrics(text.ca), ...declaredMetrics(text.ra), ...declaredMetrics(text.ocsp)]);
    const used = new Set([...alertRules().flatMap((r) => metricNames(r.expr)), ...dashboardExprs(dashboard()).flatMap(metricNames)]);
    const missing = [...used].filter((n) => !declared.has(n) && !declared.has(n.replace(/_(bucket|sum|count)$/, '')) && !(n in EXTERNAL_METRICS));
    assert.deepEqual(missing, []);
  });

  it('CA: notAfter of the root and the issuing CA, of its server certificate, the CRL nextUpdate, the store up', async () => {
    const s = samples(text.ca);
    const { root, chargePoint } = pki.manifest.issuers;
    for (const [id, kind] of [
      [root, 'root'],
      [chargePoint, 'issuing'],
    ] as const) {
      const record = (await stack.store.getIssuer(id))!;
      assert.equal(one(s, 'pki_certificate_not_after_seconds', { kind, issuer: id, hierarchy: record.hierarchy, state: record.state }), seconds(new X509Certificate(record.certificate).validTo), `${kind} ${id}`);
    }
    assert.equal(one(s, 'pki_certificate_not_after_seconds', { kind: 'service', issuer: 'ca-server' }), seconds(new X509Certificate(readServiceTls(pki.dataDir, 'ca-server').cert).validTo));
    // The CRL as relying parties get it, read by openssl.
    const crl = Buffer.from(await (await fetch(`${stack.ocspUrl}/crl/${chargePoint}.crl`)).arrayBuffer());
    const next = openssl(['crl', '-inform', 'DER', '-noout', '-nextupdate'], crl);
    assert.equal(next.code, 0, next.stderr);
    const nextUpdate = /nextUpdate=(.+)/.exec(next.stdout)![1]!.trim();
    assert.equal(one(s, 'pki_crl_next_update_seconds', { issuer: chargePoint, kind: 'issuing' }), seconds(nextUpdate), nextUpdate);
    // The root's CRL, signed by the CLI (pki init; pki crl sign --root), from the store.
    const rootCrl = openssl(['crl', '-inform', 'DER', '-noout', '-nextupdate'], Buffer.from(await (await fetch(`${stack.ocspUrl}/crl/${root}.crl`)).arrayBuffer()));
    const rootNext = /nextUpdate=(.+)/.exec(rootCrl.stdout)![1]!.trim();
    assert.equal(one(s, 'pki_crl_next_update_seconds', { issuer: root, kind: 'root' }), seconds(rootNext), rootNext);
    assert.equal(one(s, 'pki_store_up'), 1);
    assert.equal(s.filter((x) => x.name === 'pki_certificate_not_after_seconds' && !['root', 'issuing', 'service'].includes(x.labels.kind!)).length, 0);
  });

  it('OCSP: its delegated signer and client certificate, the pre-signed age bound, store and CA up', () => {
    const s = samples(text.ocsp);
    const { chargePoint } = pki.manifest.issuers;
    const signer = stack.ocsp.signers.get(chargePoint)!;
    assert.equal(one(s, 'pki_certificate_not_after_seconds', { kind: 'ocsp_signer', issuer: chargePoint, hierarchy: 'csms' }), seconds(new X509Certificate(signer.certificate.der).validTo));
    assert.equal(one(s, 'pki_certificate_not_after_seconds', { kind: 'service', issuer: 'ocsp-client' }), seconds(new X509Certificate(readServiceTls(pki.dataDir, 'ocsp-client').cert).validTo));
    // Just drained: half of an answer's life (OCSP_NEXT_UPDATE_HOURS, default 168) and the seconds since.
    const age = one(s, 'pki_ocsp_presigned_oldest_age_seconds');
    assert.ok(age >= 84 * 3600 && age < 84 * 3600 + 120, `age bound ${age}`);
    assert.equal(one(s, 'pki_store_up'), 1);
    assert.equal(one(s, 'pki_ca_up'), 1);
  });

  it('RA: its client certificate, store and CA up', () => {
    const s = samples(text.ra);
    const name: ServiceCertName = 'ra-client';
    assert.equal(one(s, 'pki_certificate_not_after_seconds', { kind: 'service', issuer: name }), seconds(new X509Certificate(readServiceTls(pki.dataDir, name).cert).validTo));
    assert.equal(one(s, 'pki_store_up'), 1);
    assert.equal(one(s, 'pki_ca_up'), 1);
  });

  it('an RA whose CA does not answer reports pki_ca_up 0', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
    });
    const ra = createRaService(
      loadRaConfig({ PKI_DATA_DIR: pki.dataDir, RA_PORT: '0', RA_CA_URL: `https://127.0.0.1:${port}`, OCSP_PORT: '1' }),
      { jwtIssuer: pki.manifest.jwt.issuer, jwtAudience: pki.manifest.jwt.audience },
      { caTls: readServiceTls(pki.dataDir, 'ra-client') },
      { store: stack.store, logger: createLogger('test', 'silent') },
    );
    const { port: raPort } = await ra.start();
    try {
      const s = samples(await metricsText(`http://127.0.0.1:${raPort}`));
      assert.equal(one(s, 'pki_ca_up'), 0);
      assert.equal(one(s, 'pki_store_up'), 1);
    } finally {
      await ra.stop();
    }
  });
});

describe('pki_store_up and the pre-signed age bound on the Redis store, while it is down', () => {
  let redis: TestRedis;
  let pki: DevPki;
  let stack: Stack;
  /** The services' clock runs this far ahead of the real one. */
  let offsetMs = 0;
  before(async () => {
    redis = await startRedis();
    pki = await makeDevPki('ecdsa-p256', { ...redis.env, REDIS_COMMAND_TIMEOUT_MS: '300' });
    stack = await startStack(pki, { now: () => new Date(Date.now() + offsetMs) });
  });
  after(async () => {
    await stack?.stop();
    pki?.cleanup();
    await redis?.stop();
  });

  it('pki_store_up turns 0 on every service while Redis is down and 1 again when it is back; the age bound grows meanwhile', async () => {
    const bases = [stack.caOpsUrl, stack.raUrl, stack.ocspUrl];
    const HALF_LIFE = 84 * 3600;
    for (const b of bases) assert.equal(one(samples(await metricsText(b)), 'pki_store_up'), 1, b);
    await stack.ocsp.presigner.runOnce();
    await redis.kill();
    for (const b of bases) assert.equal(one(samples(await metricsText(b)), 'pki_store_up'), 0, b);
    // Two hours on without a pre-signing run that could reach the store: the bound grows by them.
    offsetMs = 2 * 3600_000;
    const stale = one(samples(await metricsText(stack.ocspUrl)), 'pki_ocsp_presigned_oldest_age_seconds');
    assert.ok(stale >= HALF_LIFE + 7200 && stale < HALF_LIFE + 7200 + 120, `age bound ${stale}`);
    await redis.restart();
    for (const b of bases) {
      // The client reconnects on its own schedule: the first scrapes after the restart may still fail.
      let up = 0;
      for (let i = 0; i < 50 && up !== 1; i++) {
        up = one(samples(await metricsText(b)), 'pki_store_up');
        if (up !== 1) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(up, 1, b);
    }
    // A run that finds nothing due brings it back to half a life.
    await stack.ocsp.presigner.runOnce();
    const fresh = one(samples(await metricsText(stack.ocspUrl)), 'pki_ocsp_presigned_oldest_age_seconds');
    assert.ok(fresh >= HALF_LIFE && fresh < HALF_LIFE + 120, `age bound ${fresh}`);
  });
});
