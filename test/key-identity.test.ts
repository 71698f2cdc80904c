/**
 * One key is one key (issue 14.2), and certificates carry normalised encodings (issue 14.10):
 * real RA → CA over a dev PKI, CSRs made by openssl or encoded by hand where openssl would not.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ECDH, X509Certificate, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OID, bitString, csrFromPem, inspectSpki, oid, parseCertificate, pemBlocks, seq } from '@evpki/x509';
import { compressedEcSpki, csrWithSpki, rsaPssSpki, rsaSpkiWithoutNull, spkiOf } from './helpers/keys.js';
import { openssl } from './helpers/openssl.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';

let pki: DevPki;
let stack: Stack;
let work: string;

before(async () => {
  pki = await makeDevPki();
  stack = await startStack(pki);
  work = mkdtempSync(join(tmpdir(), 'evpki-keys-'));
});
after(async () => {
  await stack.stop();
  pki.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const sign = (stationId: string, csr: string) => api(stack, 'POST', `/v1/stations/${stationId}/certificates`, { csr, certificateType: 'ChargingStationCertificate' });
const leafOf = (chain: string): Buffer => pemBlocks(chain, 'CERTIFICATE')[0]!;
function onCurve(point: Buffer): boolean {
  try {
    ECDH.convertKey(point, 'prime256v1');
    return true;
  } catch {
    return false;
  }
}

/** The key's identity as the store and policy use it. */
const keySha256 = (spki: Buffer): string => inspectSpki(spki).common.spkiSha256;
const rules = (r: { body: { violations?: { rule: string }[] } }): string[] => (r.body.violations ?? []).map((v) => v.rule);

describe('issue 14.2: a key is its canonical form, not the bytes of its encoding', () => {
  it('issue 14.2: a compressed EC point is the same key (A00.FR.501, A02.FR.02)', async () => {
    await registerStation(stack, 'cp-ec-key', 'CP-EC-KEY');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const subject = { o: 'Demo CPO', cn: 'CP-EC-KEY' };
    const first = await sign('cp-ec-key', csrWithSpki(privateKey, spkiOf(privateKey), subject));
    assert.equal(first.status, 201, JSON.stringify(first.body));

    const compressed = csrWithSpki(privateKey, compressedEcSpki(privateKey), subject);
    const again = await sign('cp-ec-key', compressed);
    assert.equal(again.status, 422, JSON.stringify(again.body));
    assert.deepEqual(rules(again), ['A02.FR.02']);

    const revoked = await api(stack, 'POST', `/v1/certificates/${first.body.serialNumber}/revoke`, { reason: 'keyCompromise' });
    assert.equal(revoked.status, 200);
    const blocked = await sign('cp-ec-key', compressed);
    assert.equal(blocked.status, 422, JSON.stringify(blocked.body));
    assert.deepEqual(rules(blocked), ['A00.FR.501']);
    assert.equal((await api(stack, 'GET', '/v1/stations/cp-ec-key/certificates')).body.items.length, 1);
  });

  it('issue 14.2: RSA parameters absent instead of NULL, or the key as RSA-PSS, is the same key (A02.FR.02)', async () => {
    await registerStation(stack, 'cp-rsa-key', 'CP-RSA-KEY');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const subject = { o: 'Demo CPO', cn: 'CP-RSA-KEY' };
    const first = await sign('cp-rsa-key', csrWithSpki(privateKey, spkiOf(privateKey), subject));
    assert.equal(first.status, 201, JSON.stringify(first.body));
    for (const spki of [rsaSpkiWithoutNull(privateKey), rsaPssSpki(privateKey)]) {
      const r = await sign('cp-rsa-key', csrWithSpki(privateKey, spki, subject));
      assert.equal(r.status, 422, JSON.stringify(r.body));
      assert.deepEqual(rules(r), ['A02.FR.02']);
    }
    const spkis = [spkiOf(privateKey), rsaSpkiWithoutNull(privateKey), rsaPssSpki(privateKey)];
    assert.equal(new Set(spkis.map((s) => s.toString('hex'))).size, 3, 'three encodings');
    assert.equal(new Set(spkis.map(keySha256)).size, 1, 'one key');
  });

  it('issue 14.2: a certificate for a compressed-point CSR (made by openssl) carries the uncompressed point', async () => {
    await registerStation(stack, 'cp-compressed', 'CP-COMPRESSED');
    const key = join(work, 'compressed.key');
    assert.equal(openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]).code, 0);
    assert.equal(openssl(['ec', '-in', key, '-conv_form', 'compressed', '-out', key]).code, 0);
    const csrFile = join(work, 'compressed.csr');
    const made = openssl(['req', '-new', '-key', key, '-subj', '/O=Demo CPO/CN=CP-COMPRESSED', '-sha256', '-out', csrFile]);
    assert.equal(made.code, 0, made.stderr);
    const csrText = openssl(['req', '-in', csrFile, '-noout', '-text']).stdout;
    assert.match(csrText, /pub:\s+0[23]:/, 'openssl wrote a compressed point');

    const r = await sign('cp-compressed', readFileSync(csrFile, 'utf8'));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const leaf = leafOf(r.body.certificateChain);
    writeFileSync(join(work, 'compressed-leaf.der'), leaf);
    const text = openssl(['x509', '-inform', 'DER', '-in', join(work, 'compressed-leaf.der'), '-noout', '-text']).stdout;
    assert.match(text, /pub:\s+04:/, 'uncompressed point in the certificate');
    const spki = parseCertificate(leaf).spki;
    assert.equal(spki.length, 91, 'P-256 SPKI with 65-octet point');
    assert.equal(keySha256(spki), keySha256(csrFromPem(readFileSync(csrFile, 'utf8')).spki), 'the same key');
    assert.equal(new X509Certificate(leaf).publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.deepEqual(inspectSpki(spki).common.spki, spki, 'canonical');
  });

  it('issue 14.2: a compressed point that is not on the curve is refused as a malformed key (A02.FR.03)', async () => {
    await registerStation(stack, 'cp-bad-point', 'CP-BAD-POINT');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // About half of all x have no point on the curve: the first such small x (as OpenSSL says).
    let x = 1;
    while (onCurve(Buffer.concat([Buffer.from([2]), Buffer.alloc(31), Buffer.from([x])]))) x++;
    const bad = seq(seq(oid(OID.ecPublicKey), oid(OID.prime256v1)), bitString(Buffer.concat([Buffer.from([2]), Buffer.alloc(31), Buffer.from([x])])));
    const r = await sign('cp-bad-point', csrWithSpki(privateKey, bad, { o: 'Demo CPO', cn: 'CP-BAD-POINT' }));
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.deepEqual(rules(r), ['A02.FR.03']);
    assert.match(r.body.violations[0].message, /not on P-256/);
  });
});

/** A key and a CSR made by the openssl CLI from a config file (string types chosen by string_mask). */
function opensslCsr(name: string, keyArgs: string[], config: string): string {
  const key = join(work, `${name}.key`);
  const cnf = join(work, `${name}.cnf`);
  const csr = join(work, `${name}.csr`);
  assert.equal(openssl(['genpkey', ...keyArgs, '-out', key]).code, 0);
  writeFileSync(cnf, `[req]\ndistinguished_name = dn\nprompt = no\nutf8 = yes\n${config}`);
  const r = openssl(['req', '-new', '-key', key, '-config', cnf, '-sha256', '-out', csr]);
  assert.equal(r.code, 0, r.stderr);
  return readFileSync(csr, 'utf8');
}

/** `openssl x509 -text` and the string types of the subject (asn1parse) of the issued leaf. */
function inspectLeaf(name: string, chain: string): { text: string; asn1: string } {
  const file = join(work, `${name}-leaf.der`);
  writeFileSync(file, leafOf(chain));
  return {
    text: openssl(['x509', '-inform', 'DER', '-in', file, '-noout', '-text']).stdout,
    asn1: openssl(['asn1parse', '-inform', 'DER', '-in', file]).stdout,
  };
}

const P256 = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];

describe('issue 14.10: certificates normalise what the CSR encodes', () => {
  it('issue 14.10: a BMPString CN and O (openssl string_mask) become UTF8String in the certificate', async () => {
    await registerStation(stack, 'cp-bmp', 'CP-BMP');
    const csr = opensslCsr('bmp', P256, 'string_mask = MASK:0x800\n[dn]\nO = Demo CPO\nCN = CP-BMP\n');
    assert.match(openssl(['asn1parse'], csr).stdout, /BMPSTRING/, 'openssl wrote BMPStrings');
    const r = await sign('cp-bmp', csr);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const { text, asn1 } = inspectLeaf('bmp', r.body.certificateChain);
    assert.doesNotMatch(asn1, /BMPSTRING/);
    assert.match(asn1, /UTF8STRING\s+:Demo CPO/);
    assert.match(asn1, /UTF8STRING\s+:CP-BMP/);
    assert.match(text, /Subject: O = Demo CPO, CN = CP-BMP/);
  });

  it('issue 14.10: a T61String beyond ASCII has no one reading and is refused (A00.FR.509)', async () => {
    await stack.store.putTenant({ id: 'accent', cpoName: 'Démo CPO', disabled: false, createdAt: new Date().toISOString() });
    const authorization = `Bearer ${await stack.token('accent')}`;
    assert.equal((await api(stack, 'PUT', '/v1/stations/cp-t61', { serialNumber: 'CP-T61', allowed: true }, { authorization })).status, 201);
    const csr = opensslCsr('t61', P256, 'string_mask = MASK:0x4\n[dn]\nO = Démo CPO\nCN = CP-T61\n');
    assert.match(openssl(['asn1parse'], csr).stdout, /T61STRING/);
    const r = await api(stack, 'POST', '/v1/stations/cp-t61/certificates', { csr, certificateType: 'ChargingStationCertificate' }, { authorization });
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.deepEqual(rules(r), ['A00.FR.509']);
    assert.match(r.body.violations[0].message, /TeletexString/);
  });

  it('issue 14.10: an RSA-PSS key (openssl genpkey -algorithm RSA-PSS) gets Key Usage digitalSignature only (A00.FR.512)', async () => {
    await registerStation(stack, 'cp-pss', 'CP-PSS');
    const csr = opensslCsr('pss', ['-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048'], '[dn]\nO = Demo CPO\nCN = CP-PSS\n');
    const r = await sign('cp-pss', csr);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const { text } = inspectLeaf('pss', r.body.certificateChain);
    assert.match(text, /Public Key Algorithm: rsassaPss/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature\n/);
    assert.doesNotMatch(text, /Key Encipherment/);
  });

  it('Key Usage of rsaEncryption (keyEncipherment) and EC keys (keyAgreement) is unchanged (A00.FR.512)', async () => {
    await registerStation(stack, 'cp-rsa-ku', 'CP-RSA-KU');
    await registerStation(stack, 'cp-ec-ku', 'CP-EC-KU');
    const rsa = await sign('cp-rsa-ku', opensslCsr('rsa-ku', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], '[dn]\nO = Demo CPO\nCN = CP-RSA-KU\n'));
    assert.equal(rsa.status, 201, JSON.stringify(rsa.body));
    assert.match(inspectLeaf('rsa-ku', rsa.body.certificateChain).text, /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment\n/);
    const ec = await sign('cp-ec-ku', opensslCsr('ec-ku', P256, '[dn]\nO = Demo CPO\nCN = CP-EC-KU\n'));
    assert.equal(ec.status, 201, JSON.stringify(ec.body));
    assert.match(inspectLeaf('ec-ku', ec.body.certificateChain).text, /X509v3 Key Usage: critical\s+Digital Signature, Key Agreement\n/);
  });
});
