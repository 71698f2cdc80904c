import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataPaths, readManifest } from '@evpki/service';
import { openStore } from '@evpki/store';
import { toPem } from '@evpki/x509';
import { openssl } from './helpers/openssl.js';
import { TEST_DIR } from './helpers/fixtures.js';

const PKI = join(TEST_DIR, '..', 'services', 'cli', 'bin', 'pki.js');
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'evpki-init-'));
  dirs.push(d);
  return d;
}

function pki(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PKI|RA|CA|OCSP)_/.test(k)));
  const r = spawnSync(process.execPath, [PKI, ...args], { encoding: 'utf8', env: { ...clean, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function issuerCerts(dataDir: string): Promise<{ root: X509Certificate; sub: X509Certificate }> {
  const m = readManifest(dataDir);
  const store = openStore({ dataDir });
  try {
    const root = await store.getIssuer(m.issuers.root);
    const sub = await store.getIssuer(m.issuers.chargePoint);
    return { root: new X509Certificate(root!.certificate), sub: new X509Certificate(sub!.certificate) };
  } finally {
    await store.close();
  }
}

describe('pki init', () => {
  it('--dev creates a root, an issuing sub-CA and encrypted issuer keys readable by openssl pkey', async () => {
    const dir = tmp();
    const r = pki(['init', '--dev', '--data-dir', dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    assert.equal(m.algorithm, 'ecdsa-p256');
    const paths = dataPaths(dir);
    for (const id of [m.issuers.root, m.issuers.chargePoint]) {
      const keyFile = paths.issuerKey(id);
      assert.match(readFileSync(keyFile, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      assert.equal(statSync(keyFile).mode & 0o777, 0o600);
      const ok = openssl(['pkey', '-in', keyFile, '-passin', `file:${paths.devPassphrase}`, '-noout']);
      assert.equal(ok.code, 0, ok.stderr);
      writeFileSync(join(dir, 'wrong'), 'not-the-passphrase-at-all\n');
      assert.notEqual(openssl(['pkey', '-in', keyFile, '-passin', `file:${join(dir, 'wrong')}`, '-noout']).code, 0);
    }
    const { root, sub } = await issuerCerts(dir);
    assert.ok(root.ca && sub.ca && sub.checkIssued(root) && root.checkIssued(root));
    assert.ok(sub.verify(root.publicKey));
    writeFileSync(join(dir, 'root.pem'), root.toString());
    writeFileSync(join(dir, 'sub.pem'), sub.toString());
    assert.equal(openssl(['verify', '-CAfile', join(dir, 'root.pem'), join(dir, 'sub.pem')]).code, 0);
    const text = openssl(['x509', '-in', join(dir, 'sub.pem'), '-noout', '-text']).stdout;
    assert.match(text, /ecdsa-with-SHA256/);
    assert.match(text, /CA:TRUE, pathlen:0/);
    assert.ok(new Date(sub.validTo) <= new Date(root.validTo), 'the sub-CA never outlives the root');
    // The dev extras: tenant demo and a JWT key for `pki token`.
    assert.ok(existsSync(paths.jwtSigningKey) && existsSync(paths.jwtPublicJwk));
    const store = openStore({ dataDir: dir });
    assert.deepEqual({ ...(await store.getTenant('demo')), createdAt: undefined }, { id: 'demo', cpoName: 'Demo CPO', serverDomains: ['demo.local'], disabled: false, createdAt: undefined });
    // Issue 15: both CAs in the csms hierarchy, the sub-CA its issuing CA.
    const records = Object.fromEntries((await store.listIssuers()).map((i) => [i.id, [i.hierarchy, i.role, i.state]]));
    assert.deepEqual(records, { [m.issuers.root]: ['csms', 'root', 'active'], [m.issuers.chargePoint]: ['csms', 'issuing', 'active'] });
    await store.close();
    const token = pki(['token', '--tenant', 'demo', '--data-dir', dir]);
    assert.equal(token.code, 0);
    const payload = JSON.parse(Buffer.from(token.stdout.trim().split('.')[1]!, 'base64url').toString());
    assert.equal(payload.tenant, 'demo');
    assert.ok(payload.iss && payload.aud && payload.exp > Date.now() / 1000);
  });

  it('refuses to overwrite an existing PKI without --force (exit 2), replaces it with --force', async () => {
    const dir = tmp();
    assert.equal(pki(['init', '--dev', '--data-dir', dir]).code, 0);
    const before = readManifest(dir).issuers.root;
    const again = pki(['init', '--dev', '--data-dir', dir]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists.*--force/);
    assert.equal(readManifest(dir).issuers.root, before);
    assert.equal(pki(['init', '--dev', '--force', '--data-dir', dir]).code, 0);
    assert.notEqual(readManifest(dir).issuers.root, before);
  });

  it('RSA-PSS (3072) hierarchy: certificates signed with RSASSA-PSS and verified by openssl (A00.FR.505)', async () => {
    const dir = tmp();
    const r = pki(['init', '--dev', '--algorithm', 'rsa-pss-3072', '--data-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    const { root, sub } = await issuerCerts(dir);
    writeFileSync(join(dir, 'root.pem'), root.toString());
    writeFileSync(join(dir, 'sub.pem'), sub.toString());
    const text = openssl(['x509', '-in', join(dir, 'sub.pem'), '-noout', '-text']).stdout;
    assert.match(text, /Signature Algorithm: rsassaPss/);
    assert.match(text, /Hash Algorithm: sha256/);
    assert.match(text, /Public-Key: \(3072 bit\)/);
    const v = openssl(['verify', '-CAfile', join(dir, 'root.pem'), join(dir, 'sub.pem')]);
    assert.equal(v.code, 0, v.stderr);
  });

  it('without --dev it needs a passphrase from the environment and writes none to disk; token is dev-only', async () => {
    const dir = tmp();
    const noPass = pki(['init', '--org', 'ACME CPO', '--data-dir', dir]);
    assert.equal(noPass.code, 2);
    assert.match(noPass.stderr, /PKI_KEY_PASSPHRASE/);
    const passFile = join(tmp(), 'pass');
    writeFileSync(passFile, 'correct horse battery staple\n');
    const ok = pki(['init', '--org', 'ACME CPO', '--data-dir', dir], { PKI_KEY_PASSPHRASE_FILE: passFile });
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(!existsSync(dataPaths(dir).devPassphrase));
    const m = readManifest(dir);
    assert.equal(openssl(['pkey', '-in', dataPaths(dir).issuerKey(m.issuers.chargePoint), '-passin', `file:${passFile}`, '-noout']).code, 0);
    assert.match((await issuerCerts(dir)).root.subject, /O=ACME CPO/);
    const token = pki(['token', '--tenant', 'demo', '--data-dir', dir]);
    assert.equal(token.code, 2);
    assert.match(token.stderr, /dev PKI/);
  });

  it('bad input exits 2 with a one-line reason', () => {
    const dir = tmp();
    for (const args of [['init', '--dev', '--algorithm', 'dsa-1024', '--data-dir', dir], ['frobnicate'], ['init', '--bogus'], ['token', '--data-dir', dir]]) {
      const r = pki(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /^pki: .+\n$/);
    }
    assert.equal(pki(['--help']).code, 0);
  });

  it('the issuer certificate written to the store is what openssl sees (PEM round trip)', async () => {
    const dir = tmp();
    assert.equal(pki(['init', '--dev', '--data-dir', dir]).code, 0);
    const { sub } = await issuerCerts(dir);
    const pem = toPem('CERTIFICATE', sub.raw);
    assert.equal(openssl(['x509', '-noout', '-fingerprint', '-sha256'], pem).stdout.trim().split('=')[1], sub.fingerprint256);
  });

  it('--v2g also makes the V2G hierarchy, as pki v2g init does: three active issuers in "v2g", the chain verifies -x509_strict, O from --org', async () => {
    const dir = tmp();
    const passFile = join(tmp(), 'pass');
    writeFileSync(passFile, 'correct horse battery staple\n');
    const r = pki(['init', '--org', 'ACME CPO', '--v2g', '--data-dir', dir, '--json'], { PKI_KEY_PASSPHRASE_FILE: passFile });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.issuers.root, readManifest(dir).issuers.root, 'the manifest, as without --v2g');
    const store = openStore({ dataDir: dir });
    let pems: Record<string, string>;
    try {
      const v2g = await store.listIssuers('v2g');
      assert.deepEqual(v2g.map((i) => [i.role, i.state]).sort(), [['root', 'active'], ['sub-ca-1', 'active'], ['sub-ca-2', 'active']]);
      assert.deepEqual(Object.keys(out.v2g).sort(), ['root', 'subCa1', 'subCa2']);
      pems = Object.fromEntries(await Promise.all(Object.entries(out.v2g as Record<string, string>).map(async ([k, id]) => [k, toPem('CERTIFICATE', (await store.getIssuer(id))!.certificate)])));
    } finally {
      await store.close();
    }
    for (const [k, pem] of Object.entries(pems)) writeFileSync(join(dir, `${k}.pem`), pem);
    const v = openssl(['verify', '-x509_strict', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'subCa1.pem'), join(dir, 'subCa2.pem')]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(new X509Certificate(pems.subCa2!).subject, /O=ACME CPO/);
    for (const id of Object.values(out.v2g as Record<string, string>)) assert.ok(existsSync(dataPaths(dir).issuerKey(id)), `key of ${id}`);
    const text = pki(['init', '--dev', '--v2g', '--data-dir', tmp()]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^PKI created in .*\nV2G hierarchy created: root v2g-root-\S+, CPO Sub-CA 1 cpo-sub1-\S+, CPO Sub-CA 2 cpo-sub2-\S+\n$/);
  });

  it('--force --v2g replaces the V2G hierarchy with the rest (embedded store: the store goes too)', () => {
    const dir = tmp();
    const first = pki(['init', '--dev', '--v2g', '--data-dir', dir, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const again = pki(['init', '--dev', '--force', '--v2g', '--data-dir', dir, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.notEqual(JSON.parse(again.stdout).v2g.root, JSON.parse(first.stdout).v2g.root);
    const twice = pki(['v2g', 'init', '--data-dir', dir]);
    assert.equal(twice.code, 2, 'pki v2g init after pki init --v2g: one V2G hierarchy');
    assert.match(twice.stderr, /holds a v2g hierarchy already/);
  });
});
