/**
 * `pki v2g import` with CPO Sub-CA 2's key already in a PKCS#11 token (SoftHSM2, the key imported
 * with softhsm2-util): keys/<id>.pkcs11.json names it, no key file is written, and a token key that
 * is not the certificate's is refused (V2G.key). The external PKI is made by the openssl CLI.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataPaths } from '@evpki/service';
import { externalCa } from './helpers/external-v2g.js';
import { makeDevPki, type DevPki } from './helpers/pki.js';
import { runPki, tempDir } from './helpers/processes.js';
import { createSoftHsm, type SoftHsm } from './helpers/softhsm.js';

const TOKEN = 'evpki-v2g-import';
const PIN = '13572468';

describe('pki v2g import --pkcs11-*', () => {
  let hsm: SoftHsm;
  let p: DevPki;
  let work: string;
  const f = (n: string): string => join(work, n);
  const importArgs = (keyLabel: string, keyId: string): string[] => [
    'v2g', 'import', '--data-dir', p.dataDir, '--sub-ca2-cert', f('sub2.pem'), '--chain', f('chain.pem'),
    '--pkcs11-module', hsm.module, '--pkcs11-token-label', TOKEN, '--pkcs11-pin-file', f('pin'), '--pkcs11-key-label', keyLabel, '--pkcs11-key-id', keyId, '--json',
  ];

  before(async () => {
    hsm = createSoftHsm();
    hsm.initToken(TOKEN, PIN);
    work = tempDir('evpki-v2g-import-pkcs11-');
    writeFileSync(f('pin'), `${PIN}\n`, { mode: 0o600 });
    externalCa(work, 'root', 'root', '/CN=Ext V2G Root CA/O=Ext V2G/DC=V2G');
    externalCa(work, 'sub1', 'sub1', '/CN=Demo CPO Sub-CA 1/O=Demo CPO/DC=V2G', 'root');
    externalCa(work, 'sub2', 'sub2', '/CN=Demo CPO Sub-CA 2/O=Demo CPO/DC=V2G', 'sub1');
    writeFileSync(f('chain.pem'), readFileSync(f('sub1.pem'), 'utf8') + readFileSync(f('root.pem'), 'utf8'));
    for (const [key, label, id] of [['sub2', 'ext-sub2', 'a1b2'], ['sub1', 'ext-other', 'c3d4']] as const) {
      const r = spawnSync('softhsm2-util', ['--import', f(`${key}.key`), '--token', TOKEN, '--label', label, '--id', id, '--pin', PIN], { env: { ...process.env, ...hsm.env }, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
    p = await makeDevPki();
  });
  after(() => {
    p?.cleanup();
    hsm?.cleanup();
  });

  it('a token key that is not the certificate is refused (V2G.key), nothing written', async () => {
    const r = await runPki(importArgs('ext-other', 'c3d4'), hsm.env);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /V2G\.key/);
  });

  it('the token key of Sub-CA 2: a reference and no key file, no PIN in it', async () => {
    const r = await runPki(importArgs('ext-sub2', 'a1b2'), hsm.env);
    assert.equal(r.code, 0, r.stderr);
    const ids = JSON.parse(r.stdout) as { subCa2: string };
    const paths = dataPaths(p.dataDir);
    assert.deepEqual([existsSync(paths.issuerPkcs11Ref(ids.subCa2)), existsSync(paths.issuerKey(ids.subCa2))], [true, false]);
    const ref = JSON.parse(readFileSync(paths.issuerPkcs11Ref(ids.subCa2), 'utf8'));
    assert.deepEqual([ref.tokenLabel, ref.keyLabel, ref.keyId], [TOKEN, 'ext-sub2', 'a1b2']);
    assert.doesNotMatch(JSON.stringify(ref), new RegExp(PIN));
  });
});
