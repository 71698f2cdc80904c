import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { pemBlocks } from '@evpki/x509';
import { buildCsr, newP256Csr } from './helpers/csr.js';
import { fixtureCsr } from './helpers/fixtures.js';
import { openssl } from './helpers/openssl.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { caRequest } from './helpers/service-tls.js';

let pki: DevPki;
let stack: Stack;
let work: string;

before(async () => {
  pki = await makeDevPki();
  stack = await startStack(pki);
  work = mkdtempSync(join(tmpdir(), 'evpki-e2e-'));
});
after(async () => {
  await stack.stop();
  pki.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** Key and CSR made by the openssl CLI, as a charge point would. */
function opensslCsr(name: string, keyArgs: string[], subject: string): string {
  const key = join(work, `${name}.key`);
  const csr = join(work, `${name}.csr`);
  assert.equal(openssl(['genpkey', ...keyArgs, '-out', key]).code, 0);
  const r = openssl(['req', '-new', '-key', key, '-subj', subject, '-sha256', '-out', csr]);
  assert.equal(r.code, 0, r.stderr);
  return readFileSync(csr, 'utf8');
}

const sign = (stationId: string, csr: string, headers: Record<string, string> = {}, certificateType = 'ChargingStationCertificate') =>
  api(stack, 'POST', `/v1/stations/${stationId}/certificates`, { csr, certificateType }, headers);

async function rootPem(): Promise<string> {
  const r = await api(stack, 'GET', '/v1/trust-anchors');
  assert.equal(r.status, 200);
  assert.equal(r.body.items.length, 1);
  return r.body.items[0].certificate;
}

describe('charge point certificates through RA → CA (A02/A03)', () => {
  before(async () => {
    await registerStation(stack, 'cp-ec', 'CP-EC-0001');
    await registerStation(stack, 'cp-rsa', 'CP-RSA-0001');
  });

  for (const [label, station, serial, keyArgs] of [
    ['EC P-256', 'cp-ec', 'CP-EC-0001', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']],
    ['RSA 2048', 'cp-rsa', 'CP-RSA-0001', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']],
  ] as const) {
    it(`${label}: signed, chain leaf-first without root, verified by openssl -purpose sslclient`, async () => {
      const csr = opensslCsr(station, [...keyArgs], `/O=Demo CPO/CN=${serial}`);
      const r = await sign(station, csr);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.ok(r.body.certificateChain.length <= 10000);

      const blocks = pemBlocks(r.body.certificateChain, 'CERTIFICATE').map((d) => new X509Certificate(d));
      assert.equal(blocks.length, 2, 'leaf + issuing CA, root left out (Plug&Charge 2.3)');
      const [leaf, sub] = blocks as [X509Certificate, X509Certificate];
      const root = new X509Certificate(await rootPem());
      assert.ok(leaf.checkIssued(sub) && sub.checkIssued(root) && !blocks.some((b) => b.fingerprint256 === root.fingerprint256));
      assert.equal(leaf.subject, `O=Demo CPO\nCN=${serial}`);
      assert.equal(leaf.serialNumber.toLowerCase().replace(/^0+/, ''), r.body.serialNumber);
      assert.equal(createHash('sha256').update(leaf.raw).digest('hex'), r.body.sha256Fingerprint);
      assert.equal(new Date(leaf.validFrom).toISOString(), r.body.notBefore);
      assert.equal(r.headers.get('location'), `/v1/certificates/${r.body.serialNumber}`);

      writeFileSync(join(work, 'root.pem'), root.toString());
      writeFileSync(join(work, 'chain.pem'), r.body.certificateChain);
      writeFileSync(join(work, 'leaf.pem'), leaf.toString());
      const v = openssl(['verify', '-purpose', 'sslclient', '-CAfile', join(work, 'root.pem'), '-untrusted', join(work, 'chain.pem'), join(work, 'leaf.pem')]);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      assert.match(v.stdout, /leaf\.pem: OK/);

      // Profile (A00.FR.512) as openssl reads it.
      const text = openssl(['x509', '-in', join(work, 'leaf.pem'), '-noout', '-text']).stdout;
      assert.match(text, /Key Usage: critical\s+Digital Signature, (Key Agreement|Key Encipherment)\n/);
      assert.match(text, label.startsWith('EC') ? /Key Agreement/ : /Key Encipherment/);
      assert.match(text, /Extended Key Usage: \s*TLS Web Client Authentication\n/);
      assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
      assert.match(text, /OCSP - URI:http:\/\/127\.0\.0\.1:8082\/ocsp/);
      assert.match(text, /CA Issuers - URI:http:\/\/127\.0\.0\.1:8082\/issuers\/cp-[0-9a-f]+\.der/);
      assert.match(text, /CRL Distribution Points/);
      assert.doesNotMatch(text, /Subject Alternative Name/);
      assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);

      // Recorded durably before the answer, with status.
      const rec = await api(stack, 'GET', `/v1/certificates/${r.body.serialNumber}`);
      assert.equal(rec.status, 200);
      assert.equal(rec.body.status, 'good');
      assert.equal(rec.body.stationId, station);
      assert.equal(rec.body.certificate, leaf.toString());
    });
  }

  it('serial numbers: positive, at least 64 random bits, at most 20 octets, all distinct (A00.FR.508)', async () => {
    await registerStation(stack, 'cp-serial', 'CP-SERIAL');
    const serials = new Set<string>();
    // 10: the default rate limit per station and day (RA_RATE_STATION_CSRS_PER_DAY).
    for (let i = 0; i < 10; i++) {
      const r = await sign('cp-serial', newP256Csr('CP-SERIAL').csr);
      assert.equal(r.status, 201);
      const leaf = new X509Certificate(pemBlocks(r.body.certificateChain, 'CERTIFICATE')[0]!);
      const raw = Buffer.from(leaf.serialNumber, 'hex');
      assert.ok(raw.length >= 8 && raw.length <= 20 && (raw[0]! & 0x80) === 0);
      serials.add(r.body.serialNumber);
    }
    assert.equal(serials.size, 10);
    const list = await api(stack, 'GET', '/v1/stations/cp-serial/certificates');
    assert.equal(list.status, 200);
    assert.deepEqual(new Set(list.body.items.map((c: { serialNumber: string }) => c.serialNumber)), serials);
  });

  it('pkijs parses the issued certificate and verifies its signature with the issuing CA key', async () => {
    await registerStation(stack, 'cp-pkijs', 'CP-PKIJS');
    const r = await sign('cp-pkijs', newP256Csr('CP-PKIJS').csr);
    const [leafDer, subDer] = pemBlocks(r.body.certificateChain, 'CERTIFICATE') as [Buffer, Buffer];
    const leaf = pkijs.Certificate.fromBER(leafDer);
    const sub = pkijs.Certificate.fromBER(subDer);
    assert.equal(leaf.version, 2);
    assert.equal(await leaf.verify(sub), true);
    assert.deepEqual(leaf.extensions?.map((e) => e.extnID).sort(), ['1.3.6.1.5.5.7.1.1', '2.5.29.14', '2.5.29.15', '2.5.29.19', '2.5.29.31', '2.5.29.35', '2.5.29.37'].sort());
  });
});

describe('trust anchors (InstallCertificate.req)', () => {
  it('returns the root with CertificateHashData computed over issuer name and key (checked with pkijs)', async () => {
    const r = await api(stack, 'GET', '/v1/trust-anchors');
    const item = r.body.items[0];
    const cert = pkijs.Certificate.fromBER(pemBlocks(item.certificate, 'CERTIFICATE')[0]!);
    const sha = (b: ArrayBuffer | Uint8Array) => createHash('sha256').update(Buffer.from(b as ArrayBuffer)).digest('hex');
    assert.deepEqual(item.certificateHashData, {
      hashAlgorithm: 'SHA256',
      issuerNameHash: sha(cert.issuer.toSchema().toBER()),
      issuerKeyHash: sha(cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView),
      serialNumber: Buffer.from(cert.serialNumber.valueBlock.valueHexView).toString('hex').replace(/^0+/, ''),
    });
    assert.equal(item.state, 'active');
  });
});

describe('policy rejections carry rule IDs and leave nothing behind', () => {
  before(async () => {
    await registerStation(stack, 'cp-0001', 'CP-0001');
    await registerStation(stack, 'cp-blocked', 'CP-0001', false);
  });

  const cases: [string, () => Promise<{ status: number; body: any }>, number, string][] = [
    ['URL as CN', () => sign('cp-0001', fixtureCsr('url-cn')), 422, 'A00.FR.511'],
    ['IP as CN', () => sign('cp-0001', fixtureCsr('ip-cn')), 422, 'A00.FR.511'],
    ['wrong O', () => sign('cp-0001', fixtureCsr('wrong-o')), 422, 'A02.FR.13'],
    ['SAN dNSName', () => sign('cp-0001', fixtureCsr('san-dns')), 422, 'A00.FR.511'],
    ['SHA-1 signature', () => sign('cp-0001', fixtureCsr('sha1')), 422, 'A00.FR.506'],
    ['weak RSA (ROCA)', () => sign('cp-0001', fixtureCsr('roca')), 422, 'A00.FR.504'],
    ['RSA 1024', () => sign('cp-0001', fixtureCsr('rsa-1024')), 422, 'A00.FR.502'],
    ['tampered signature', () => sign('cp-0001', fixtureCsr('tampered-sig')), 422, 'A02.FR.03'],
    ['unregistered station', () => sign('cp-nowhere', fixtureCsr('ec-p256-good')), 404, 'PnC-4.3'],
    ['station not allowed', () => sign('cp-blocked', fixtureCsr('ec-p256-good')), 403, 'PnC-4.2'],
    ['V2G certificate for a charge point CSR', () => sign('cp-0001', fixtureCsr('ec-p256-good'), {}, 'V2GCertificate'), 422, 'V2G.dc-cpo'],
    ['CSR over 5500 characters', () => sign('cp-0001', 'A'.repeat(5501)), 400, 'A02.FR.03'],
  ];
  for (const [name, call, status, rule] of cases) {
    it(`${name} → ${status} ${rule}`, async () => {
      const r = await call();
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.ok(r.body.violations.some((v: { rule: string }) => v.rule === rule), JSON.stringify(r.body));
      assert.equal(typeof r.body.title, 'string');
    });
  }

  it('no certificate was recorded for the rejected requests', async () => {
    for (const s of ['cp-0001', 'cp-blocked']) {
      const r = await api(stack, 'GET', `/v1/stations/${s}/certificates`);
      assert.deepEqual(r.body.items, []);
    }
  });

  it('a key certified once is refused the second time (A02.FR.02)', async () => {
    await registerStation(stack, 'cp-reuse', 'CP-REUSE');
    const { csr, key } = newP256Csr('CP-REUSE');
    assert.equal((await sign('cp-reuse', csr)).status, 201);
    // Another CSR for the key (the identical CSR would be a retry, issue 14.13).
    const again = await sign('cp-reuse', buildCsr(key, { o: 'Demo CPO', cn: 'CP-REUSE' }));
    assert.equal(again.status, 422);
    assert.equal(again.body.violations[0].rule, 'A02.FR.02');
  });

  it('a body over the size limit → 413; malformed JSON → 400; unknown field → 400', async () => {
    const big = await api(stack, 'POST', '/v1/stations/cp-0001/certificates', JSON.stringify({ csr: 'x'.repeat(20000), certificateType: 'ChargingStationCertificate' }));
    assert.equal(big.status, 413);
    const bad = await api(stack, 'POST', '/v1/stations/cp-0001/certificates', '{"csr": ');
    assert.equal(bad.status, 400);
    const extra = await api(stack, 'PUT', '/v1/stations/cp-x', { serialNumber: 'CP-X', allowed: true, admin: true });
    assert.equal(extra.status, 400);
    assert.equal(big.headers.get('content-type'), 'application/problem+json');
  });
});

describe('Idempotency-Key', () => {
  before(() => registerStation(stack, 'cp-idem', 'CP-IDEM'));

  it('a retry returns the same certificate; the same key with another CSR is 409', async () => {
    const { csr } = newP256Csr('CP-IDEM');
    const first = await sign('cp-idem', csr, { 'idempotency-key': 'req-1' });
    assert.equal(first.status, 201);
    const retry = await sign('cp-idem', csr, { 'idempotency-key': 'req-1' });
    assert.equal(retry.status, 201);
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.deepEqual(retry.body, first.body);
    const other = await sign('cp-idem', newP256Csr('CP-IDEM').csr, { 'idempotency-key': 'req-1' });
    assert.equal(other.status, 409);
    const list = await api(stack, 'GET', '/v1/stations/cp-idem/certificates');
    assert.equal(list.body.items.length, 1);
  });

  it('concurrent requests with one key produce one certificate', async () => {
    const { csr } = newP256Csr('CP-IDEM');
    const rs = await Promise.all(Array.from({ length: 8 }, () => sign('cp-idem', csr, { 'idempotency-key': 'req-concurrent' })));
    const serials = new Set(rs.map((r) => (assert.equal(r.status, 201, JSON.stringify(r.body)), r.body.serialNumber)));
    assert.equal(serials.size, 1);
    const list = await api(stack, 'GET', '/v1/stations/cp-idem/certificates');
    assert.equal(list.body.items.length, 2);
  });
});

describe('stations', () => {
  it('PUT creates (201) then updates (200); GET returns it; DELETE removes it', async () => {
    const c = await api(stack, 'PUT', '/v1/stations/cp-life', { serialNumber: 'CP-LIFE', model: 'Wallbox 9', allowed: false });
    assert.equal(c.status, 201);
    const u = await api(stack, 'PUT', '/v1/stations/cp-life', { serialNumber: 'CP-LIFE', model: 'Wallbox 9', allowed: true });
    assert.equal(u.status, 200);
    assert.equal(u.body.createdAt, c.body.createdAt);
    const g = await api(stack, 'GET', '/v1/stations/cp-life');
    assert.deepEqual(g.body, u.body);
    assert.equal((await api(stack, 'DELETE', '/v1/stations/cp-life')).status, 204);
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-life')).status, 404);
    assert.equal((await api(stack, 'DELETE', '/v1/stations/cp-life')).status, 404);
  });

  it('a serial number that is a URL or IP is refused at registration (A00.FR.511)', async () => {
    const r = await api(stack, 'PUT', '/v1/stations/cp-ip', { serialNumber: '10.0.0.1', allowed: true });
    assert.equal(r.status, 422);
    assert.equal(r.body.violations[0].rule, 'A00.FR.511');
  });
});

describe('authentication and tenants', () => {
  it('the RA rejects requests without a valid token (401)', async () => {
    for (const authorization of ['', 'Bearer nope', 'Basic abc', `Bearer ${(await stack.token()).slice(0, -4)}AAAA`]) {
      const r = await api(stack, 'GET', '/v1/trust-anchors', undefined, { authorization });
      assert.equal(r.status, 401, authorization);
      assert.equal(r.headers.get('www-authenticate'), authorization ? 'Bearer realm="evpki-ra", error="invalid_token"' : 'Bearer realm="evpki-ra"');
    }
  });

  it('a token for an unknown tenant is refused (403)', async () => {
    const r = await api(stack, 'GET', '/v1/trust-anchors', undefined, { authorization: `Bearer ${await stack.token('nobody')}` });
    assert.equal(r.status, 403);
  });

  it("a tenant cannot see or use another tenant's stations and certificates (404)", async () => {
    await stack.store.putTenant({ id: 'other', cpoName: 'Other CPO', disabled: false, createdAt: new Date().toISOString() });
    const other = { authorization: `Bearer ${await stack.token('other')}` };
    await registerStation(stack, 'cp-mine', 'CP-MINE');
    const mine = await sign('cp-mine', newP256Csr('CP-MINE').csr);
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-mine', undefined, other)).status, 404);
    assert.equal((await api(stack, 'GET', `/v1/certificates/${mine.body.serialNumber}`, undefined, other)).status, 404);
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-mine/certificates', undefined, other)).status, 404);
    assert.equal((await api(stack, 'DELETE', '/v1/stations/cp-mine', undefined, other)).status, 404);
    const s = await api(stack, 'POST', '/v1/stations/cp-mine/certificates', { csr: newP256Csr('CP-MINE', 'Other CPO').csr, certificateType: 'ChargingStationCertificate' }, other);
    assert.equal(s.status, 404, 'as for a station that does not exist (more in test/tenant-isolation.test.ts)');
    assert.equal(s.body.violations[0].rule, 'PnC-4.3');
  });

  it('the CA signs for the RA (its client certificate) and still re-checks policy', async () => {
    // Who else the CA refuses, at the TLS layer or with 403: test/service-mtls.test.ts.
    const body = { tenant: 'demo', stationId: 'cp-0001', csr: fixtureCsr('ec-p256-good'), certificateType: 'ChargingStationCertificate', actor: 'test' };
    const ok = await caRequest(pki.dataDir, stack.caUrl, 'ra-client', 'POST', '/v1/sign', body);
    assert.equal(ok.status, 201, 'as the RA, the CA runs its own policy and signs');
    const direct = await caRequest(pki.dataDir, stack.caUrl, 'ra-client', 'POST', '/v1/sign', { ...body, csr: fixtureCsr('url-cn') });
    assert.equal(direct.status, 422, 'the CA trusts no caller: it re-checks policy');
    assert.equal((direct.body as { violations: { rule: string }[] }).violations[0]!.rule, 'A00.FR.511');
  });
});

describe('health', () => {
  it('every service answers /healthz and /readyz', async () => {
    const expected = new Map([
      // The RA also checks the whole path to the CA (a CA that is down only degrades it).
      [stack.raUrl, { store: true, ca: true }],
      [stack.caOpsUrl, { store: true, keys: true }],
      // The responder is ready once it serves issuers, holds a delegated signer for each, and its
      // store answers (or, while it is down, it holds answers in memory: test/readiness.test.ts).
      [stack.ocspUrl, { issuers: true, signers: true, store: true }],
    ]);
    for (const [base, checks] of expected) {
      const h = await fetch(`${base}/healthz`);
      assert.equal(h.status, 200);
      const r = await fetch(`${base}/readyz`);
      assert.equal(r.status, 200, base);
      const body = (await r.json()) as Record<string, unknown>;
      // `memory` (answers held) depends on what the responder was asked before.
      const { memory: _memory, ...shown } = body.checks as Record<string, boolean>;
      assert.deepEqual({ status: body.status, checks: shown }, { status: 'ready', checks });
      // The CA also says which issuing CA keys it holds (`pki rotate-* activate` asks it).
      if (base === stack.caOpsUrl) {
        const cp = stack.pki.manifest.issuers.chargePoint;
        assert.deepEqual({ activeIssuer: body.activeIssuer, issuerKeys: body.issuerKeys }, { activeIssuer: cp, issuerKeys: { [cp]: true } });
      }
    }
  });
});
