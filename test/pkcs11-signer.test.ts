import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, constants, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KeyGenerationError,
  deletePkcs11IssuerKey,
  ecdsaRawToDer,
  fileSigner,
  generateIssuerKey,
  generatePkcs11IssuerKey,
  loadPkcs11Pin,
  newPkcs11KeyId,
  openIssuerSigner,
  openPkcs11Session,
  pkcs11Signer,
  writePkcs11KeyRef,
  writePrivateKey,
  type IssuerKeyAlgorithm,
  type Pkcs11Session,
  type Signer,
} from '@evpki/keys';
import { OID, basicConstraints, bitString, buildName, buildTbs, keyIdentifier, keyUsage, randomSerial, seq, subjectKeyIdentifier, toPem } from '@evpki/x509';
import { dataPaths } from '@evpki/service';
import { createTokenIssuerKey, pkcs11TargetFrom } from '@evpki/cli';
import { openssl } from './helpers/openssl.js';
import { createSoftHsm, type SoftHsm } from './helpers/softhsm.js';

const PIN = '246813579';
const TOKEN = 'evpki-issuers';
const LOCKED_TOKEN = 'evpki-pin-test';

const p11 = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11js;

/** A certificate for `spki` signed by `signer` (async: the signer may be a token). */
async function certificate(signer: Signer, issuerCn: string, subjectCn: string, spki: Buffer, ca: boolean): Promise<Buffer> {
  const now = new Date();
  const tbs = buildTbs(signer.algorithmDer, buildName([{ oid: OID.commonName, value: issuerCn }]), {
    serial: randomSerial(),
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 86_400_000),
    subject: buildName([{ oid: OID.commonName, value: subjectCn }]),
    spki,
    extensions: ca
      ? [basicConstraints(true), keyUsage(['keyCertSign', 'cRLSign']), subjectKeyIdentifier(keyIdentifier(spki))]
      : [basicConstraints(false), keyUsage(['digitalSignature'])],
  });
  return seq(tbs, signer.algorithmDer, bitString(await signer.sign(tbs)));
}

const spkiOf = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });

function verifiesWith(signer: Signer, data: Buffer, sig: Buffer): boolean {
  const hash = signer.algorithm === 'ecdsa-sha384' ? 'sha384' : signer.algorithm === 'ecdsa-sha512' ? 'sha512' : 'sha256';
  if (signer.algorithm === 'rsa-pss-sha256')
    return verify(hash, data, { key: signer.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig);
  return verify(hash, data, { key: signer.publicKey, dsaEncoding: 'der' }, sig);
}

describe('PKCS#11 issuer keys (issue 15) in a real SoftHSM2 token', () => {
  let hsm: SoftHsm;
  let session: Pkcs11Session;
  const dirs: string[] = [];
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'evpki-pkcs11-'));
    dirs.push(d);
    return d;
  };

  before(async () => {
    hsm = createSoftHsm(); // fails (does not skip) with the install hint when SoftHSM2 is missing
    hsm.initToken(TOKEN, PIN);
    hsm.initToken(LOCKED_TOKEN, PIN);
    session = await openPkcs11Session({ module: hsm.module, tokenLabel: TOKEN, pin: PIN });
  });
  after(async () => {
    await session?.close();
    hsm?.cleanup();
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  const algorithms: [IssuerKeyAlgorithm, string, RegExp][] = [
    ['ecdsa-p256', 'ecdsa-sha256', /Signature Algorithm: ecdsa-with-SHA256/],
    ['ecdsa-p384', 'ecdsa-sha384', /Signature Algorithm: ecdsa-with-SHA384/],
    ['rsa-pss-3072', 'rsa-pss-sha256', /Signature Algorithm: rsassaPss[\s\S]*Hash Algorithm: sha256[\s\S]*Mask Algorithm: mgf1 with sha256[\s\S]*Salt Length: 0x20/],
  ];
  for (const [algorithm, name, opensslShows] of algorithms) {
    it(`${algorithm}: generated in the token, signs a root and a leaf that node:crypto and openssl verify (A00.FR.505/506)`, async () => {
      const id = newPkcs11KeyId();
      const label = `root-${algorithm}`;
      const publicKey = await generatePkcs11IssuerKey(session, { algorithm, label, id });
      const signer = await pkcs11Signer(session, { keyLabel: label, keyId: id });
      assert.equal(signer.backend, 'pkcs11');
      assert.equal(signer.algorithm, name);
      assert.ok(signer.publicKey.equals(publicKey), 'the signer reads the same public key from the token');
      // Same AlgorithmIdentifier as a file key of the same type: certificates do not depend on the backend.
      assert.ok(signer.algorithmDer.equals(fileSigner(generateIssuerKey(algorithm)).algorithmDer));

      const rootDer = await certificate(signer, 'HSM Root', 'HSM Root', spkiOf(publicKey), true);
      const root = new X509Certificate(rootDer);
      assert.ok(root.verify(publicKey), 'node:crypto verifies the self-signed root');
      const leafKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
      const leafDer = await certificate(signer, 'HSM Root', 'leaf', spkiOf(leafKey), false);
      assert.ok(new X509Certificate(leafDer).verify(publicKey));

      const dir = tmp();
      writeFileSync(join(dir, 'root.pem'), toPem('CERTIFICATE', rootDer));
      writeFileSync(join(dir, 'leaf.pem'), toPem('CERTIFICATE', leafDer));
      const v = openssl(['verify', '-check_ss_sig', '-CAfile', join(dir, 'root.pem'), join(dir, 'root.pem'), join(dir, 'leaf.pem')]);
      assert.equal(v.code, 0, v.stderr + v.stdout);
      assert.match(v.stdout, /root\.pem: OK[\s\S]*leaf\.pem: OK/);
      const text = openssl(['x509', '-in', join(dir, 'leaf.pem'), '-noout', '-text']);
      assert.match(text.stdout, opensslShows);

      const tbs = Buffer.from(`tbs for ${algorithm}`);
      assert.ok(verifiesWith(signer, tbs, await signer.sign(tbs)));
      assert.ok(!verifiesWith(signer, Buffer.from('other bytes'), await signer.sign(tbs)));
    });
  }

  it('the private key never leaves the token: sensitive, never extractable, CKA_VALUE refused', async () => {
    const id = newPkcs11KeyId();
    await generatePkcs11IssuerKey(session, { algorithm: 'ecdsa-p256', label: 'no-export', id });
    await session.withSession((pkcs11, s) => {
      pkcs11.C_FindObjectsInit(s, [
        { type: p11.CKA_CLASS, value: p11.CKO_PRIVATE_KEY },
        { type: p11.CKA_ID, value: Buffer.from(id, 'hex') },
      ]);
      const [key] = pkcs11.C_FindObjects(s, 2);
      pkcs11.C_FindObjectsFinal(s);
      assert.ok(key);
      const flags = [p11.CKA_SENSITIVE, p11.CKA_ALWAYS_SENSITIVE, p11.CKA_EXTRACTABLE, p11.CKA_NEVER_EXTRACTABLE, p11.CKA_TOKEN, p11.CKA_SIGN];
      const values = pkcs11.C_GetAttributeValue(s, key, flags.map((type) => ({ type }))).map((a) => a.value[0] === 1);
      assert.deepEqual(values, [true, true, false, true, true, true]);
      assert.throws(() => pkcs11.C_GetAttributeValue(s, key, [{ type: p11.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/);
      assert.throws(() => pkcs11.C_SetAttributeValue(s, key, [{ type: p11.CKA_EXTRACTABLE, value: true }]), /CKR_/);
    });
  });

  it('a wrong PIN is a KeyLoadError that says so and never shows the PIN', async () => {
    await assert.rejects(openPkcs11Session({ module: hsm.module, tokenLabel: LOCKED_TOKEN, pin: '999999999' }), (e: Error) => {
      assert.equal(e.name, 'KeyLoadError');
      assert.match(e.message, /login to token 'evpki-pin-test' failed: wrong PIN \(CKR_PIN_INCORRECT\)/);
      assert.ok(!e.message.includes('999999999'));
      return true;
    });
    // The same token already logged in with the right PIN: another PIN is refused, not silently shared.
    await assert.rejects(openPkcs11Session({ module: hsm.module, tokenLabel: TOKEN, pin: '999999999' }), /already open in this process with another PIN/);
    await assert.rejects(openPkcs11Session({ module: hsm.module, tokenLabel: 'no-such-token', pin: PIN }), /no PKCS#11 token labelled 'no-such-token'.*evpki-issuers/);
    await assert.rejects(openPkcs11Session({ module: join(tmpdir(), 'missing-module.so'), tokenLabel: TOKEN, pin: PIN }), /cannot load PKCS#11 module/);
    await assert.rejects(pkcs11Signer(session, { keyLabel: 'never-made', keyId: 'abcd' }), /no public key labelled 'never-made' with id abcd/);
  });

  it('200 concurrent signatures (more than the session pool) all verify, also RSA', async () => {
    for (const algorithm of ['ecdsa-p256', 'rsa-pss-3072'] as const) {
      const id = newPkcs11KeyId();
      await generatePkcs11IssuerKey(session, { algorithm, label: `busy-${algorithm}`, id });
      const signer = await pkcs11Signer(session, { keyLabel: `busy-${algorithm}`, keyId: id });
      const n = algorithm === 'ecdsa-p256' ? 200 : 40;
      const data = Array.from({ length: n }, (_, i) => Buffer.from(`tbs ${i}`));
      const sigs = await Promise.all(data.map((d) => signer.sign(d)));
      assert.ok(sigs.every((sig, i) => verifiesWith(signer, data[i]!, sig)), `${algorithm}: every signature verifies with its own TBS`);
    }
  });

  it('a token that dropped every session (HSM restart) is logged in again on the next signature', async () => {
    const id = newPkcs11KeyId();
    await generatePkcs11IssuerKey(session, { algorithm: 'ecdsa-p256', label: 'survivor', id });
    const signer = await pkcs11Signer(session, { keyLabel: 'survivor', keyId: id });
    await Promise.all(Array.from({ length: 8 }, () => signer.sign(Buffer.from('warm the pool'))));
    await session.withSession((pkcs11, s) => pkcs11.C_CloseAllSessions(pkcs11.C_GetSessionInfo(s).slotID));
    const sigs = await Promise.all(Array.from({ length: 8 }, (_, i) => signer.sign(Buffer.from(`after ${i}`))));
    assert.ok(sigs.every((sig, i) => verifiesWith(signer, Buffer.from(`after ${i}`), sig)));
    const states = await Promise.all(Array.from({ length: 4 }, () => session.withSession((pkcs11, s) => pkcs11.C_GetSessionInfo(s).state)));
    const CKS_RW_USER_FUNCTIONS = 3; // PKCS#11 2.40 section 5.6 (pkcs11js has no CKS_ constants)
    assert.deepEqual(states, Array(4).fill(CKS_RW_USER_FUNCTIONS), 'fresh sessions, logged in again');
  });

  it('key generation refuses a label or id already in the token and leaves the token unchanged', async () => {
    const id = newPkcs11KeyId();
    await generatePkcs11IssuerKey(session, { algorithm: 'ecdsa-p256', label: 'taken', id });
    await assert.rejects(generatePkcs11IssuerKey(session, { algorithm: 'ecdsa-p384', label: 'taken', id: newPkcs11KeyId() }), (e: Error) => e instanceof KeyGenerationError && /labelled 'taken' already exists/.test(e.message));
    await assert.rejects(generatePkcs11IssuerKey(session, { algorithm: 'ecdsa-p384', label: 'fresh', id }), /with id .* already exists/);
    await assert.rejects(generatePkcs11IssuerKey(session, { algorithm: 'ecdsa-p384', label: 'fresh', id: 'xyz' }), /not hex/);
    await assert.rejects(pkcs11Signer(session, { keyLabel: 'fresh', keyId: id }), /no public key labelled 'fresh'/);
    const signer = await pkcs11Signer(session, { keyLabel: 'taken', keyId: id });
    assert.equal(signer.algorithm, 'ecdsa-sha256', 'the first key is untouched');
  });

  it('openIssuerSigner opens <issuerId>.pkcs11.json (PIN from PKI_PKCS11_PIN_FILE) or the key file, asking only for the secret it needs', async () => {
    const dataDir = tmp();
    const paths = dataPaths(dataDir);
    const id = newPkcs11KeyId();
    const publicKey = await generatePkcs11IssuerKey(session, { algorithm: 'ecdsa-p384', label: 'cp-issuing', id });
    const hsmIssuer = { keyFile: paths.issuerKey('hsm'), pkcs11RefFile: paths.issuerPkcs11Ref('hsm') };
    writePkcs11KeyRef(hsmIssuer.pkcs11RefFile, { module: hsm.module, tokenLabel: TOKEN, keyLabel: 'cp-issuing', keyId: id });
    const pinFile = join(dataDir, 'pin');
    writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
    const env = { PKI_PKCS11_PIN_FILE: pinFile };
    const noPassphrase = (): string => assert.fail('a token key needs no passphrase');
    const signer = await openIssuerSigner(hsmIssuer, { passphrase: noPassphrase, pkcs11Pin: () => loadPkcs11Pin(env) });
    assert.equal(signer.backend, 'pkcs11');
    assert.ok(signer.publicKey.equals(publicKey));
    assert.ok(verifiesWith(signer, Buffer.from('x'), await signer.sign(Buffer.from('x'))));

    const fileIssuer = { keyFile: paths.issuerKey('file'), pkcs11RefFile: paths.issuerPkcs11Ref('file') };
    writePrivateKey(fileIssuer.keyFile, generateIssuerKey('ecdsa-p256'), 'a passphrase of 16+ chars');
    const fromFile = await openIssuerSigner(fileIssuer, { passphrase: () => 'a passphrase of 16+ chars', pkcs11Pin: () => assert.fail('a key file needs no PIN') });
    assert.equal(fromFile.backend, 'file');

    assert.throws(() => loadPkcs11Pin({}), /no PKCS#11 PIN: set PKI_PKCS11_PIN_FILE/);
    const ask = { passphrase: () => 'a passphrase of 16+ chars', pkcs11Pin: () => PIN };
    await assert.rejects(openIssuerSigner({ keyFile: fileIssuer.keyFile, pkcs11RefFile: hsmIssuer.pkcs11RefFile }, ask), /both a key file .* and a PKCS#11 key reference/);
    await assert.rejects(openIssuerSigner({ keyFile: join(dataDir, 'none.pem'), pkcs11RefFile: join(dataDir, 'none.json') }, ask), /no issuer key: neither/);
    const bad = join(dataDir, 'bad.pkcs11.json');
    writeFileSync(bad, JSON.stringify({ module: hsm.module, tokenLabel: TOKEN, keyLabel: 'cp-issuing', keyId: id, pin: PIN }));
    await assert.rejects(openIssuerSigner({ keyFile: join(dataDir, 'none.pem'), pkcs11RefFile: bad }, ask), (e: Error) => e.name === 'KeyLoadError' && /must not hold a PIN/.test(e.message) && !e.message.includes(PIN));
    writeFileSync(bad, JSON.stringify({ module: hsm.module, tokenLabel: TOKEN, keyLabel: 'cp-issuing', keyId: 'zz' }));
    await assert.rejects(openIssuerSigner({ keyFile: join(dataDir, 'none.pem'), pkcs11RefFile: bad }, ask), /key id 'zz' is not hex/);
  });

  it('CLI helpers: --pkcs11-* options name a token (all or none), createTokenIssuerKey makes the key and its reference', async () => {
    const dir = tmp();
    const pinFile = join(dir, 'pin');
    writeFileSync(pinFile, PIN, { mode: 0o600 });
    assert.equal(pkcs11TargetFrom({}, {}), undefined, 'no option: file keys');
    assert.throws(() => pkcs11TargetFrom({ 'pkcs11-module': hsm.module }, {}), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /go together/.test(e.message));
    assert.throws(() => pkcs11TargetFrom({ 'pkcs11-module': hsm.module, 'pkcs11-token-label': TOKEN }, {}), /no PKCS#11 PIN.*--pkcs11-pin-file/);
    const target = pkcs11TargetFrom({ 'pkcs11-module': hsm.module, 'pkcs11-token-label': TOKEN }, { PKI_PKCS11_PIN_FILE: pinFile })!;
    assert.equal(target.pin, PIN);

    const created = await createTokenIssuerKey(target, 'ecdsa-p256', 'cli-root');
    assert.deepEqual({ ...created.ref, keyId: '' }, { module: hsm.module, tokenLabel: TOKEN, keyLabel: 'cli-root', keyId: '' });
    const paths = dataPaths(dir);
    writePkcs11KeyRef(paths.issuerPkcs11Ref('cli'), created.ref);
    await created.session.close();
    const reopened = await openIssuerSigner({ keyFile: paths.issuerKey('cli'), pkcs11RefFile: paths.issuerPkcs11Ref('cli') }, { passphrase: () => '', pkcs11Pin: () => PIN });
    assert.ok(reopened.publicKey.equals(created.publicKey));
    await assert.rejects(createTokenIssuerKey(target, 'ecdsa-p256', 'cli-root'), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /already exists/.test(e.message));
    await assert.rejects(createTokenIssuerKey({ ...target, pin: 'not-the-pin' }, 'ecdsa-p256', 'x'), (e: Error & { exitCode?: number }) => e.exitCode === 2 && !e.message.includes('not-the-pin'));
    assert.equal(await deletePkcs11IssuerKey(session, created.ref), 2, 'both halves destroyed');
    await assert.rejects(pkcs11Signer(session, created.ref), /no public key labelled 'cli-root'/);
  });

  it('closing waits for signatures in flight; a shared login survives until its last holder closes', async () => {
    const second = await openPkcs11Session({ module: hsm.module, tokenLabel: TOKEN, pin: PIN });
    const id = newPkcs11KeyId();
    await generatePkcs11IssuerKey(second, { algorithm: 'rsa-pss-3072', label: 'closing', id });
    const signer = await pkcs11Signer(second, { keyLabel: 'closing', keyId: id });
    const inFlight = Array.from({ length: 10 }, (_, i) => signer.sign(Buffer.from(`last ${i}`)));
    await second.close();
    assert.equal((await Promise.all(inFlight)).length, 10);
    await assert.rejects(signer.sign(Buffer.from('after close')), /session on token 'evpki-issuers' is closed/);
    // `session` still holds the login: keys stay usable through it.
    const again = await pkcs11Signer(session, { keyLabel: 'closing', keyId: id });
    assert.ok(verifiesWith(again, Buffer.from('y'), await again.sign(Buffer.from('y'))));
  });
});

describe('ecdsaRawToDer', () => {
  it('turns the token r || s into a minimal DER Ecdsa-Sig-Value (leading zeros dropped, sign octet added)', () => {
    const r = Buffer.alloc(32, 0);
    r[1] = 0x05;
    const s = Buffer.alloc(32, 0xff);
    const der = ecdsaRawToDer(Buffer.concat([r, s]));
    assert.equal(der.toString('hex'), '3044' + '021f' + r.subarray(1).toString('hex') + '0221' + '00' + s.toString('hex'));
    assert.throws(() => ecdsaRawToDer(Buffer.alloc(63)), /odd length/);
  });
});
