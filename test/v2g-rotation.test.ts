/**
 * CPO Sub-CA 2 rotation (`pki rotate-issuer <step> --hierarchy v2g`) while SECC certificates
 * (V2GCertificate) are signed continuously through the RA: zero failed requests; after activation
 * new leaves chain to the new Sub-CA 2 under the same Sub-CA 1 (openssl verify -x509_strict against
 * the V2G root); the old Sub-CA 2's leaves stay answered by OCSP after retire. Rotating the V2G
 * root is refused. The real CLI in its own process, the RA, CA and OCSP responder in this one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readManifest } from '@evpki/service';
import type { RotationRecord } from '@evpki/store';
import { buildCsr, parseCertificate, pemBlocks } from '@evpki/x509';
import { openssl, opensslAsync } from './helpers/openssl.js';
import { api, makeDevPki, requestJson, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { runPki, sleep } from './helpers/processes.js';

let p: DevPki;
let stack: Stack;
let work: string;
let ids: { root: string; subCa1: string; subCa2: string };
const stations = Array.from({ length: 4 }, (_, i) => ({ id: `evse-rot-${i}`, seccId: `DE*ABC*E${i}00` }));

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; json: any }> {
  const r = await runPki([...args, '--data-dir', p.dataDir, '--json'], env);
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { ...r, json };
}

/** An SECC's CSR (CN = its SECC-ID, O, DC=CPO; P-256), made in-process: the loop signs many. */
const seccCsr = (seccId: string): string => buildCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { cn: seccId, o: 'Demo CPO', dc: 'CPO' });

interface Signed {
  readonly phase: string;
  readonly status: number;
  readonly chain?: string;
  readonly problem?: unknown;
}

/** Signs SECC certificates in a loop (4 in flight) until stopped, each labelled with the phase it started in. */
function signContinuously() {
  const results: Signed[] = [];
  let phase = 'before';
  let stopped = false;
  let n = 0;
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const s = stations[n++ % stations.length]!;
      const started = phase;
      const r = await api(stack, 'POST', `/v1/stations/${s.id}/certificates`, { csr: seccCsr(s.seccId), certificateType: 'V2GCertificate' });
      results.push({ phase: started, status: r.status, ...(r.status === 201 ? { chain: r.body.certificateChain as string } : { problem: r.body }) });
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  return {
    results,
    /** Labels the requests started from now on `next`, and waits until 8 more were answered (every phase sees some). */
    async enter(next: string): Promise<void> {
      phase = next;
      const count = results.length;
      while (results.length < count + 8) await sleep(20);
    },
    async stop(): Promise<void> {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

const file = (name: string, text: string): string => {
  writeFileSync(join(work, name), text);
  return join(work, name);
};
const pemOf = (der: Buffer): string => new X509Certificate(der).toString();

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'evpki-v2g-rotation-'));
  p = await makeDevPki();
  const init = await cli(['v2g', 'init']);
  assert.equal(init.code, 0, init.stderr);
  ids = init.json;
  const demo = await cli(['tenants', 'add', '--id', 'demo', '--update', '--operator-id', 'DE*ABC']);
  assert.equal(demo.code, 0, demo.stderr);
  stack = await startStack(p, { raEnv: { RA_RATE_STATION_CSRS_PER_DAY: '0', RA_RATE_TENANT_CSRS_PER_MINUTE: '0' } });
  for (const [i, s] of stations.entries()) {
    const put = await api(stack, 'PUT', `/v1/stations/${s.id}`, { serialNumber: `EVSE-ROT-${i}`, allowed: true, seccIds: [s.seccId] });
    assert.equal(put.status, 201, JSON.stringify(put.body));
  }
});
after(async () => {
  await stack?.stop();
  p?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('pki rotate-* --hierarchy v2g', () => {
  test('rotating the V2G root is refused (exit 2), naming what is supported; a curve other than P-256 is refused (V2G.curve)', async () => {
    const root = await cli(['rotate-root', 'prepare', '--hierarchy', 'v2g']);
    assert.equal(root.code, 2, root.stderr);
    assert.match(root.stderr, /rotating its root is not supported.*pki rotate-issuer prepare --hierarchy v2g/);
    const p384 = await cli(['rotate-issuer', 'prepare', '--hierarchy', 'v2g', '--algorithm', 'ecdsa-p384']);
    assert.equal(p384.code, 2, p384.stderr);
    assert.match(p384.stderr, /V2G\.curve/);
    assert.equal(await stack.store.getRotation('v2g'), undefined, 'nothing written');
  });

  test('CPO Sub-CA 2 rotation while signing: zero failures; new leaves chain to the new Sub-CA 2, old ones answered by OCSP after retire', async () => {
    const rootPem = pemOf((await stack.store.getIssuer(ids.root))!.certificate);
    const sub1Pem = pemOf((await stack.store.getIssuer(ids.subCa1))!.certificate);
    const manifestBefore = p.manifest.issuers;
    const caHolds = async (id: string): Promise<boolean> => (await requestJson(`${stack.caOpsUrl}/readyz`, 'GET')).body.issuerKeys?.[id] === true;
    const signing = signContinuously();
    let rot: RotationRecord;
    try {
      await signing.enter('before');
      const prepared = await cli(['rotate-issuer', 'prepare', '--hierarchy', 'v2g']);
      assert.equal(prepared.code, 0, prepared.stderr);
      rot = prepared.json.rotation;
      assert.deepEqual(rot.old, { rootId: ids.root, issuerId: ids.subCa2 });
      assert.equal(rot.new.rootId, ids.root);
      assert.equal(prepared.json.next, 'pki rotate-issuer publish --hierarchy v2g');
      const record = (await stack.store.getIssuer(rot.new.issuerId))!;
      assert.deepEqual([record.hierarchy, record.role, record.parentId, record.state], ['v2g', 'sub-ca-2', ids.subCa1, 'prepared']);
      assert.ok(record.certificate.length <= 800, `V2G.size: ${record.certificate.length} bytes`);
      const text = openssl(['x509', '-inform', 'DER', '-noout', '-text'], record.certificate).stdout;
      assert.match(text, /NIST CURVE: P-256/);
      assert.match(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
      assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
      assert.match(text, /Subject: CN = Demo CPO Sub-CA 2 G2, O = Demo CPO, DC = V2G\n/);
      const v = openssl(['verify', '-x509_strict', '-CAfile', file('root.pem', rootPem), '-untrusted', file('sub1.pem', sub1Pem), file('new-sub2.pem', pemOf(record.certificate))]);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      await signing.enter('prepared');

      const published = await cli(['rotate-issuer', 'publish', '--hierarchy', 'v2g']);
      assert.equal(published.code, 0, published.stderr);
      await stack.ocsp.refreshSigners();
      await signing.enter('published');

      for (let i = 0; i < 100 && !(await caHolds(rot.new.issuerId)); i++) await sleep(100);
      const activated = await cli(['rotate-issuer', 'activate', '--hierarchy', 'v2g'], { PKI_CA_URL: stack.caOpsUrl });
      assert.equal(activated.code, 0, activated.stderr);
      await signing.enter('activated');

      const retired = await cli(['rotate-issuer', 'retire', '--hierarchy', 'v2g']);
      assert.equal(retired.code, 0, retired.stderr);
      assert.equal(retired.json.next, undefined);
      await signing.enter('retired');
    } finally {
      await signing.stop();
    }

    const failed = signing.results.filter((r) => r.status !== 201);
    assert.deepEqual(failed, [], 'zero failed requests');
    const states = new Map((await stack.store.listIssuers('v2g')).map((i) => [i.id, i.state]));
    assert.deepEqual([ids.root, ids.subCa1, ids.subCa2, rot.new.issuerId].map((id) => states.get(id)), ['active', 'active', 'retiring', 'active']);
    assert.deepEqual(readManifest(p.dataDir).issuers, manifestBefore, 'pki.json (csms) unchanged');

    const sub2Der = { old: (await stack.store.getIssuer(ids.subCa2))!.certificate, new: (await stack.store.getIssuer(rot.new.issuerId))!.certificate };
    const sub2Of = (chain: string): Buffer => pemBlocks(chain, 'CERTIFICATE')[1]!;
    // Started before the activate command returned ('published'): either Sub-CA 2.
    for (const phase of ['before', 'prepared']) for (const r of signing.results.filter((x) => x.phase === phase)) assert.deepEqual(sub2Of(r.chain!), sub2Der.old, `signed ${phase}: old Sub-CA 2`);
    for (const phase of ['activated', 'retired']) for (const r of signing.results.filter((x) => x.phase === phase)) assert.deepEqual(sub2Of(r.chain!), sub2Der.new, `signed ${phase}: new Sub-CA 2`);

    // The newest leaf: leaf, new Sub-CA 2, Sub-CA 1, verifying -x509_strict against the V2G root.
    const [leaf, sub2, sub1] = pemBlocks(signing.results.filter((x) => x.phase === 'retired').at(-1)!.chain!, 'CERTIFICATE').map(pemOf);
    assert.equal(sub1, sub1Pem, 'the same Sub-CA 1');
    const v = openssl(['verify', '-x509_strict', '-CAfile', file('root.pem', rootPem), '-untrusted', file('new-subs.pem', sub2! + sub1), file('new-leaf.pem', leaf!)]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.equal(parseCertificate(new X509Certificate(leaf!).raw).issuer.der.equals(parseCertificate(sub2Der.new).subject.der), true);

    // An old leaf after retire: its chain still verifies and OCSP answers good.
    const [oldLeaf, oldSub2] = pemBlocks(signing.results.find((x) => x.phase === 'before')!.chain!, 'CERTIFICATE').map(pemOf);
    const ocsp = await opensslAsync([
      'ocsp', '-issuer', file('old-sub2.pem', oldSub2!), '-cert', file('old-leaf.pem', oldLeaf!), '-url', `${stack.ocspUrl}/ocsp`,
      '-CAfile', file('root.pem', rootPem), '-verify_other', file('old-subs.pem', oldSub2! + sub1Pem), '-no_nonce',
    ]);
    assert.match(ocsp.stdout, /: good/, ocsp.stdout + ocsp.stderr);
    assert.match(ocsp.stderr, /Response verify OK/);
  });
});
