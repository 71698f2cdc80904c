import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadCaConfig } from '@evpki/ca';
import { readPrivateKey, readSecretFile } from '@evpki/keys';
import { buildOcspRequest } from '@evpki/ocsp';
import { ConfigError, dataPaths } from '@evpki/service';
import { fromPem, parseCertificate, toPem } from '@evpki/x509';
import { buildCsr, newP256Csr } from './helpers/csr.js';
import { certIdFor, parseOcspResponse, postOcsp } from './helpers/ocsp-client.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { caRequest } from './helpers/service-tls.js';

/**
 * Issue 14.6: the OCSP responder's client certificate (CN pki-ocsp) gets delegated signers and
 * nothing else, only for a new key it proves it holds, at most CA_OCSP_SIGNERS_PER_ISSUER_PER_HOUR
 * per issuer (counted in the store), each living CA_OCSP_SIGNER_VALIDITY_HOURS at most. Over the
 * CA's real mutual TLS port with the responder's certificate from the data directory.
 */

const LIMIT = 4;
const HOURS = 24;
const caEnv = { CA_OCSP_SIGNERS_PER_ISSUER_PER_HOUR: String(LIMIT), CA_OCSP_SIGNER_VALIDITY_HOURS: String(HOURS) };
let pki: DevPki;
let stack: Stack;
const issuerId = (): string => pki.manifest.issuers.chargePoint;
const asOcsp = (method: string, path: string, body?: unknown) => caRequest(pki.dataDir, stack.caUrl, 'ocsp-client', method, path, body);
const askSigner = (csr: string) => asOcsp('POST', '/v1/ocsp-signers', { issuerId: issuerId(), csr });
const rulesOf = (body: { violations?: { rule: string }[] }): string[] => (body.violations ?? []).map((v) => v.rule);
const freshCsr = (): string => buildCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { cn: 'OCSP Signer test' });

before(async () => {
  pki = await makeDevPki();
  stack = await startStack(pki, { caEnv });
});
after(async () => {
  await stack.stop();
  pki.cleanup();
});

describe('delegated OCSP signers (issue 14.6)', () => {
  it('issue 14.6: a signer key must be new and held: a bad CSR signature (A02.FR.03), a certified key, the responder\'s TLS key or an issuer\'s key (A02.FR.02) are refused', async () => {
    const good = freshCsr();
    const der = fromPem(good, ['CERTIFICATE REQUEST']).der;
    der[der.length - 1] = der[der.length - 1]! ^ 0x01; // the ECDSA signature's last octet: still DER, no longer valid
    const badSig = await askSigner(toPem('CERTIFICATE REQUEST', der));
    assert.equal(badSig.status, 422, badSig.text);
    assert.deepEqual(rulesOf(badSig.body), ['A02.FR.03'], badSig.text);

    // A charge point's key, certified through the RA.
    await registerStation(stack, 'cp-signer-1', 'CP-SIGNER-1');
    const station = newP256Csr('CP-SIGNER-1');
    assert.equal((await api(stack, 'POST', '/v1/stations/cp-signer-1/certificates', { csr: station.csr, certificateType: 'ChargingStationCertificate' })).status, 201);
    const paths = dataPaths(pki.dataDir);
    const keys = {
      'a certified charge point key': station.key,
      "the responder's own TLS client key": createPrivateKey(readFileSync(paths.serviceCert('ocsp-client').key)),
      "the issuing CA's key": readPrivateKey(paths.issuerKey(issuerId()), readSecretFile(paths.devPassphrase)),
    };
    for (const [what, key] of Object.entries(keys)) {
      const r = await askSigner(buildCsr(key, { cn: 'OCSP Signer test' }));
      assert.equal(r.status, 422, `${what}: ${r.text}`);
      assert.deepEqual(rulesOf(r.body), ['A02.FR.02'], `${what}: ${r.text}`);
    }
  });

  it('issue 14.6: pki-ocsp may call only /v1/ocsp-signers: every other route is 403 naming A00.FR.703, another method 405 with Allow', async () => {
    for (const path of ['/v1/sign', '/v1/sign-server', '/v1/revoke', '/v1/stations/remove']) {
      const r = await asOcsp('POST', path, { tenant: 'demo', stationId: 'cp-x', serialNumber: '01', reason: 'keyCompromise', csr: newP256Csr('CP-X').csr, actor: 'x' });
      assert.equal(r.status, 403, `${path}: ${r.text}`);
      assert.deepEqual(rulesOf(r.body), ['A00.FR.703'], `${path}: ${r.text}`);
    }
    const get = await asOcsp('GET', '/v1/ocsp-signers');
    assert.equal(get.status, 405, get.text);
    assert.equal(get.headers.allow, 'POST');
    assert.equal((await asOcsp('POST', '/v1/nope', {})).status, 404);
  });

  it(`issue 14.6: a signer lives at most CA_OCSP_SIGNER_VALIDITY_HOURS (${HOURS} h here; default 96, at most 168), and no answer outlives it`, async () => {
    const r = await askSigner(freshCsr());
    assert.equal(r.status, 201, r.text);
    const cert = new X509Certificate(r.body.certificate as string);
    const life = Date.parse(cert.validTo) - Date.parse(cert.validFrom);
    assert.ok(life <= HOURS * 3600_000 + 60_000, `signer lives ${life / 3600_000} h`);
    // The responder's own signer, and what it signs with it.
    const signer = stack.ocsp.signers.get(issuerId())!.certificate;
    assert.ok(signer.notAfter.getTime() - signer.notBefore.getTime() <= HOURS * 3600_000 + 60_000);
    const issuer = parseCertificate((await stack.store.getIssuer(issuerId()))!.certificate);
    const ocsp = parseOcspResponse((await postOcsp(stack.ocspUrl, buildOcspRequest([certIdFor(issuer, '0123456789abcdef')]))).der);
    assert.ok(ocsp.singles![0]!.nextUpdate!.getTime() <= signer.notAfter.getTime(), 'nextUpdate within the signer life');

    assert.equal(loadCaConfig({}).ocspSignerValiditySeconds, 96 * 3600);
    assert.throws(() => loadCaConfig({ CA_OCSP_SIGNER_VALIDITY_HOURS: '169' }), ConfigError);
  });

  it(`issue 14.6: at most CA_OCSP_SIGNERS_PER_ISSUER_PER_HOUR (${LIMIT} here) signers per issuer, each recorded and audited; the count survives a CA restart (429 RateLimit.ocspSigner)`, async () => {
    // The responder took one at start and the test above one: LIMIT - 2 left.
    const serials: string[] = [];
    for (let i = 0; i < LIMIT - 2; i++) {
      const r = await askSigner(freshCsr());
      assert.equal(r.status, 201, r.text);
      serials.push(r.body.serialNumber as string);
    }
    const over = await askSigner(freshCsr());
    assert.equal(over.status, 429, over.text);
    assert.deepEqual(rulesOf(over.body), ['RateLimit.ocspSigner']);
    assert.ok(Number(over.headers['retry-after']) > 0 && Number(over.headers['retry-after']) <= 3600, `Retry-After ${String(over.headers['retry-after'])}`);

    for (const serial of serials) assert.equal((await stack.store.getCertificate(serial))?.kind, 'OcspSigningCertificate', serial);
    const audited = (await stack.store.listAudit({ afterSeq: 0, limit: 1000 })).filter((e) => e.event === 'ocsp-signer.issued');
    assert.equal(audited.length, LIMIT);

    await stack.stop();
    stack = await startStack(pki, { caEnv });
    const again = await askSigner(freshCsr());
    assert.equal(again.status, 429, `a restarted CA counts the same store: ${again.text}`);
  });
});
