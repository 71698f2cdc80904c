/**
 * Issue 15: the issuing CA key in a real SoftHSM2 token, end to end. `pki init --pkcs11-*` and
 * `pki rotate-issuer prepare --pkcs11-*` generate it there (the CLI in its own process), the real CA,
 * RA and OCSP responder run as processes (the CA with SOFTHSM2_CONF and PKI_PKCS11_PIN_FILE), and
 * openssl checks what the token key signed: charge point certificates, the responder's delegated
 * signer (through `openssl ocsp`) and the CRL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as Pkcs11js from 'pkcs11js';
import { mintToken } from '@evpki/cli';
import { openIssuerSigner, openPkcs11Session, readPkcs11KeyRef } from '@evpki/keys';
import { dataPaths } from '@evpki/service';
import { pemBlocks, toPem } from '@evpki/x509';
import { newP256Csr } from './helpers/csr.js';
import { opensslAsync } from './helpers/openssl.js';
import { requestJson } from './helpers/pki.js';
import { freePort, runPki, sleep, spawnService, stopAll, stopProc, tempDir, waitReady, type Proc } from './helpers/processes.js';
import { createSoftHsm, type SoftHsm } from './helpers/softhsm.js';

const TOKEN = 'evpki-ca';
const PIN = '97531864';
const p11 = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11js;

describe('issue 15: the CA signs with an issuing key in a PKCS#11 token (SoftHSM2)', () => {
  let hsm: SoftHsm;
  let work: string;
  let data: string;
  /** `data` as `pki init` left it, for a second CA in the last test. */
  let pristine: string;
  let pinFile: string;
  let pkcs11Flags: string[];
  const procs: Proc[] = [];
  let urls: { ra: string; caOps: string; ocsp: string; ca: string };
  let issuerId: string;
  let rootPem: string;
  let ocsp: Proc;
  let startOcsp: () => Promise<Proc>;
  const f = (name: string): string => join(work, name);

  const pki = (args: string[], env: Record<string, string> = {}) => runPki([...args, '--data-dir', data], { ...hsm.env, ...env });
  const auth = async (): Promise<Record<string, string>> => ({ authorization: `Bearer ${await mintToken({ dataDir: data, tenant: 'demo', ttlSeconds: 600 })}` });
  const readyz = async (opsUrl: string) => (await requestJson(`${opsUrl}/readyz`, 'GET')).body as { status: string; issuerKeys: Record<string, boolean>; issuerKeyErrors: Record<string, string> };
  const until = async (what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> => {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(200)) if (await check()) return;
    assert.fail(`timed out waiting until ${what}`);
  };

  /** A charge point certificate through the RA: the leaf and its issuing CA as PEM files, and the serial. */
  async function issue(station: string, serial: string): Promise<{ leaf: string; issuer: string; chain: string; serialNumber: string; ocspUrl: string }> {
    const headers = await auth();
    const put = await requestJson(`${urls.ra}/v1/stations/${station}`, 'PUT', { serialNumber: serial, allowed: true }, headers);
    assert.ok([200, 201].includes(put.status), put.text);
    const r = await requestJson(`${urls.ra}/v1/stations/${station}/certificates`, 'POST', { csr: newP256Csr(serial).csr, certificateType: 'ChargingStationCertificate' }, headers);
    assert.equal(r.status, 201, r.text);
    const [leaf, issuer] = pemBlocks(r.body.certificateChain as string, 'CERTIFICATE').map((d) => toPem('CERTIFICATE', d));
    const files = { leaf: f(`${station}.pem`), issuer: f(`${station}-issuer.pem`), chain: f(`${station}-chain.pem`) };
    writeFileSync(files.leaf, leaf!);
    writeFileSync(files.issuer, issuer!);
    writeFileSync(files.chain, r.body.certificateChain as string);
    const ocspUrl = (await opensslAsync(['x509', '-in', files.leaf, '-noout', '-ocsp_uri'])).stdout.trim();
    return { ...files, serialNumber: r.body.serialNumber as string, ocspUrl };
  }

  /** `openssl ocsp` at the certificate's AIA URL, as the README's example asks. */
  const ocspStatus = (c: { leaf: string; issuer: string; ocspUrl: string }) =>
    opensslAsync(['ocsp', '-issuer', c.issuer, '-cert', c.leaf, '-url', c.ocspUrl, '-CAfile', f('root.pem'), '-verify_other', c.issuer]);

  before(async () => {
    hsm = createSoftHsm(); // fails (does not skip) with the install hint when SoftHSM2 is missing
    hsm.initToken(TOKEN, PIN);
    work = tempDir('evpki-pkcs11-ca-');
    data = join(work, 'data');
    pristine = join(work, 'pristine');
    pinFile = f('pin');
    writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
    pkcs11Flags = ['--pkcs11-module', hsm.module, '--pkcs11-token-label', TOKEN, '--pkcs11-pin-file', pinFile];
    const [caPort, caOpsPort, raPort, ocspPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    urls = { ra: `http://127.0.0.1:${raPort}`, caOps: `http://127.0.0.1:${caOpsPort}`, ocsp: `http://127.0.0.1:${ocspPort}`, ca: `https://127.0.0.1:${caPort}` };

    const init = await pki(['init', '--dev', '--ocsp-url', urls.ocsp, ...pkcs11Flags, '--json']);
    assert.equal(init.code, 0, init.stderr);
    issuerId = JSON.parse(init.stdout).issuers.chargePoint;
    cpSync(data, pristine, { recursive: true });

    const base = { PKI_DATA_DIR: data, CA_PORT: String(caPort), CA_OPS_PORT: String(caOpsPort), RA_PORT: String(raPort), OCSP_PORT: String(ocspPort) };
    const ca = spawnService('ca', 'ca', { ...base, ...hsm.env, PKI_PKCS11_PIN_FILE: pinFile });
    procs.push(ca);
    await waitReady(ca, `${urls.caOps}/readyz`, 30_000);
    startOcsp = async () => {
      const p = spawnService('ocsp', 'ocsp', { ...base, OCSP_CA_URL: urls.ca });
      procs.push(p);
      await waitReady(p, `${urls.ocsp}/readyz`, 30_000);
      return p;
    };
    ocsp = await startOcsp();
    const ra = spawnService('ra', 'ra', { ...base, RA_CA_URL: urls.ca, RA_OCSP_URL: urls.ocsp, RA_VALIDATE_RESPONSES: 'true' });
    procs.push(ra);
    await waitReady(ra, `${urls.ra}/readyz`, 30_000);
    const anchors = await requestJson(`${urls.ra}/v1/trust-anchors`, 'GET', undefined, await auth());
    rootPem = anchors.body.items[0].certificate as string;
    writeFileSync(f('root.pem'), rootPem);
  });
  after(async () => {
    await stopAll(procs);
    hsm?.cleanup();
  });

  it('pki init --pkcs11-*: the issuing key is generated in the token (never extractable), keys/ holds only its reference; the root stays a key file', async () => {
    const paths = dataPaths(data);
    const keys = readdirSync(join(data, 'keys')).sort();
    assert.deepEqual(keys.filter((k) => k.startsWith('cp-')), [`${issuerId}.pkcs11.json`], 'no issuing key file, only the reference');
    assert.equal(keys.filter((k) => /^root-.*\.key\.pem$/.test(k)).length, 1, 'the root key is an encrypted file');
    const refText = readFileSync(paths.issuerPkcs11Ref(issuerId), 'utf8');
    assert.ok(!refText.includes(PIN), 'the reference never holds the PIN');
    const ref = readPkcs11KeyRef(paths.issuerPkcs11Ref(issuerId));
    assert.deepEqual([ref.module, ref.tokenLabel], [hsm.module, TOKEN]);

    // The reference names the key the issuing CA certificate certifies.
    const signer = await openIssuerSigner(
      { keyFile: paths.issuerKey(issuerId), pkcs11RefFile: paths.issuerPkcs11Ref(issuerId) },
      { passphrase: () => assert.fail('a token key needs no passphrase'), pkcs11Pin: () => PIN },
    );
    const chain = await issue('cp-hsm-0', 'CP-HSM-0');
    assert.ok(signer.publicKey.equals(new X509Certificate(readFileSync(chain.issuer)).publicKey), 'the token key is the certified one');
    // The private half: sensitive, never extractable (the signer tests cover the rest).
    const session = await openPkcs11Session({ module: hsm.module, tokenLabel: TOKEN, pin: PIN });
    try {
      await session.withSession((pkcs11, s) => {
        pkcs11.C_FindObjectsInit(s, [
          { type: p11.CKA_CLASS, value: p11.CKO_PRIVATE_KEY },
          { type: p11.CKA_ID, value: Buffer.from(ref.keyId, 'hex') },
        ]);
        const found = pkcs11.C_FindObjects(s, 2);
        pkcs11.C_FindObjectsFinal(s);
        assert.equal(found.length, 1);
        const [sensitive, extractable] = pkcs11.C_GetAttributeValue(s, found[0]!, [{ type: p11.CKA_SENSITIVE }, { type: p11.CKA_EXTRACTABLE }]).map((a) => a.value[0] === 1);
        assert.deepEqual({ sensitive, extractable }, { sensitive: true, extractable: false });
      });
    } finally {
      await session.close();
    }
  });

  it('a failed pki init leaves no key behind: a wrong PIN fails before --force removes anything; a failure after generation destroys the token key', async () => {
    const privateKeys = async (): Promise<number> => {
      const session = await openPkcs11Session({ module: hsm.module, tokenLabel: TOKEN, pin: PIN });
      try {
        return await session.withSession((pkcs11, s) => {
          pkcs11.C_FindObjectsInit(s, [{ type: p11.CKA_CLASS, value: p11.CKO_PRIVATE_KEY }]);
          const n = pkcs11.C_FindObjects(s, 1000).length;
          pkcs11.C_FindObjectsFinal(s);
          return n;
        });
      } finally {
        await session.close();
      }
    };
    const before = await privateKeys();
    const copy = join(work, 'init-copy');
    cpSync(pristine, copy, { recursive: true });
    writeFileSync(f('wrong-pin'), '55556666\n');
    const flags = ['--pkcs11-module', hsm.module, '--pkcs11-token-label', TOKEN];
    const wrongPin = await runPki(['init', '--dev', '--force', '--data-dir', copy, ...flags, '--pkcs11-pin-file', f('wrong-pin')], hsm.env);
    assert.equal(wrongPin.code, 2, wrongPin.stderr);
    assert.match(wrongPin.stderr, /PKCS#11 login to token 'evpki-ca' failed: wrong PIN \(CKR_PIN_INCORRECT\)/);
    assert.deepEqual(readdirSync(copy).sort(), readdirSync(pristine).sort(), '--force removed nothing');
    assert.ok(readdirSync(join(copy, 'keys')).includes(`${issuerId}.pkcs11.json`));

    // Without pki.json but with the store: init gets as far as the store, after the token key was made.
    rmSync(join(copy, 'pki.json'));
    const refs = (): string[] => readdirSync(join(copy, 'keys')).filter((k) => k.endsWith('.pkcs11.json'));
    const late = await runPki(['init', '--dev', '--data-dir', copy, ...flags, '--pkcs11-pin-file', pinFile], hsm.env);
    assert.equal(late.code, 2, late.stderr);
    assert.match(late.stderr, /the store already holds a PKI/);
    assert.deepEqual(refs(), [`${issuerId}.pkcs11.json`], 'no reference to the destroyed key');
    assert.equal(await privateKeys(), before, 'the key generated for the failed init is gone from the token');
  });

  it('a charge point certificate through the RA is signed in the token and verifies with openssl against the root', async () => {
    const c = await issue('cp-hsm-1', 'CP-HSM-1');
    const v = await opensslAsync(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', f('root.pem'), '-untrusted', c.chain, c.leaf]);
    assert.equal(v.code, 0, v.stderr + v.stdout);
    assert.match(v.stdout, /: OK/);
    const ready = await readyz(urls.caOps);
    assert.deepEqual({ status: ready.status, keys: ready.issuerKeys, errors: ready.issuerKeyErrors }, { status: 'ready', keys: { [issuerId]: true }, errors: {} });
  });

  it('revoked: openssl ocsp verifies the delegated signer certified by the token key and says revoked; the token-signed CRL lists the serial', async () => {
    const c = await issue('cp-hsm-2', 'CP-HSM-2');
    const good = await ocspStatus(c);
    assert.match(good.stderr + good.stdout, /Response verify OK/, good.stderr);
    assert.match(good.stdout, /: good/);

    const revoke = await requestJson(`${urls.ra}/v1/certificates/${c.serialNumber}/revoke`, 'POST', { reason: 'keyCompromise' }, await auth());
    assert.equal(revoke.status, 200, revoke.text);
    const revoked = await ocspStatus(c);
    // "Response verify OK": the responder's signer certificate chains to the issuing CA, i.e. the token key signed it.
    assert.match(revoked.stderr + revoked.stdout, /Response verify OK/, revoked.stderr);
    assert.match(revoked.stdout, /: revoked[\s\S]*Reason: keyCompromise/);

    // The CRL at the certificate's distribution point, republished before the revocation was answered.
    const text = await opensslAsync(['x509', '-in', c.leaf, '-noout', '-text']);
    const cdp = /CRL Distribution Points:[\s\S]*?URI:(\S+)/.exec(text.stdout)?.[1];
    assert.ok(cdp, text.stdout);
    const res = await fetch(cdp);
    assert.equal(res.status, 200);
    writeFileSync(f('cp.crl'), Buffer.from(await res.arrayBuffer()));
    const crl = await opensslAsync(['crl', '-inform', 'DER', '-in', f('cp.crl'), '-CAfile', c.issuer, '-noout', '-text']);
    assert.equal(crl.code, 0, crl.stderr);
    assert.match(crl.stderr + crl.stdout, /verify OK/);
    // openssl pads the serial to whole bytes; the API's hex has no leading zeros.
    assert.match(crl.stdout, new RegExp(`Serial Number: 0*${c.serialNumber.replace(/^0+/, '')}\\n`, 'i'));
  });

  it('pki rotate-issuer with --pkcs11-*: the new key is made in the token, the CA loads it, and after activate it signs every new certificate', async () => {
    const prepared = await pki(['rotate-issuer', 'prepare', ...pkcs11Flags, '--json']);
    assert.equal(prepared.code, 0, prepared.stderr);
    const newId = JSON.parse(prepared.stdout).rotation.new.issuerId as string;
    assert.notEqual(newId, issuerId);
    const keys = readdirSync(join(data, 'keys'));
    assert.ok(keys.includes(`${newId}.pkcs11.json`) && !keys.includes(`${newId}.key.pem`), 'the new issuing key is in the token');
    assert.notEqual(readPkcs11KeyRef(dataPaths(data).issuerPkcs11Ref(newId)).keyId, readPkcs11KeyRef(dataPaths(data).issuerPkcs11Ref(issuerId)).keyId);

    assert.equal((await pki(['rotate-issuer', 'publish'])).code, 0);
    await until('the CA holds the new token key', async () => (await readyz(urls.caOps)).issuerKeys[newId] === true);
    const activated = await pki(['rotate-issuer', 'activate'], { PKI_CA_URL: urls.caOps });
    assert.equal(activated.code, 0, activated.stderr);

    const c = await issue('cp-hsm-3', 'CP-HSM-3');
    const newIssuer = new X509Certificate(readFileSync(c.issuer));
    assert.match(newIssuer.subject, /Charge Point CA G2/, 'signed by the new issuing CA');
    const signer = await openIssuerSigner(
      { keyFile: dataPaths(data).issuerKey(newId), pkcs11RefFile: dataPaths(data).issuerPkcs11Ref(newId) },
      { passphrase: () => assert.fail('no passphrase'), pkcs11Pin: () => PIN },
    );
    assert.ok(signer.publicKey.equals(newIssuer.publicKey), 'with the new token key');
    const v = await opensslAsync(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', f('root.pem'), '-untrusted', c.chain, c.leaf]);
    assert.equal(v.code, 0, v.stderr + v.stdout);
    // The responder gets a delegated signer for the new issuing CA (certified by the new token key)
    // on its next issuer check (every minute); a restart makes that now.
    await stopProc(ocsp);
    ocsp = await startOcsp();
    await until('the responder answers for the new issuing CA', async () => /: good/.test((await ocspStatus(c)).stdout));
    assert.match((await ocspStatus(c)).stderr, /Response verify OK/);

    const retired = await pki(['rotate-issuer', 'retire']);
    assert.equal(retired.code, 0, retired.stderr);
    assert.equal((await issue('cp-hsm-4', 'CP-HSM-4')).serialNumber.length > 0, true, 'still signing after retire');
  });

  it('a wrong PIN at CA start: unready with the reason in /readyz (that PIN is not offered again) and one log line, no crash; a fixed PIN file, then a key not matching the certificate, are seen without a restart', async () => {
    // A second CA on a copy of the PKI as `pki init` left it (its own store), with a wrong PIN.
    const [caPort, opsPort] = [await freePort(), await freePort()];
    const ops = `http://127.0.0.1:${opsPort}`;
    const badPin = f('bad-pin');
    writeFileSync(badPin, '11112222\n', { mode: 0o600 });
    const ca = spawnService('ca-wrong-pin', 'ca', { PKI_DATA_DIR: pristine, CA_PORT: String(caPort), CA_OPS_PORT: String(opsPort), ...hsm.env, PKI_PKCS11_PIN_FILE: badPin });
    procs.push(ca);
    await until('the CA listens', () => readyz(ops).then(() => true, () => false));
    const first = await readyz(ops);
    assert.equal(first.status, 'unready');
    assert.equal(first.issuerKeys[issuerId], false);
    assert.match(first.issuerKeyErrors[issuerId]!, /PKCS#11 login to token 'evpki-ca' failed: wrong PIN \(CKR_PIN_INCORRECT\)/);
    assert.match(first.issuerKeyErrors[issuerId]!, /not offered again until that file changes/);
    assert.ok(!first.issuerKeyErrors[issuerId]!.includes('11112222'), 'never the PIN');
    await sleep(6_000); // past a reload: still up, still unready, logged once
    assert.equal(ca.child.exitCode, null, ca.output());
    assert.equal((await readyz(ops)).status, 'unready');
    assert.equal(ca.output().split('\n').filter((l) => l.includes('"issuer.key-unavailable"')).length, 1, ca.output());

    // The right PIN, but the reference names another token key (the rotation's): refused, it does not match the certificate.
    const refFile = dataPaths(pristine).issuerPkcs11Ref(issuerId);
    const original = readFileSync(refFile, 'utf8');
    const otherKey = readdirSync(join(data, 'keys')).find((k) => k.endsWith('.pkcs11.json') && k !== `${issuerId}.pkcs11.json`)!;
    writeFileSync(refFile, readFileSync(join(data, 'keys', otherKey)));
    writeFileSync(badPin, `${PIN}\n`);
    await until('the mismatch is reported', async () => /names a token key other than the one the certificate/.test((await readyz(ops)).issuerKeyErrors[issuerId] ?? ''));
    assert.equal((await readyz(ops)).status, 'unready');

    writeFileSync(refFile, original);
    await until('the CA is ready with the token key', async () => (await readyz(ops)).status === 'ready');
    assert.deepEqual((await readyz(ops)).issuerKeyErrors, {});
  });
});
