import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { loadOperations, OPENAPI_PATH } from '@evpki/ra';
import { SCOPES } from '@evpki/service';
import type { AuditEntry } from '@evpki/store';
import { certificateHashData, parseCertificate, pemBlocks } from '@evpki/x509';
import { newP256Csr } from './helpers/csr.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';

// Issue 14.1: authorization denies by default. The RA serves a request only when it is an
// operation of openapi.yaml spelt exactly (case, no trailing slash, no empty, dot or percent-encoded
// segment); every other spelling is 404 before any handler runs and before the body is read, for
// every token (401 without one), so the scopes checked are those of the operation that runs. Every
// operation is covered (read from openapi.yaml at run time).

interface Answer {
  readonly status: number;
  readonly body: any;
  readonly allow: string | undefined;
}

/** A request whose path is sent exactly as given: fetch would normalise `/./`, `/../` and `%2e`. */
function raw(base: string, method: string, path: string, body: string | undefined, token: string | undefined): Promise<Answer> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        method,
        path,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined, allow: res.headers.allow });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The other spellings of a canonical path `/v1/...`. */
const SPELLINGS: readonly [string, (p: string) => string][] = [
  ['trailing slash', (p) => `${p}/`],
  ['upper-case /V1', (p) => `/V1${p.slice(3)}`],
  ['capitalised segment', (p) => p.replace(/^\/v1\/(.)/, (_m, c: string) => `/v1/${c.toUpperCase()}`)],
  ['double slash inside', (p) => p.replace('/v1/', '/v1//')],
  ['leading double slash', (p) => `/${p}`],
  ['dot segment', (p) => p.replace('/v1/', '/v1/./')],
  ['dot-dot segment', (p) => `/v1/..${p}`],
  ['percent-encoded slash (last)', (p) => p.replace(/\/([^/]*)$/, '%2F$1')],
  ['percent-encoded slash after v1', (p) => p.replace('/v1/', '/v1%2f')],
  ['percent-encoded dot segment', (p) => p.replace('/v1/', '/v1/%2e/')],
  ['percent-encoded dot-dot segment', (p) => p.replace('/v1/', '/v1/x/%2E%2E/')],
  ['percent-encoded letter', (p) => p.replace('/v1/', '/%761/')],
  ['backslash', (p) => p.replace(/\/([^/]*)$/, '\\$1')],
  ['absolute-form target', (p) => `http://127.0.0.1${p}`],
];

describe('issue 14.1: scopes cannot be bypassed by another spelling of the path', () => {
  let pki: DevPki;
  let stack: Stack;
  const operations = loadOperations(OPENAPI_PATH);
  /** demo's objects that the operations act on. */
  let certSerial: string;
  let revokeSerial: string;
  let statusRequest: Record<string, string>;
  /** A CA certificate a manufacturer entry may take as its root (the dev PKI's own root). */
  let rootPem: string;

  /** Per operation: the canonical path and a body that succeeds (a fresh one per call). */
  const calls: Record<string, { path: () => string; body?: () => unknown; ok: number }> = {
    'PUT /v1/stations/{stationId}': { path: () => '/v1/stations/cp-new', body: () => ({ serialNumber: 'CP-NEW-1', allowed: true }), ok: 201 },
    'GET /v1/stations/{stationId}': { path: () => '/v1/stations/cp-keep', ok: 200 },
    'DELETE /v1/stations/{stationId}': { path: () => '/v1/stations/cp-del', ok: 204 },
    'POST /v1/stations/{stationId}/certificates': {
      path: () => '/v1/stations/cp-keep/certificates',
      body: () => ({ csr: newP256Csr('CP-KEEP-1').csr, certificateType: 'ChargingStationCertificate' }),
      ok: 201,
    },
    'GET /v1/stations/{stationId}/certificates': { path: () => '/v1/stations/cp-keep/certificates', ok: 200 },
    'POST /v1/stations/{stationId}/data-transfer': {
      path: () => '/v1/stations/cp-keep/data-transfer',
      body: () => ({ vendorId: 'org.openchargealliance.iso15118pnc', messageId: 'SignCertificate', data: JSON.stringify({ csr: newP256Csr('CP-KEEP-1').csr, certificateType: 'ChargingStationCertificate' }) }),
      ok: 201,
    },
    'POST /v1/server-certificates': { path: () => '/v1/server-certificates', body: () => ({ csr: newP256Csr('csms.demo.local').csr }), ok: 201 },
    'GET /v1/certificates/{serialNumber}': { path: () => `/v1/certificates/${certSerial}`, ok: 200 },
    'POST /v1/certificates/{serialNumber}/revoke': { path: () => `/v1/certificates/${revokeSerial}/revoke`, body: () => ({ reason: 'keyCompromise' }), ok: 200 },
    'POST /v1/certificate-status': { path: () => '/v1/certificate-status', body: () => statusRequest, ok: 200 },
    'GET /v1/trust-anchors': { path: () => '/v1/trust-anchors', ok: 200 },
    'GET /v1/root/rootCerts': { path: () => '/v1/root/rootCerts', ok: 200 },
    'GET /v1/audit': { path: () => '/v1/audit', ok: 200 },
    'GET /v1/manufacturers': { path: () => '/v1/manufacturers', ok: 200 },
    'POST /v1/manufacturers': { path: () => '/v1/manufacturers', body: () => ({ name: 'Rt', roots: rootPem }), ok: 201 },
    'GET /v1/manufacturers/{name}': { path: () => '/v1/manufacturers/Keep', ok: 200 },
    'DELETE /v1/manufacturers/{name}': { path: () => '/v1/manufacturers/Del', ok: 204 },
    'POST /v1/manufacturer-certificates/verify': { path: () => '/v1/manufacturer-certificates/verify', body: () => ({ chain: rootPem }), ok: 200 },
    'GET /v1/stations': { path: () => '/v1/stations', ok: 200 },
    'GET /v1/certificates': { path: () => '/v1/certificates', ok: 200 },
    'GET /v1/certificates/expiring': { path: () => '/v1/certificates/expiring', ok: 400 },
    'GET /v1/issuers': { path: () => '/v1/issuers', ok: 200 },
    'GET /v1/summary': { path: () => '/v1/summary', ok: 200 },
  };

  const tokens = new Map<string, string>();
  const tokenWith = async (scopes: readonly string[]): Promise<string> => {
    const key = scopes.join(' ');
    if (!tokens.has(key)) tokens.set(key, await stack.token('demo', { scopes }));
    return tokens.get(key)!;
  };
  /** The scope sets tried for an operation needing `needed`: every scope, exactly those, all the others. */
  const scopeSets = (needed: readonly string[]): [string, readonly string[]][] => [
    ['every scope', SCOPES],
    ['exactly its scopes', needed],
    ['every other scope', SCOPES.filter((s) => !needed.includes(s))],
  ];

  /** Every audit entry (of `tenant`, or all), page by page. */
  async function auditOf(tenant?: string): Promise<AuditEntry[]> {
    const all: AuditEntry[] = [];
    for (;;) {
      const page = await stack.store.listAudit({ ...(tenant ? { tenant } : {}), afterSeq: all.at(-1)?.seq ?? 0, limit: 1000 });
      all.push(...page);
      if (page.length < 1000) return all;
    }
  }
  const demoAudit = (): Promise<AuditEntry[]> => auditOf('demo');
  let okEntriesBefore: number;

  before(async () => {
    pki = await makeDevPki();
    stack = await startStack(pki);
    await registerStation(stack, 'cp-keep', 'CP-KEEP-1');
    await registerStation(stack, 'cp-del', 'CP-DEL-1');
    await registerStation(stack, 'cp-rev', 'CP-REV-1');
    const kept = await api(stack, 'POST', '/v1/stations/cp-keep/certificates', { csr: newP256Csr('CP-KEEP-1').csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(kept.status, 201, JSON.stringify(kept.body));
    certSerial = kept.body.serialNumber;
    const toRevoke = await api(stack, 'POST', '/v1/stations/cp-rev/certificates', { csr: newP256Csr('CP-REV-1').csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(toRevoke.status, 201, JSON.stringify(toRevoke.body));
    revokeSerial = toRevoke.body.serialNumber;
    const [leaf, sub] = pemBlocks(kept.body.certificateChain, 'CERTIFICATE') as [Buffer, Buffer];
    statusRequest = { ...certificateHashData(parseCertificate(leaf), parseCertificate(sub)), responderURL: `${stack.ocspUrl}/ocsp` };
    rootPem = (await api(stack, 'GET', '/v1/trust-anchors')).body.items[0].certificate;
    for (const name of ['Keep', 'Del']) assert.equal((await api(stack, 'POST', '/v1/manufacturers', { name, roots: rootPem })).status, 201);
    okEntriesBefore = (await demoAudit()).filter((e) => e.outcome === 'ok').length;
  });
  after(async () => {
    await stack?.stop();
    pki?.cleanup();
  });

  it('issue 14.1: the table covers every operation of openapi.yaml', () => {
    assert.deepEqual(Object.keys(calls).sort(), operations.all.map((o) => o.route).sort());
    for (const [route, c] of Object.entries(calls)) assert.equal(operations.find(route.split(' ')[0]!, c.path())?.route, route, `${route}: the canonical path matches`);
  });

  for (const op of operations.all) {
    it(`issue 14.1: ${op.route}: every other spelling is 404 for every token (401 without), before the body is read`, async () => {
      const call = calls[op.route]!;
      for (const [spelling, respell] of SPELLINGS) {
        const path = respell(call.path());
        assert.equal(operations.find(op.method, path), undefined, `${spelling}: ${path} is no operation`);
        for (const [name, scopes] of scopeSets(op.scopes)) {
          const r = await raw(stack.raUrl, op.method, path, call.body && JSON.stringify(call.body()), await tokenWith(scopes));
          assert.equal(r.status, 404, `${op.method} ${path} (${spelling}) with ${name}: ${JSON.stringify(r.body)}`);
          assert.equal(r.body.violations[0].rule, 'Authz.route');
        }
        assert.equal((await raw(stack.raUrl, op.method, path, undefined, undefined)).status, 401, `${op.method} ${path} (${spelling}) without a token`);
      }
      // Not even parsed: a malformed body on another spelling is still 404, not 400.
      const r = await raw(stack.raUrl, op.method, `${call.path()}/`, '{"not json', await tokenWith(SCOPES));
      assert.equal(r.status, 404, JSON.stringify(r.body));
    });
  }

  it('issue 14.1: another method on an operation\'s path is 405 with Allow naming the methods openapi.yaml has there, for every token, before the body is read (RFC 9110 15.5.6)', async () => {
    for (const [route, call] of Object.entries(calls)) {
      const path = call.path();
      const declared = operations.all.filter((o) => o.match.test(path)).map((o) => o.method);
      for (const method of ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'].filter((m) => !declared.includes(m))) {
        const r = await raw(stack.raUrl, method, path, '{"not json', await tokenWith(SCOPES));
        assert.equal(r.status, 405, `${method} ${path} (${route}): ${JSON.stringify(r.body)}`);
        assert.equal(r.allow, declared.join(', '), `${method} ${path}`);
        assert.equal(r.body.violations[0].rule, 'Authz.route');
        assert.equal((await raw(stack.raUrl, method, path, undefined, undefined)).status, 401, `${method} ${path} without a token`);
      }
    }
  });

  it('issue 14.1: the other spellings changed nothing, and their refusals are in the audit log', async () => {
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-new')).status, 404, 'no station registered');
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-del')).status, 200, 'no station removed');
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-keep/certificates')).body.items.length, 1, 'no certificate issued');
    assert.equal((await api(stack, 'GET', `/v1/certificates/${revokeSerial}`)).body.status, 'good', 'no certificate revoked');
    const entries = await demoAudit();
    assert.equal(entries.filter((e) => e.outcome === 'ok').length, okEntriesBefore, 'no audited change at all');
    assert.ok(
      entries.some((e) => e.event === 'auth.forbidden' && e.outcome === 'refused' && e.rules?.includes('Authz.route') && e.details?.route === 'unmatched'),
      'the 404s of an authenticated caller are audited',
    );
    const anonymous = await auditOf();
    assert.ok(anonymous.some((e) => e.event === 'auth.failed' && e.details?.route === 'unmatched'), 'the 401s too');
  });

  for (const op of operations.all) {
    it(`issue 14.1: ${op.route}: on the canonical path, 403 without its scopes (audited), served with exactly them`, async () => {
      const call = calls[op.route]!;
      const body = (): string | undefined => call.body && JSON.stringify(call.body());
      const others = SCOPES.filter((s) => !op.scopes.includes(s));
      const refused = await raw(stack.raUrl, op.method, call.path(), body(), await tokenWith(others));
      assert.equal(refused.status, 403, JSON.stringify(refused.body));
      assert.ok((await demoAudit()).some((e) => e.event === 'auth.forbidden' && e.details?.route === op.route), `${op.route}: the 403 is audited`);
      const served = await raw(stack.raUrl, op.method, call.path(), body(), await tokenWith(op.scopes));
      assert.equal(served.status, call.ok, JSON.stringify(served.body));
    });
  }

  it('issue 14.1: the ops routes are served only as spelt (GET /healthz), anything else needs a token and an operation', async () => {
    assert.equal((await raw(stack.raUrl, 'GET', '/healthz', undefined, undefined)).status, 200);
    for (const path of ['/HEALTHZ', '/healthz/', '//healthz', '/nope'])
      assert.equal((await raw(stack.raUrl, 'GET', path, undefined, await tokenWith(SCOPES))).status, 404, path);
  });
});
