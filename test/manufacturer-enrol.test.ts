/**
 * Issue 21: a station's first enrolment on its manufacturer certificate (zero-touch onboarding),
 * through POST /v1/stations/{id}/certificates with manufacturerCertificateChain and through
 * POST /v1/manufacturer-certificates/verify. Real parts: manufacturer PKIs made by openssl
 * (helpers/manufacturer-pki.ts: ACME, trusted by tenant demo; Zeta, trusted by nobody), the RA, CA
 * and responder in this process, CRLs served by a local HTTP server on the RA's allow-list, an
 * OCSP responder address where nothing listens. Each bad chain is refused naming its rule, and
 * nothing is registered.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { CaClient } from '@evpki/ca-client';
import { AppError, RA_CLIENT_CN, readServiceTls } from '@evpki/service';
import { buildCsr, newP256Csr } from './helpers/csr.js';
import { makeManufacturerPki, type ManufacturerPki, type MfrCert } from './helpers/manufacturer-pki.js';
import { api, makeDevPki, startStack, type DevPki, type JsonResponse, type Stack } from './helpers/pki.js';

const DAY = 86_400_000;
let dev: DevPki;
let stack: Stack;
let acme: ManufacturerPki;
let zeta: ManufacturerPki;
let beta: ManufacturerPki;
let crlServer: Server;
let crlPort: number;
let deadPort: number;
const crlRequests: string[] = [];
const crls = new Map<string, Buffer>();
let revokedLeaf: MfrCert;
let betaLeaf: MfrCert;
/** Gamma: its station certificates name a real `openssl ocsp` responder. */
let gamma: ManufacturerPki;
let gammaGood: MfrCert;
let gammaRevoked: MfrCert;
let ocspPort: number;
let responder: ChildProcess;
/** Delta: its certificates name their CRL (distribution points), served by the CRL server. */
let delta: ManufacturerPki;
let deltaGood: MfrCert;
let deltaRevoked: MfrCert;

/** `openssl ocsp` answering for `ca` from its `openssl ca` database; resolves once it accepts connections. */
async function startOpensslResponder(ca: MfrCert, port: number): Promise<ChildProcess> {
  const child = spawn('openssl', ['ocsp', '-index', join(ca.caDir!, 'index.txt'), '-port', String(port), '-rsigner', ca.certFile, '-rkey', ca.keyFile, '-CA', ca.certFile, '-nmin', '60', '-ignore_err'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  for (let i = 0; i < 400 && child.exitCode === null; i++) {
    if (/waiting for OCSP client connections/.test(output)) return child;
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill();
  throw new Error(`openssl ocsp did not start: ${output}`);
}

const listen = (s: Server): Promise<number> => new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A station certificate of ACME's issuing CA (or `issuer`), CN = `cn`. */
const acmeLeaf = (cn: string, o: Partial<Parameters<ManufacturerPki['issue']>[0]> = {}): MfrCert => acme.issue({ subject: `/O=Acme Chargers/OU=W1/CN=${cn}`, issuer: acme.intermediate, ...o });

/** POST /v1/stations/{stationId}/certificates with a fresh P-256 CSR of CN `cn` (or `csr`) and the chain. */
function enrol(stationId: string, chain: string, cn: string, csr = newP256Csr(cn).csr): Promise<JsonResponse> {
  return api(stack, 'POST', `/v1/stations/${stationId}/certificates`, { csr, certificateType: 'ChargingStationCertificate', manufacturerCertificateChain: chain });
}
const verify = (chain: string): Promise<JsonResponse> => api(stack, 'POST', '/v1/manufacturer-certificates/verify', { chain });
const rules = (r: JsonResponse): string[] => (r.body?.violations ?? r.body?.reasons ?? []).map((v: { rule: string }) => v.rule);

before(async () => {
  acme = makeManufacturerPki({ keyType: 'p256', name: 'Acme Chargers' });
  zeta = makeManufacturerPki({ keyType: 'p256', name: 'Zeta Power' });
  beta = makeManufacturerPki({ keyType: 'p256', name: 'Beta Energy' });
  // A revoked station certificate: revoked before the CRLs are first served (they are cached until nextUpdate).
  revokedLeaf = acmeLeaf('CP-REVOKED');
  acme.revoke(acme.intermediate, revokedLeaf);
  crls.set('/issuing.crl', acme.crl(acme.intermediate));
  crls.set('/root.crl', acme.crl(acme.root));
  crlServer = createServer((req, res) => {
    crlRequests.push(req.url ?? '');
    const crl = crls.get(req.url ?? '');
    if (!crl) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(crl);
  });
  crlPort = await listen(crlServer);
  delta = makeManufacturerPki({ keyType: 'p256', name: 'Delta Drive' });
  const dp = [`crlDistributionPoints=URI:http://127.0.0.1:${crlPort}/delta.crl`];
  deltaGood = delta.issue({ subject: '/O=Delta Drive/CN=CP-D1', issuer: delta.intermediate, extensions: dp });
  deltaRevoked = delta.issue({ subject: '/O=Delta Drive/CN=CP-D2', issuer: delta.intermediate, extensions: dp });
  delta.revoke(delta.intermediate, deltaRevoked);
  crls.set('/delta.crl', delta.crl(delta.intermediate));
  const dead = createServer();
  deadPort = await listen(dead);
  await new Promise((r) => dead.close(r));
  betaLeaf = beta.issue({ subject: '/O=Beta Energy/CN=CP-BETA-1', issuer: beta.intermediate, extensions: [`authorityInfoAccess=OCSP;URI:http://127.0.0.1:${deadPort}/ocsp`] });

  gamma = makeManufacturerPki({ keyType: 'p256', name: 'Gamma Grid' });
  const free = createServer();
  ocspPort = await listen(free);
  await new Promise((r) => free.close(r));
  const aia = [`authorityInfoAccess=OCSP;URI:http://127.0.0.1:${ocspPort}/`];
  gammaGood = gamma.issue({ subject: '/O=Gamma Grid/CN=CP-G1', issuer: gamma.intermediate, extensions: aia });
  gammaRevoked = gamma.issue({ subject: '/O=Gamma Grid/CN=CP-G2', issuer: gamma.intermediate, extensions: aia });
  gamma.revoke(gamma.intermediate, gammaRevoked);
  responder = await startOpensslResponder(gamma.intermediate, ocspPort);

  dev = await makeDevPki();
  stack = await startStack(dev, { raEnv: { RA_OCSP_ALLOWED_HOSTS: `127.0.0.1:${crlPort},127.0.0.1:${deadPort},127.0.0.1:${ocspPort}`, RA_OCSP_TIMEOUT_MS: '2000' } });
  const add = await api(stack, 'POST', '/v1/manufacturers', {
    name: 'ACME',
    roots: acme.root.pem,
    revocation: { crlUrls: [`http://127.0.0.1:${crlPort}/issuing.crl`, `http://127.0.0.1:${crlPort}/root.crl`], failMode: 'closed' },
    mapping: { serialFrom: 'CN', models: ['W1'], modelFrom: 'OU' },
    autoRegister: true,
  });
  assert.equal(add.status, 201, add.text);
  const addBeta = await api(stack, 'POST', '/v1/manufacturers', { name: 'Beta', roots: beta.root.pem, intermediates: beta.intermediate.pem, revocation: { ocsp: true, failMode: 'closed' }, autoRegister: true });
  assert.equal(addBeta.status, 201, addBeta.text);
  const addDelta = await api(stack, 'POST', '/v1/manufacturers', { name: 'Delta', roots: delta.root.pem, intermediates: delta.intermediate.pem, revocation: { crlDistributionPoints: true }, autoRegister: true });
  assert.equal(addDelta.status, 201, addDelta.text);
  const addGamma = await api(stack, 'POST', '/v1/manufacturers', { name: 'Gamma', roots: gamma.root.pem, intermediates: gamma.intermediate.pem, revocation: { ocsp: true }, autoRegister: true });
  assert.equal(addGamma.status, 201, addGamma.text);
});
after(async () => {
  await stack.stop();
  await new Promise((r) => crlServer.close(r));
  responder.kill();
  dev.cleanup();
  for (const p of [acme, zeta, beta, gamma, delta]) p.cleanup();
});

describe('first enrolment on an ACME certificate', () => {
  it('a good chain enrols and registers the station in the same write (zero-touch), fingerprint on the station and in the audit log', async () => {
    const leaf = acmeLeaf('CP-A1');
    const r = await enrol('cp-a1', leaf.pem + acme.intermediate.pem, 'CP-A1');
    assert.equal(r.status, 201, r.text);
    const station = await stack.store.getStation('demo', 'cp-a1');
    assert.deepEqual(
      { serialNumber: station?.serialNumber, model: station?.model, allowed: station?.allowed, manufacturer: station?.manufacturer },
      { serialNumber: 'CP-A1', model: 'W1', allowed: true, manufacturer: { name: 'ACME', certificateSha256: sha256(leaf.der), certificateSerial: station?.manufacturer?.certificateSerial } },
    );
    assert.match(station!.manufacturer!.certificateSerial, /^[0-9a-f]+$/);
    const certs = await stack.store.listStationCertificates('demo', 'cp-a1');
    assert.deepEqual(certs.map((c) => c.serial), [r.body.serialNumber]);
    const view = await api(stack, 'GET', '/v1/stations/cp-a1');
    assert.equal(view.body.manufacturer.certificateSha256, sha256(leaf.der));
    const audit = await stack.store.listAudit({ afterSeq: 0, limit: 1000, tenant: 'demo' });
    const issued = audit.find((e) => e.event === 'certificate.issued' && e.details?.serialNumber === r.body.serialNumber);
    assert.equal(issued?.details?.manufacturer, 'ACME');
    assert.equal(issued?.details?.manufacturerCertificateSha256, sha256(leaf.der));
    assert.equal(issued?.details?.stationRegistered, true);
    assert.equal(issued?.details?.manufacturerRevocation, 'good');
  });

  it('verify: valid, the station identity, the model, revocation good (CRLs checked)', async () => {
    const leaf = acmeLeaf('CP-V1');
    const r = await verify(leaf.pem + acme.intermediate.pem);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { valid: true, manufacturer: 'ACME', serialNumber: 'CP-V1', model: 'W1', certificateSha256: sha256(leaf.der), revocation: 'good', reasons: [] });
  });

  it('CRLs are fetched once and served from the cache until their nextUpdate', async () => {
    const before = crlRequests.length;
    for (let i = 0; i < 3; i++) assert.equal((await verify(acmeLeaf(`CP-C${i}`).pem + acme.intermediate.pem)).body.valid, true);
    assert.equal(crlRequests.length, before, 'no fetch after the first');
    assert.deepEqual([...new Set(crlRequests)].sort(), ['/issuing.crl', '/root.crl']);
  });

  it('re-keying: the same manufacturer certificate again (new key) enrols; another ACME certificate for that station is 403 Manufacturer.identity; the normal flow still works', async () => {
    const leaf = acmeLeaf('CP-A2');
    assert.equal((await enrol('cp-a2', leaf.pem + acme.intermediate.pem, 'CP-A2')).status, 201);
    const again = await enrol('cp-a2', leaf.pem + acme.intermediate.pem, 'CP-A2');
    assert.equal(again.status, 201, again.text);
    const other = acmeLeaf('CP-A2');
    const refused = await enrol('cp-a2', other.pem + acme.intermediate.pem, 'CP-A2');
    assert.equal(refused.status, 403, refused.text);
    assert.deepEqual(rules(refused), ['Manufacturer.identity']);
    const normal = await api(stack, 'POST', '/v1/stations/cp-a2/certificates', { csr: newP256Csr('CP-A2').csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(normal.status, 201, normal.text);
  });

  it('a model the entry does not allow is refused (Manufacturer.model)', async () => {
    const leaf = acme.issue({ subject: '/O=Acme Chargers/OU=W9/CN=CP-W9', issuer: acme.intermediate });
    const r = await enrol('cp-w9', leaf.pem + acme.intermediate.pem, 'CP-W9');
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(rules(r), ['Manufacturer.model']);
  });
});

describe('refused chains: each names its reason, and registers nothing', () => {
  const past = new Date(Date.now() - 30 * DAY);
  const cases: [string, () => { chain: string; cn: string; csr?: string }, string, number?][] = [
    ['expired', () => ({ chain: acmeLeaf('CP-X1', { notBefore: past, notAfter: new Date(Date.now() - DAY) }).pem + acme.intermediate.pem, cn: 'CP-X1' }), 'RFC5280-6.1.3(a)(2)'],
    ['not yet valid', () => ({ chain: acmeLeaf('CP-X2', { notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 400 * DAY) }).pem + acme.intermediate.pem, cn: 'CP-X2' }), 'RFC5280-6.1.3(a)(2)'],
    ['wrong root (Zeta, trusted by nobody)', () => ({ chain: zeta.issue({ subject: '/O=Zeta Power/CN=CP-X3', issuer: zeta.intermediate }).pem + zeta.intermediate.pem, cn: 'CP-X3' }), 'RFC5280-6.1'],
    [
      'broken signature',
      () => {
        const leaf = acmeLeaf('CP-X4');
        const der = Buffer.from(leaf.der);
        der[der.length - 5]! ^= 0x01;
        return { chain: `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n${acme.intermediate.pem}`, cn: 'CP-X4' };
      },
      'RFC5280-6.1.3(a)(1)',
    ],
    [
      'CA without keyCertSign',
      () => {
        const ca = acme.issue({ subject: '/O=Acme Chargers/CN=Acme No-KCS CA', issuer: acme.root, ca: true, keyUsage: 'critical,cRLSign,digitalSignature' });
        return { chain: acme.issue({ subject: '/O=Acme Chargers/OU=W1/CN=CP-X5', issuer: ca }).pem + ca.pem, cn: 'CP-X5' };
      },
      'RFC5280-6.1.4(n)',
    ],
    [
      'pathLen exceeded (a CA under the pathlen:0 issuing CA)',
      () => {
        const sub = acme.issue({ subject: '/O=Acme Chargers/CN=Acme Sub CA', issuer: acme.intermediate, ca: true });
        return { chain: acme.issue({ subject: '/O=Acme Chargers/OU=W1/CN=CP-X6', issuer: sub }).pem + sub.pem + acme.intermediate.pem, cn: 'CP-X6' };
      },
      'RFC5280-6.1.4(l)',
    ],
    ['unknown critical extension', () => ({ chain: acmeLeaf('CP-X7', { extensions: ['1.3.6.1.4.1.55555.1=critical,ASN1:UTF8String:surprise'] }).pem + acme.intermediate.pem, cn: 'CP-X7' }), 'RFC5280-6.1.5(f)'],
    [
      'name constraints violated (O outside the permitted subtree)',
      () => {
        const ca = acme.issue({ subject: '/O=Acme Chargers/CN=Acme NC CA', issuer: acme.root, ca: true, extensions: ['nameConstraints=critical,permitted;dirName:nc_dn'], sections: '[ nc_dn ]\nO=Acme Chargers\n' });
        return { chain: acme.issue({ subject: '/O=Somebody Else/OU=W1/CN=CP-X8', issuer: ca }).pem + ca.pem, cn: 'CP-X8' };
      },
      'RFC5280-6.1.3(b)',
    ],
    ['revoked via the CRL', () => ({ chain: revokedLeaf.pem + acme.intermediate.pem, cn: 'CP-REVOKED' }), 'RFC5280-6.1.3(a)(3)'],
    ['serial mismatch (CSR CN is not the certificate serial)', () => ({ chain: acmeLeaf('CP-X9').pem + acme.intermediate.pem, cn: 'CP-OTHER' }), 'A00.FR.511'],
    [
      'the same key as the manufacturer certificate',
      () => {
        const leaf = acmeLeaf('CP-X10');
        return { chain: leaf.pem + acme.intermediate.pem, cn: 'CP-X10', csr: buildCsr(createPrivateKey(leaf.keyPem), { o: 'Demo CPO', cn: 'CP-X10' }) };
      },
      'A02.FR.02',
    ],
    ['an extKeyUsage without clientAuth (a TLS server certificate)', () => ({ chain: acme.issue({ subject: '/O=Acme Chargers/OU=W1/CN=CP-X12', issuer: acme.intermediate, extensions: ['extendedKeyUsage=serverAuth'] }).pem + acme.intermediate.pem, cn: 'CP-X12' }), 'RFC5280-4.2.1.12'],
    ['no certificate in the chain', () => ({ chain: 'nothing here', cn: 'CP-X11' }), 'Manufacturer.chain'],
  ];
  let n = 0;
  for (const [name, make, rule, status = 422] of cases) {
    it(`${name} → ${status} ${rule}`, async () => {
      const { chain, cn, csr } = make();
      const stationId = `cp-bad-${++n}`;
      const r = await enrol(stationId, chain, cn, csr);
      assert.equal(r.status, status, r.text);
      assert.ok(rules(r).includes(rule), `${rule} in ${JSON.stringify(r.body.violations)}`);
      assert.equal(await stack.store.getStation('demo', stationId), undefined, 'nothing registered');
      assert.deepEqual(await stack.store.listStationCertificates('demo', stationId), []);
      if (rule.startsWith('RFC5280') || rule === 'Manufacturer.chain') {
        const v = await verify(chain);
        assert.equal(v.body.valid, false);
        assert.ok(rules(v).includes(rule), `verify: ${rule} in ${JSON.stringify(v.body.reasons)}`);
      }
    });
  }
});

describe('revocation responder down (Beta: OCSP in its certificates, nothing listening)', () => {
  const chain = (): string => betaLeaf.pem + beta.intermediate.pem;

  it('fail-closed (default): refused, Manufacturer.revocation naming the responder', async () => {
    const r = await enrol('cp-beta-1', chain(), 'CP-BETA-1');
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(rules(r), ['Manufacturer.revocation']);
    assert.match(r.body.violations[0].message, new RegExp(`fail-closed.*127\\.0\\.0\\.1:${deadPort}`));
    assert.equal(await stack.store.getStation('demo', 'cp-beta-1'), undefined);
  });

  it('fail-open: verify says valid with revocation unknown and a note; enrolment is allowed', async () => {
    const open = await api(stack, 'POST', '/v1/manufacturers', { name: 'Beta', roots: beta.root.pem, intermediates: beta.intermediate.pem, revocation: { ocsp: true, failMode: 'open' }, autoRegister: true });
    assert.equal(open.status, 200, open.text);
    const v = await verify(chain());
    assert.equal(v.body.valid, true, v.text);
    assert.equal(v.body.revocation, 'unknown');
    assert.equal(v.body.reasons[0].rule, 'Manufacturer.revocation');
    assert.match(v.body.reasons[0].message, /revocation unknown \(fail-open\)/);
    const r = await enrol('cp-beta-1', chain(), 'CP-BETA-1');
    assert.equal(r.status, 201, r.text);
    assert.equal((await stack.store.getStation('demo', 'cp-beta-1'))?.manufacturer?.name, 'Beta');
    const audit = await stack.store.listAudit({ afterSeq: 0, limit: 1000, tenant: 'demo' });
    const issued = audit.find((e) => e.event === 'certificate.issued' && e.details?.serialNumber === r.body.serialNumber);
    assert.equal(issued?.details?.manufacturerRevocation, 'unknown', 'the note goes into the audit entry');
  });

  it('a manufacturer that does not auto-register: an unregistered station is 404 PnC-4.3', async () => {
    const add = await api(stack, 'POST', '/v1/manufacturers', { name: 'Beta', roots: beta.root.pem, intermediates: beta.intermediate.pem, revocation: { ocsp: true, failMode: 'open' }, autoRegister: false });
    assert.equal(add.status, 200, add.text);
    const leaf = beta.issue({ subject: '/O=Beta Energy/CN=CP-BETA-2', issuer: beta.intermediate });
    const r = await enrol('cp-beta-2', leaf.pem + beta.intermediate.pem, 'CP-BETA-2');
    assert.equal(r.status, 404, r.text);
    assert.deepEqual(rules(r), ['PnC-4.3']);
  });
});

describe('OCSP (Gamma: a real openssl ocsp responder named in its station certificates)', () => {
  it('good: verify valid with revocation good; the station enrols', async () => {
    const v = await verify(gammaGood.pem);
    assert.equal(v.body.valid, true, v.text);
    assert.equal(v.body.revocation, 'good');
    const r = await enrol('cp-g1', gammaGood.pem, 'CP-G1');
    assert.equal(r.status, 201, r.text);
  });

  it('revoked: refused naming Manufacturer.revocation and the responder, nothing registered', async () => {
    const v = await verify(gammaRevoked.pem);
    assert.equal(v.body.valid, false);
    assert.deepEqual(rules(v), ['Manufacturer.revocation']);
    assert.match(v.body.reasons[0].message, new RegExp(`127\\.0\\.0\\.1:${ocspPort}/ says certificate 0 of the path .* is revoked`));
    const r = await enrol('cp-g2', gammaRevoked.pem, 'CP-G2');
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(rules(r), ['Manufacturer.revocation']);
    assert.equal(await stack.store.getStation('demo', 'cp-g2'), undefined);
  });
});

describe("CRL distribution points (Delta: --crl-dp, each certificate's own CRL)", () => {
  it('good: valid, revocation good, the CRL the certificate names was fetched', async () => {
    const v = await verify(deltaGood.pem);
    assert.equal(v.body.valid, true, v.text);
    assert.equal(v.body.revocation, 'good');
    assert.ok(crlRequests.includes('/delta.crl'));
  });

  it('revoked in the CRL its distribution point names: RFC5280-6.1.3(a)(3)', async () => {
    const r = await enrol('cp-d2', deltaRevoked.pem, 'CP-D2');
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(rules(r), ['RFC5280-6.1.3(a)(3)']);
  });
});

describe('the CA checks the chain again on its own reads (it trusts no caller)', () => {
  const sign = async (body: { stationId: string; cn: string; manufacturerName: string; chain: string }): Promise<AppError> => {
    const ca = new CaClient({ baseUrl: stack.caUrl, tls: readServiceTls(dev.dataDir, 'ra-client'), as: RA_CLIENT_CN, timeoutMs: 10_000 });
    try {
      await ca.sign({ tenant: 'demo', stationId: body.stationId, csr: newP256Csr(body.cn).csr, certificateType: 'ChargingStationCertificate', actor: 'test', manufacturerName: body.manufacturerName, manufacturerCertificateChain: body.chain });
    } catch (e) {
      assert.ok(e instanceof AppError, String(e));
      return e;
    } finally {
      await ca.close();
    }
    assert.fail('the CA signed');
  };

  it("a Zeta chain sent as ACME's: refused by the CA's own path validation, nothing registered", async () => {
    const leaf = zeta.issue({ subject: '/O=Zeta Power/CN=CP-CA1', issuer: zeta.intermediate });
    const e = await sign({ stationId: 'cp-ca1', cn: 'CP-CA1', manufacturerName: 'ACME', chain: leaf.pem + zeta.intermediate.pem });
    assert.equal(e.kind, 'policy');
    assert.deepEqual(e.violations?.map((v) => v.rule), ['RFC5280-6.1']);
    assert.equal(await stack.store.getStation('demo', 'cp-ca1'), undefined);
  });

  it('a manufacturer the tenant does not have: refused (Manufacturer.chain)', async () => {
    const leaf = acmeLeaf('CP-CA2');
    const e = await sign({ stationId: 'cp-ca2', cn: 'CP-CA2', manufacturerName: 'Nobody', chain: leaf.pem + acme.intermediate.pem });
    assert.deepEqual(e.violations?.map((v) => v.rule), ['Manufacturer.chain']);
  });

  it('a serial mismatch the RA would have caught: refused by the CA too (A00.FR.511)', async () => {
    const leaf = acmeLeaf('CP-CA3');
    const e = await sign({ stationId: 'cp-ca3', cn: 'CP-SOMEONE', manufacturerName: 'ACME', chain: leaf.pem + acme.intermediate.pem });
    assert.ok(e.violations?.some((v) => v.rule === 'A00.FR.511'));
    assert.equal(await stack.store.getStation('demo', 'cp-ca3'), undefined);
  });
});
