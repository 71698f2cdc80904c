/**
 * GET /v1/summary on a real stack (RA, CA, OCSP responder over one store; the RA validates its
 * answers against openapi.yaml), on LMDB and on Redis: exact counts after issuing, revoking and
 * expiring certificates, equal to what the lists list; OCSP answers by status after real OCSP
 * requests (HTTP POST and GET, `openssl ocsp`), summed over the responders of RA_OCSP_METRICS_URLS
 * (the real one and a second one served here) and filtered to the tenant; the OCSP part marked
 * unavailable, not a 500, when a responder cannot be read; both list scopes required.
 * Tenant isolation of the summary: tenant-isolation.test.ts; the counts: store-contract-summary.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOcspRequest } from '@evpki/ocsp';
import { parseCertificate, pemBlocks, toPem, type ParsedCertificate } from '@evpki/x509';
import { newP256Csr } from './helpers/csr.js';
import { certIdFor, postOcsp, parseOcspResponse } from './helpers/ocsp-client.js';
import { opensslAsync } from './helpers/openssl.js';
import { makeDevPki, requestJson, startStack, type DevPki, type JsonResponse, type Stack } from './helpers/pki.js';
import { freePort } from './helpers/processes.js';
import { recordCert } from './helpers/record-cert.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { cert } from './helpers/store-contract.js';

const DAY = 86_400_000;
const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * A second responder's /metrics as the RA sees it (two workers): demo's answers, another tenant's,
 * an error without a tenant, and a tenant whose name only starts like demo's (escaped quote).
 */
const SECOND_RESPONDER = [
  '# HELP pki_ocsp_responses_total OCSP answers',
  '# TYPE pki_ocsp_responses_total counter',
  'pki_ocsp_responses_total{status="good",source="presigned",method="POST",tenant="demo",worker="0"} 7',
  'pki_ocsp_responses_total{status="good",source="live",method="GET",tenant="demo",worker="1"} 3',
  'pki_ocsp_responses_total{status="revoked",source="live",method="POST",tenant="other",worker="0"} 5',
  'pki_ocsp_responses_total{status="malformedRequest",source="unsigned",method="POST",tenant="",worker="1"} 2',
  'pki_ocsp_responses_total{status="good",source="presigned",method="POST",tenant="demo\\"x",worker="0"} 100',
  'pki_ocsp_http_requests_total{route="POST /ocsp",status="200",tenant="demo",worker="0"} 50',
  '',
].join('\n');

for (const backend of ['LMDB', 'Redis'] as const) {
  describe(`GET /v1/summary on ${backend}`, () => {
    let redis: TestRedis | undefined;
    let pki: DevPki;
    let stack: Stack;
    let second: Server;
    let secondUp = true;
    let issuer: ParsedCertificate;
    let work: string;
    const serials: Record<string, string> = {};

    const as = async (tenant: string, method: string, path: string, body?: unknown, scopes?: string[]): Promise<JsonResponse> =>
      requestJson(stack.raUrl + path, method, body, { authorization: `Bearer ${await stack.token(tenant, scopes ? { scopes } : {})}` });
    const summary = async (tenant = 'demo'): Promise<any> => {
      const r = await as(tenant, 'GET', '/v1/summary');
      assert.equal(r.status, 200, r.text);
      return r.body;
    };
    /** How many certificates a list gives (every page). */
    const listed = async (query: string): Promise<number> => {
      let n = 0;
      let cursor: string | undefined;
      do {
        const r = await as('demo', 'GET', `/v1/certificates${query}${query.includes('?') ? '&' : '?'}limit=500${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(r.status, 200, r.text);
        n += r.body.items.length;
        cursor = r.body.nextCursor;
      } while (cursor);
      return n;
    };
    const ocspStatus = async (serial: string, get = false): Promise<string> => {
      const req = buildOcspRequest([certIdFor(issuer, serial)]);
      const der = get
        ? Buffer.from(await (await fetch(`${stack.ocspUrl}/ocsp/${encodeURIComponent(req.toString('base64'))}`)).arrayBuffer())
        : (await postOcsp(stack.ocspUrl, req)).der;
      return parseOcspResponse(der).singles?.[0]?.status ?? 'error';
    };

    before(async () => {
      if (backend === 'Redis') redis = await startRedis();
      pki = await makeDevPki('ecdsa-p256', redis?.env ?? {});
      work = mkdtempSync(join(tmpdir(), 'evpki-summary-'));
      second = createServer((req, res) => {
        if (req.url !== '/metrics' || !secondUp) return void res.writeHead(503).end();
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(SECOND_RESPONDER);
      });
      await new Promise<void>((resolve) => second.listen(0, '127.0.0.1', resolve));
      const secondPort = (second.address() as { port: number }).port;
      const ocspPort = await freePort();
      stack = await startStack(pki, {
        ocspEnv: { OCSP_PORT: String(ocspPort) },
        raEnv: { RA_OCSP_METRICS_URLS: `http://127.0.0.1:${ocspPort}/metrics, http://127.0.0.1:${secondPort}/metrics` },
      });
      await stack.store.putTenant({ id: 'demo', cpoName: 'Demo CPO', serverDomains: ['demo.local'], disabled: false, createdAt: new Date().toISOString() });
      await stack.store.putTenant({ id: 'other', cpoName: 'Other CPO', serverDomains: ['other.test'], disabled: false, createdAt: new Date().toISOString() });
      issuer = parseCertificate((await stack.store.getIssuer(pki.manifest.issuers.chargePoint))!.certificate);
      for (const [tenant, id, sn, allowed] of [['demo', 'cp-1', 'SN-1', true], ['demo', 'cp-2', 'SN-2', true], ['demo', 'cp-3', 'SN-3', false], ['other', 'op-1', 'SN-O1', true]] as const)
        assert.equal((await as(tenant, 'PUT', `/v1/stations/${id}`, { serialNumber: sn, allowed })).status, 201);
      for (const [name, tenant, id, sn, o] of [['c1', 'demo', 'cp-1', 'SN-1', 'Demo CPO'], ['c2', 'demo', 'cp-1', 'SN-1', 'Demo CPO'], ['c3', 'demo', 'cp-2', 'SN-2', 'Demo CPO'], ['o1', 'other', 'op-1', 'SN-O1', 'Other CPO']] as const) {
        const r = await as(tenant, 'POST', `/v1/stations/${id}/certificates`, { csr: newP256Csr(sn, o).csr, certificateType: 'ChargingStationCertificate' });
        assert.equal(r.status, 201, r.text);
        serials[name] = r.body.serialNumber;
        if (name === 'c1') {
          const [leaf, ca] = pemBlocks(r.body.certificateChain as string, 'CERTIFICATE');
          writeFileSync(join(work, 'leaf.pem'), toPem('CERTIFICATE', leaf!));
          writeFileSync(join(work, 'issuer.pem'), toPem('CERTIFICATE', ca!));
        }
      }
      assert.equal((await as('demo', 'POST', `/v1/certificates/${serials.c2}/revoke`, { reason: 'superseded' })).status, 200);
      // An expired certificate and one expiring within 10 days, recorded as the CA records them (no need to wait).
      const now = Date.now();
      const common = { issuerId: pki.manifest.issuers.chargePoint, tenant: 'demo', stationId: 'cp-3' };
      const expired = cert({ ...common, issuedAt: new Date(now - 2 * DAY).toISOString(), notBefore: new Date(now - 3 * DAY).toISOString(), notAfter: new Date(now - DAY).toISOString() });
      const soon = cert({ ...common, issuedAt: new Date(now - DAY).toISOString(), notBefore: new Date(now - DAY).toISOString(), notAfter: new Date(now + 10 * DAY).toISOString() });
      for (const c of [expired, soon]) assert.deepEqual(await recordCert(stack.store, c), { ok: true });
      serials.expired = expired.serial;
      serials.soon = soon.serial;
    });
    after(async () => {
      await stack?.stop();
      await new Promise((resolve) => second?.close(resolve));
      pki?.cleanup();
      await redis?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('counts the tenant\'s stations and certificates exactly: by status, issued per day, expiring; as the lists list them', async () => {
      const s = await summary();
      const now = Date.parse(s.at);
      assert.equal(s.tenant, 'demo');
      assert.deepEqual(s.stations, { total: 3, allowed: 2, disallowed: 1 });
      assert.deepEqual(s.certificates, { total: 5, good: 3, revoked: 1, expired: 1 });
      assert.deepEqual(s.expiring, [{ withinDays: 30, count: 1 }, { withinDays: 90, count: 1 }]);
      assert.equal(s.issuedPerDay.length, 30);
      assert.equal(s.issuedPerDay.at(-1).day, dayOf(now));
      const expected: Record<string, number> = {};
      for (const t of [now, now, now, now - DAY, now - 2 * DAY]) expected[dayOf(t)] = (expected[dayOf(t)] ?? 0) + 1;
      // Issued at the RA's "now" (a run across midnight UTC would put c1-c3 on two days: summed the same).
      assert.equal(s.issuedPerDay.reduce((n: number, d: { count: number }) => n + d.count, 0), 5);
      for (const [day, n] of Object.entries(expected)) if (day !== dayOf(now)) assert.equal(s.issuedPerDay.find((d: { day: string }) => d.day === day)?.count, n, day);
      // The same numbers as the lists.
      assert.equal(await listed('?status=good'), s.certificates.good);
      assert.equal(await listed('?status=revoked'), s.certificates.revoked);
      assert.equal(await listed('?status=expired'), s.certificates.expired);
      assert.equal(await listed('/expiring?within=30d'), s.expiring[0].count);
      assert.equal(await listed('/expiring?within=90d'), s.expiring[1].count);
      // The other tenant: its own numbers only.
      const o = await summary('other');
      assert.deepEqual([o.stations, o.certificates], [{ total: 1, allowed: 1, disallowed: 0 }, { total: 1, good: 1, revoked: 0, expired: 0 }]);
    });

    it('counts OCSP answers about the tenant\'s certificates by status, after real requests, summed over responders and workers', async () => {
      const before = await summary();
      assert.deepEqual(before.ocspAnswers, { available: true, responders: 2, total: 10, byStatus: { good: 10, revoked: 0, unknown: 0, mixed: 0 } }, 'the second responder\'s only');
      await stack.ocsp.presigner.runOnce();
      // c3's answer as pre-signed before responses recorded their tenant: the responder reads the certificate's.
      const { tenant: _t, ...older } = (await stack.store.getOcspResponse(pki.manifest.issuers.chargePoint, serials.c3!, 'sha256'))!;
      assert.equal(_t, 'demo', 'pre-signed responses record their tenant');
      assert.equal(await stack.store.putOcspResponses(serials.c3!, { status: 'good' }, [older]), true);
      assert.equal((await stack.store.getOcspResponse(pki.manifest.issuers.chargePoint, serials.c3!, 'sha256'))!.tenant, undefined);
      assert.equal(await ocspStatus(serials.c1!), 'good'); // pre-signed
      assert.equal(await ocspStatus(serials.c1!), 'good');
      assert.equal(await ocspStatus(serials.c3!, true), 'good'); // GET, the older pre-signed answer
      assert.equal(await ocspStatus(serials.c2!), 'revoked');
      assert.equal(await ocspStatus(serials.o1!), 'good'); // the other tenant's
      assert.equal(parseOcspResponse((await postOcsp(stack.ocspUrl, Buffer.from('not DER'))).der).status, 1); // no tenant
      // openssl ocsp (with its nonce: signed live).
      const r = await opensslAsync(['ocsp', '-issuer', join(work, 'issuer.pem'), '-cert', join(work, 'leaf.pem'), '-url', `${stack.ocspUrl}/ocsp`, '-noverify']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /leaf\.pem: good/);
      const s = await summary();
      assert.deepEqual(s.ocspAnswers, { available: true, responders: 2, total: 15, byStatus: { good: 14, revoked: 1, unknown: 0, mixed: 0 } });
      const o = await summary('other');
      assert.deepEqual(o.ocspAnswers.byStatus, { good: 1, revoked: 5, unknown: 0, mixed: 0 });
    });

    it('answers with the OCSP part unavailable (not a 500) when a responder\'s metrics cannot be read', async () => {
      secondUp = false;
      try {
        const s = await summary();
        assert.equal(s.ocspAnswers.available, false);
        assert.match(s.ocspAnswers.reason, /1 of 2 OCSP responder/);
        assert.doesNotMatch(s.ocspAnswers.reason, /127\.0\.0\.1/, 'internal addresses are not shown to the tenant');
        assert.deepEqual(s.certificates, { total: 5, good: 3, revoked: 1, expired: 1 }, 'the counts still answer');
      } finally {
        secondUp = true;
      }
    });

    it('needs both list scopes (stations:read and certificates:read); no other scope opens it', async () => {
      const all = ['stations:write', 'certificates:sign', 'certificates:revoke', 'server-certificates:sign', 'status:read', 'audit:read', 'issuers:read', 'manufacturers:read', 'stations:read', 'certificates:read'];
      for (const scopes of [['stations:read'], ['certificates:read'], all.filter((x) => x !== 'certificates:read'), all.filter((x) => x !== 'stations:read')]) {
        const r = await as('demo', 'GET', '/v1/summary', undefined, scopes);
        assert.equal(r.status, 403, `${scopes.join(' ')}: ${r.text}`);
        assert.match(r.headers.get('www-authenticate') ?? '', /insufficient_scope/);
        assert.equal(r.body.violations?.[0]?.rule, 'Authz.scope');
      }
      assert.equal((await as('demo', 'GET', '/v1/summary', undefined, ['stations:read', 'certificates:read'])).status, 200);
    });
  });
}
