/**
 * Several hierarchies in one PKI (issue 15): `pki rotate-*` and `pki status` take --hierarchy
 * (default csms) and touch only that hierarchy's CAs and rotation record; the CA holds an active
 * issuing CA per hierarchy. The real CLI in its own process on a dev PKI with a second two-tier
 * hierarchy (`lab`) added beside csms.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IssuerSet } from '@evpki/ca';
import { issuerIdFor, makeRoot, makeSubCa } from '@evpki/cli';
import { fileSigner, generateIssuerKey, readPrivateKey, readSecretFile, writePrivateKey } from '@evpki/keys';
import { createLogger, dataPaths, issuerUrls, readManifest } from '@evpki/service';
import { openStore, type IssuerRecord, type Store } from '@evpki/store';
import { makeDevPki, type DevPki } from './helpers/pki.js';
import { runPki } from './helpers/processes.js';

let p: DevPki;
const lab = { rootId: '', issuerId: '' };

/** The real pki on the dev PKI; stdout parsed when it is JSON. */
async function pki(args: string[]): Promise<{ code: number; stderr: string; json: any }> {
  const r = await runPki([...args, '--data-dir', p.dataDir]);
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { code: r.code, stderr: r.stderr, json };
}

async function withStore<T>(fn: (s: Store) => Promise<T>): Promise<T> {
  const store = openStore({ dataDir: p.dataDir });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

before(async () => {
  p = await makeDevPki();
  // A second two-tier hierarchy: a root and its active issuing CA, their keys beside the csms ones.
  const paths = dataPaths(p.dataDir);
  const passphrase = readSecretFile(paths.devPassphrase);
  const now = new Date();
  const rootKey = generateIssuerKey('ecdsa-p256');
  const root = await makeRoot(rootKey, { organization: 'Demo CPO', commonName: 'Demo CPO Lab Root CA' }, now, 20);
  lab.rootId = issuerIdFor('lab-root', root);
  const subKey = generateIssuerKey('ecdsa-p256');
  const sub = await makeSubCa(subKey, { organization: 'Demo CPO', commonName: 'Demo CPO Lab CA' }, root, rootKey, now, 10, issuerUrls(p.manifest.publicOcspBase, lab.rootId));
  lab.issuerId = issuerIdFor('lab', sub);
  writePrivateKey(paths.issuerKey(lab.rootId), rootKey, passphrase);
  writePrivateKey(paths.issuerKey(lab.issuerId), subKey, passphrase);
  const at = now.toISOString();
  await withStore(async (s) => {
    await s.putIssuer({ id: lab.rootId, hierarchy: 'lab', role: 'root', parentId: lab.rootId, certificate: root.der, state: 'active', createdAt: at });
    await s.putIssuer({ id: lab.issuerId, hierarchy: 'lab', role: 'issuing', parentId: lab.rootId, certificate: sub.der, state: 'active', createdAt: at });
  });
});
after(() => p.cleanup());

describe('pki rotate-* --hierarchy', () => {
  test('a bad or unknown hierarchy is refused (exit 2), naming the rule', async () => {
    const bad = await pki(['rotate-issuer', 'prepare', '--hierarchy', 'Lab!']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--hierarchy: Hierarchy\.name: "Lab!" is not a hierarchy name/);
    const unknown = await pki(['rotate-issuer', 'prepare', '--hierarchy', 'v2g']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /the hierarchy v2g has no active issuing CA/);
    assert.equal((await pki(['status', '--hierarchy', 'BAD'])).code, 2);
  });

  test('an issuing CA rotation of lab touches only lab: its own rotation record, beside one of csms; pki.json (csms) unchanged', async () => {
    const manifest = readManifest(p.dataDir);
    const prepared = await pki(['rotate-issuer', 'prepare', '--hierarchy', 'lab', '--json']);
    assert.equal(prepared.code, 0, prepared.stderr);
    const rot = prepared.json.rotation;
    assert.deepEqual([rot.hierarchy, rot.old, rot.new.rootId], ['lab', { rootId: lab.rootId, issuerId: lab.issuerId }, lab.rootId]);
    assert.equal(prepared.json.next, 'pki rotate-issuer publish --hierarchy lab');
    const made = await withStore((s) => s.getIssuer(rot.new.issuerId as string));
    assert.deepEqual([made?.hierarchy, made?.role, made?.state, made?.parentId], ['lab', 'issuing', 'prepared', lab.rootId]);

    // csms has no rotation yet, and may have one of its own meanwhile.
    const csmsPublish = await pki(['rotate-issuer', 'publish']);
    assert.equal(csmsPublish.code, 2);
    assert.match(csmsPublish.stderr, /no issuer rotation in progress; start one with `pki rotate-issuer prepare`/);
    const csms = await pki(['rotate-issuer', 'prepare', '--json']);
    assert.equal(csms.code, 0, csms.stderr);
    assert.deepEqual([csms.json.rotation.hierarchy, csms.json.rotation.old.issuerId, csms.json.next], ['csms', manifest.issuers.chargePoint, 'pki rotate-issuer publish']);

    assert.equal((await pki(['rotate-issuer', 'publish', '--hierarchy', 'lab'])).code, 0);
    const activated = await pki(['rotate-issuer', 'activate', '--hierarchy', 'lab', '--skip-ca-check']);
    assert.equal(activated.code, 0, activated.stderr);
    const states = await withStore(async (s) => Object.fromEntries((await s.listIssuers()).map((i: IssuerRecord) => [i.id, i.state])));
    assert.equal(states[rot.new.issuerId], 'active');
    assert.equal(states[lab.issuerId], 'published');
    assert.equal(states[manifest.issuers.chargePoint], 'active', 'csms keeps its active issuing CA');
    assert.equal(states[csms.json.rotation.new.issuerId], 'prepared', 'csms rotation untouched');
    assert.deepEqual(readManifest(p.dataDir).issuers, manifest.issuers, 'pki.json names the csms CAs');

    const labStatus = await pki(['status', '--hierarchy', 'lab', '--json']);
    assert.equal(labStatus.code, 0, labStatus.stderr);
    assert.equal(labStatus.json.hierarchy, 'lab');
    assert.deepEqual(labStatus.json.issuers.map((i: { id: string }) => i.id).sort(), [lab.rootId, lab.issuerId, rot.new.issuerId].sort());
    assert.equal(labStatus.json.rotation.next, 'pki rotate-issuer retire --hierarchy lab');
    const csmsStatus = await pki(['status', '--json']);
    assert.deepEqual(csmsStatus.json.issuers.map((i: { id: string }) => i.id).sort(), [manifest.issuers.root, manifest.issuers.chargePoint, csms.json.rotation.new.issuerId].sort());
    assert.equal(csmsStatus.json.rotation.next, 'pki rotate-issuer publish');

    const audit = await withStore((s) => s.listAudit({ limit: 1000 }));
    const steps = audit.filter((e) => e.event.startsWith('rotation.')).map((e) => `${e.details?.hierarchy} ${e.event}`);
    assert.deepEqual(steps, ['lab rotation.issuer.prepare', 'csms rotation.issuer.prepare', 'lab rotation.issuer.publish', 'lab rotation.issuer.activate']);
  });

  test('the CA holds an active issuing CA per hierarchy', async () => {
    const paths = dataPaths(p.dataDir);
    const passphrase = readSecretFile(paths.devPassphrase);
    const labRotation = await withStore((s) => s.getRotation('lab'));
    await withStore(async (store) => {
      const set = new IssuerSet(store, async (id) => fileSigner(readPrivateKey(paths.issuerKey(id), passphrase)), p.manifest.publicOcspBase, createLogger('test', 'silent'), () => new Date());
      const { added } = await set.reload();
      assert.equal(set.activeIdIn(), p.manifest.issuers.chargePoint, 'default: csms');
      assert.equal(set.activeIn('csms')?.id, p.manifest.issuers.chargePoint);
      assert.equal(set.activeIn('lab')?.id, labRotation!.new.issuerId);
      assert.equal(set.activeIn('v2g'), undefined);
      // Every issuing CA in service, of both hierarchies: the active ones and those prepared or published.
      assert.equal(added.length, 4);
    });
  });
});
