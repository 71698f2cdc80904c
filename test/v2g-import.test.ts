/**
 * `pki v2g import`: a CPO Sub-CA 2 issued by an external V2G PKI (made here by the openssl CLI: root,
 * Sub-CA 1, Sub-CA 2, P-256, SHA-1 key identifiers as openssl writes them) becomes the CA's signer of
 * SECC certificates; the root and Sub-CA 1 are stored without keys. Leaves issued through the RA
 * verify with `openssl verify -x509_strict` to the external root. Refusals name their rule and write
 * nothing: a chain that does not verify, a wrong curve, a key that is not the certificate's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataPaths } from '@evpki/service';
import { openStore } from '@evpki/store';
import { buildCsr, pemBlocks } from '@evpki/x509';
import { externalCa as extCa } from './helpers/external-v2g.js';
import { openssl } from './helpers/openssl.js';
import { api, makeDevPki, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { runPki } from './helpers/processes.js';

let p: DevPki;
let work: string;
const f = (name: string): string => join(work, name);

async function cli(args: string[]): Promise<{ code: number; stderr: string; json: any }> {
  const r = await runPki([...args, '--data-dir', p.dataDir, '--json']);
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { code: r.code, stderr: r.stderr, json };
}

const externalCa = (name: string, section: 'root' | 'sub1' | 'sub2', subject: string, parent?: string, curve?: string): void => extCa(work, name, section, subject, parent, curve);

const cat = (name: string, ...parts: string[]): string => {
  writeFileSync(f(name), parts.map((x) => readFileSync(f(`${x}.pem`), 'utf8')).join(''));
  return f(name);
};
const importArgs = (sub2: string, chain: string, key: string): string[] => ['v2g', 'import', '--sub-ca2-cert', f(`${sub2}.pem`), '--chain', chain, '--key', f(`${key}.key`)];

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'evpki-v2g-import-'));
  externalCa('root', 'root', '/CN=Ext V2G Root CA/O=Ext V2G/DC=V2G');
  externalCa('sub1', 'sub1', '/CN=Demo CPO Sub-CA 1/O=Demo CPO/DC=V2G', 'root');
  externalCa('sub2', 'sub2', '/CN=Demo CPO Sub-CA 2/O=Demo CPO/DC=V2G', 'sub1');
  // Refusals: a Sub-CA 2 signed by another root's Sub-CA 1, one on P-384.
  externalCa('other-root', 'root', '/CN=Other V2G Root CA/O=Other/DC=V2G');
  externalCa('other-sub1', 'sub1', '/CN=Demo CPO Sub-CA 1/O=Demo CPO/DC=V2G', 'other-root');
  externalCa('p384-sub2', 'sub2', '/CN=Demo CPO Sub-CA 2/O=Demo CPO/DC=V2G', 'sub1', 'P-384');
  p = await makeDevPki();
});
after(() => {
  p?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('pki v2g import: refusals write nothing', () => {
  for (const [name, args, rule] of [
    ['a chain that does not verify (Sub-CA 1 of another root)', () => importArgs('sub2', cat('bad-chain.pem', 'other-sub1', 'other-root'), 'sub2'), /V2G\.chain: CPO Sub-CA 2 .* is not signed by/],
    ['a Sub-CA 2 on P-384', () => importArgs('p384-sub2', cat('chain.pem', 'sub1', 'root'), 'p384-sub2'), /V2G\.curve: CPO Sub-CA 2 .*not EC P-256/],
    ['a key that is not the certificate', () => importArgs('sub2', cat('chain.pem', 'sub1', 'root'), 'sub1'), /V2G\.key/],
    ['Sub-CA 1 given as Sub-CA 2 (pathLen 1)', () => importArgs('sub1', cat('chain2.pem', 'sub2', 'root'), 'sub1'), /V2G\.chain/],
  ] as const) {
    it(`${name} → exit 2 naming ${rule.source.slice(0, 10)}`, async () => {
      const keys = (): string[] => (existsSync(join(p.dataDir, 'keys')) ? readdirSync(join(p.dataDir, 'keys')).sort() : []);
      const before = keys();
      const r = await cli(args());
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, rule);
      assert.deepEqual(keys(), before, 'no key file written');
      const store = openStore({ dataDir: p.dataDir });
      try {
        assert.deepEqual(await store.listIssuers('v2g'), []);
      } finally {
        await store.close();
      }
    });
  }
});

describe('pki v2g import, then SECC certificates through RA → CA', () => {
  let stack: Stack;
  let ids: { root: string; subCa1: string; subCa2: string };
  after(async () => stack?.stop());

  it('stores the root and Sub-CA 1 without keys and Sub-CA 2 with its key, all active; a second import is refused', async () => {
    const r = await cli(importArgs('sub2', cat('chain.pem', 'root', 'sub1'), 'sub2'));
    assert.equal(r.code, 0, r.stderr);
    ids = r.json;
    const store = openStore({ dataDir: p.dataDir });
    try {
      const byId = new Map((await store.listIssuers('v2g')).map((i) => [i.id, i]));
      assert.deepEqual(
        [ids.root, ids.subCa1, ids.subCa2].map((id) => [byId.get(id)?.role, byId.get(id)?.parentId, byId.get(id)?.state]),
        [
          ['root', ids.root, 'active'],
          ['sub-ca-1', ids.root, 'active'],
          ['sub-ca-2', ids.subCa1, 'active'],
        ],
      );
      assert.deepEqual(byId.get(ids.subCa2)!.certificate, new X509Certificate(readFileSync(f('sub2.pem'))).raw);
    } finally {
      await store.close();
    }
    const paths = dataPaths(p.dataDir);
    assert.ok(existsSync(paths.issuerKey(ids.subCa2)), 'Sub-CA 2 key stored');
    assert.match(readFileSync(paths.issuerKey(ids.subCa2), 'utf8'), /ENCRYPTED PRIVATE KEY/);
    for (const id of [ids.root, ids.subCa1]) assert.ok(!existsSync(paths.issuerKey(id)), `no key for ${id}`);
    const rotate = await cli(['rotate-issuer', 'prepare', '--hierarchy', 'v2g']);
    assert.equal(rotate.code, 2, rotate.stderr);
    assert.match(rotate.stderr, new RegExp(`CPO Sub-CA 1 ${ids.subCa1} has no key .*pki v2g import`));
    const again = await cli(importArgs('sub2', f('chain.pem'), 'sub2'));
    assert.equal(again.code, 2);
    assert.match(again.stderr, /holds a v2g hierarchy already/);
  });

  it('an SECC certificate is signed by the imported Sub-CA 2 and verifies -x509_strict to the external root; trust anchors list it', async () => {
    const demo = await cli(['tenants', 'add', '--id', 'demo', '--update', '--operator-id', 'DE*ABC']);
    assert.equal(demo.code, 0, demo.stderr);
    stack = await startStack(p);
    const put = await api(stack, 'PUT', '/v1/stations/evse-imp', { serialNumber: 'EVSE-IMP-1', allowed: true, seccIds: ['DE*ABC*E1'] });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const csr = buildCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { cn: 'DE*ABC*E1', o: 'Demo CPO', dc: 'CPO' });
    const r = await api(stack, 'POST', '/v1/stations/evse-imp/certificates', { csr, certificateType: 'V2GCertificate' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const [leaf, sub2, sub1] = pemBlocks(r.body.certificateChain, 'CERTIFICATE').map((d) => new X509Certificate(d).toString());
    assert.equal(sub2, new X509Certificate(readFileSync(f('sub2.pem'))).toString(), 'the imported Sub-CA 2');
    writeFileSync(f('leaf.pem'), leaf!);
    writeFileSync(f('subs.pem'), sub2 + sub1!);
    const v = openssl(['verify', '-x509_strict', '-CAfile', f('root.pem'), '-untrusted', f('subs.pem'), f('leaf.pem')]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const anchors = await api(stack, 'GET', '/v1/trust-anchors?hierarchy=v2g');
    assert.deepEqual(anchors.body.items.map((a: { id: string }) => a.id), [ids.root]);
  });
});
