import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPrivateKey, writePrivateKey } from '@evpki/keys';
import { dataPaths, readManifest } from '@evpki/service';
import { openssl } from './helpers/openssl.js';
import { PKI_CLI } from './helpers/processes.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'evpki-keyfiles-'));
  dirs.push(d);
  return d;
}

function pki(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PKI|RA|CA|OCSP)_/.test(k)));
  const r = spawnSync(process.execPath, [PKI_CLI, ...args], { encoding: 'utf8', env: { ...clean, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The KDF of an encrypted PKCS#8 file, as openssl parses it. */
function kdfOf(file: string): { kdf: string; ints: number[] } {
  const text = openssl(['asn1parse', '-in', file]).stdout;
  const kdf = /OBJECT\s+:(scrypt|PBKDF2)/.exec(text)?.[1] ?? 'none';
  const ints = [...text.matchAll(/prim: INTEGER\s+:([0-9A-F]+)/g)].map((m) => parseInt(m[1]!, 16));
  return { kdf, ints };
}

const canOpen = (file: string, passFile: string): boolean => openssl(['pkey', '-in', file, '-passin', `file:${passFile}`, '-noout']).code === 0;

describe('key files', () => {
  it('issue 14.8: new key files use scrypt (not PBKDF2 with 2,048 iterations), openssl reads them, old files still open', () => {
    const dir = tmp();
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const passphrase = 'correct horse battery staple';
    const passFile = join(dir, 'pass');
    writeFileSync(passFile, passphrase + '\n');

    const fresh = join(dir, 'new.key.pem');
    writePrivateKey(fresh, key, passphrase);
    assert.match(readFileSync(fresh, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    const { kdf, ints } = kdfOf(fresh);
    assert.equal(kdf, 'scrypt');
    assert.deepEqual(ints.slice(0, 3), [2 ** 14, 8, 5], 'scrypt N, r, p as the README says');
    assert.ok(canOpen(fresh, passFile), 'openssl pkey opens the new file');
    const wrong = join(dir, 'wrong');
    writeFileSync(wrong, 'not the passphrase at all\n');
    assert.ok(!canOpen(fresh, wrong));
    const read = readPrivateKey(fresh, passphrase);
    assert.deepEqual(read.export({ format: 'jwk' }), key.export({ format: 'jwk' }));
    assert.throws(() => readPrivateKey(fresh, 'not the passphrase at all'), (e: Error) => e.name === 'KeyLoadError' && !e.message.includes('passphrase at all'));

    // A file of an earlier version: node's own PBKDF2 (2,048 iterations) envelope.
    const old = join(dir, 'old.key.pem');
    writeFileSync(old, key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }), { mode: 0o600 });
    assert.equal(kdfOf(old).kdf, 'PBKDF2');
    assert.deepEqual(readPrivateKey(old, passphrase).export({ format: 'jwk' }), key.export({ format: 'jwk' }));
  });

  it('issue 14.8: each key role has its own passphrase file (root, issuing, service CA): init, rotation and service-certs use the right one', () => {
    const dir = tmp();
    const data = join(dir, 'data');
    const files = { root: join(dir, 'root-pass'), issuing: join(dir, 'issuing-pass'), serviceCa: join(dir, 'service-ca-pass') };
    writeFileSync(files.root, 'the root passphrase, kept offline\n');
    writeFileSync(files.issuing, 'the issuing CA passphrase of the CA\n');
    writeFileSync(files.serviceCa, 'the service CA passphrase for renewals\n');
    const env = { PKI_ROOT_KEY_PASSPHRASE_FILE: files.root, PKI_ISSUING_KEY_PASSPHRASE_FILE: files.issuing, PKI_SERVICE_CA_KEY_PASSPHRASE_FILE: files.serviceCa };

    // One role without a passphrase (and no shared one): refused before anything is written.
    const missing = pki(['init', '--org', 'ACME CPO', '--data-dir', data], { PKI_ROOT_KEY_PASSPHRASE_FILE: files.root });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /PKI_ISSUING_KEY_PASSPHRASE_FILE/);

    const init = pki(['init', '--org', 'ACME CPO', '--data-dir', data], env);
    assert.equal(init.code, 0, init.stderr);
    const paths = dataPaths(data);
    const m = readManifest(data);
    const keys = { root: paths.issuerKey(m.issuers.root), issuing: paths.issuerKey(m.issuers.chargePoint), serviceCa: paths.serviceCaKey };
    for (const [role, file] of Object.entries(keys) as [keyof typeof files, string][]) {
      assert.equal(kdfOf(file).kdf, 'scrypt', role);
      for (const [other, pass] of Object.entries(files)) assert.equal(canOpen(file, pass), other === role, `${role} key with the ${other} passphrase`);
    }

    // The issuing CA rotation opens the root key with the root's passphrase, writes the new issuing key with the issuing one.
    const prepare = pki(['rotate-issuer', 'prepare', '--data-dir', data, '--json'], { PKI_ROOT_KEY_PASSPHRASE_FILE: files.root, PKI_ISSUING_KEY_PASSPHRASE_FILE: files.issuing });
    assert.equal(prepare.code, 0, prepare.stderr);
    const newIssuer = (JSON.parse(prepare.stdout) as { rotation: { new: { issuerId: string } } }).rotation.new.issuerId;
    assert.ok(canOpen(paths.issuerKey(newIssuer), files.issuing));
    assert.ok(!canOpen(paths.issuerKey(newIssuer), files.root));

    // The service CA key opens only with its own passphrase.
    const wrongRenew = pki(['service-certs', 'renew', '--data-dir', data], { PKI_SERVICE_CA_KEY_PASSPHRASE_FILE: files.issuing });
    assert.equal(wrongRenew.code, 2);
    assert.doesNotMatch(wrongRenew.stderr, /the issuing CA passphrase/);
    const renew = pki(['service-certs', 'renew', '--data-dir', data], { PKI_SERVICE_CA_KEY_PASSPHRASE_FILE: files.serviceCa });
    assert.equal(renew.code, 0, renew.stderr);
  });
});
