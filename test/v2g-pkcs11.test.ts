/**
 * `pki v2g init --pkcs11-*`: CPO Sub-CA 2's key (the one the CA signs SECC certificates with) is
 * generated in a PKCS#11 token (SoftHSM2), named by keys/<id>.pkcs11.json; the root and Sub-CA 1
 * keys stay encrypted files. The key the reference opens certifies an SECC certificate that
 * `openssl verify -x509_strict` accepts under the V2G root.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { certify, issuerFacts, seccLeaf } from '@evpki/issuance';
import { openIssuerSigner } from '@evpki/keys';
import { dataPaths, issuerUrls } from '@evpki/service';
import { openStore } from '@evpki/store';
import { csrFromPem, inspectSpki, parseCertificate, toPem } from '@evpki/x509';
import { openssl } from './helpers/openssl.js';
import { makeDevPki, type DevPki } from './helpers/pki.js';
import { runPki, tempDir } from './helpers/processes.js';
import { createSoftHsm, type SoftHsm } from './helpers/softhsm.js';

const TOKEN = 'evpki-v2g';
const PIN = '24681357';

describe('pki v2g init with the CPO Sub-CA 2 key in a PKCS#11 token', () => {
  let hsm: SoftHsm;
  let pki: DevPki;
  let work: string;
  let ids: { root: string; subCa1: string; subCa2: string };
  let pinFile: string;

  before(async () => {
    hsm = createSoftHsm(); // fails (does not skip) with the install hint when SoftHSM2 is missing
    hsm.initToken(TOKEN, PIN);
    work = tempDir('evpki-v2g-pkcs11-');
    pinFile = join(work, 'pin');
    writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
    pki = await makeDevPki();
    const r = await runPki(['v2g', 'init', '--data-dir', pki.dataDir, '--pkcs11-module', hsm.module, '--pkcs11-token-label', TOKEN, '--pkcs11-pin-file', pinFile, '--json'], hsm.env);
    assert.equal(r.code, 0, r.stderr);
    ids = JSON.parse(r.stdout);
  });
  after(() => {
    pki?.cleanup();
    hsm?.cleanup();
  });

  it('Sub-CA 2 has a token reference and no key file; the root and Sub-CA 1 keys are files', () => {
    const paths = dataPaths(pki.dataDir);
    assert.deepEqual(
      [existsSync(paths.issuerPkcs11Ref(ids.subCa2)), existsSync(paths.issuerKey(ids.subCa2))],
      [true, false],
    );
    assert.doesNotMatch(readFileSync(paths.issuerPkcs11Ref(ids.subCa2), 'utf8'), new RegExp(PIN), 'the reference never holds the PIN');
    for (const id of [ids.root, ids.subCa1]) assert.ok(existsSync(paths.issuerKey(id)), `${id}'s key file`);
  });

  it('the token key is the one Sub-CA 2 certifies, and signs an SECC certificate that verifies under the V2G root', async () => {
    const paths = dataPaths(pki.dataDir);
    const store = openStore({ dataDir: pki.dataDir });
    const [root, sub1, sub2] = await Promise.all([ids.root, ids.subCa1, ids.subCa2].map(async (id) => parseCertificate((await store.getIssuer(id))!.certificate)));
    await store.close();
    const signer = await openIssuerSigner(
      { keyFile: paths.issuerKey(ids.subCa2), pkcs11RefFile: paths.issuerPkcs11Ref(ids.subCa2) },
      { passphrase: () => assert.fail('no passphrase for a token key'), pkcs11Pin: () => PIN },
    );
    assert.ok(signer.publicKey.equals(createPublicKey({ key: sub2!.spki, format: 'der', type: 'spki' })));

    const keyFile = join(work, 'secc.key');
    const csrFile = join(work, 'secc.csr');
    assert.equal(openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]).code, 0);
    assert.equal(openssl(['req', '-new', '-key', keyFile, '-subj', '/CN=DE*ABC*E1/O=Demo CPO/DC=CPO', '-sha256', '-out', csrFile]).code, 0);
    const csr = csrFromPem(readFileSync(csrFile, 'utf8'));
    const publicKey = inspectSpki(csr.spki) as ReturnType<typeof inspectSpki> & { type: 'ec' };
    const c = await certify(seccLeaf, issuerFacts(ids.subCa2, sub2!, issuerUrls(pki.manifest.publicOcspBase, ids.subCa2)), signer, {
      subject: { publicKey, csr },
      lifetimeSeconds: 86400,
      now: new Date(),
    });
    assert.ok(c.der.length <= 800);
    const f = (name: string, der: Buffer): string => {
      writeFileSync(join(work, name), toPem('CERTIFICATE', der));
      return join(work, name);
    };
    writeFileSync(join(work, 'subs.pem'), toPem('CERTIFICATE', sub2!.der) + toPem('CERTIFICATE', sub1!.der));
    const v = openssl(['verify', '-x509_strict', '-CAfile', f('root.pem', root!.der), '-untrusted', join(work, 'subs.pem'), f('leaf.pem', c.der)]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });

  it('pki rotate-issuer prepare --hierarchy v2g --pkcs11-*: the new CPO Sub-CA 2 key is generated in the token, certified by Sub-CA 1', async () => {
    const r = await runPki(['rotate-issuer', 'prepare', '--hierarchy', 'v2g', '--data-dir', pki.dataDir, '--pkcs11-module', hsm.module, '--pkcs11-token-label', TOKEN, '--pkcs11-pin-file', pinFile, '--json'], hsm.env);
    assert.equal(r.code, 0, r.stderr);
    const newId = JSON.parse(r.stdout).rotation.new.issuerId as string;
    const paths = dataPaths(pki.dataDir);
    assert.deepEqual([existsSync(paths.issuerPkcs11Ref(newId)), existsSync(paths.issuerKey(newId))], [true, false]);
    const store = openStore({ dataDir: pki.dataDir });
    const record = (await store.getIssuer(newId))!;
    await store.close();
    assert.deepEqual([record.role, record.parentId, record.state], ['sub-ca-2', ids.subCa1, 'prepared']);
    const signer = await openIssuerSigner(
      { keyFile: paths.issuerKey(newId), pkcs11RefFile: paths.issuerPkcs11Ref(newId) },
      { passphrase: () => assert.fail('no passphrase for a token key'), pkcs11Pin: () => PIN },
    );
    assert.ok(signer.publicKey.equals(createPublicKey({ key: parseCertificate(record.certificate).spki, format: 'der', type: 'spki' })));
  });
});
