/**
 * `pki crl sign --root` (issue 18): the root's CRL signed again with the root key by the real CLI,
 * served by the running OCSP responder (GET /crl/<rootId>.crl) and checked with openssl (signature
 * under the root certificate, CRL Number, nextUpdate); safe to repeat (the number only grows);
 * --if-next-update-within leaves a current CRL alone and then needs no root key; a missing root key
 * or bad options are exit 2.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataPaths } from '@evpki/service';
import { toPem } from '@evpki/x509';
import { opensslAsync } from './helpers/openssl.js';
import { makeDevPki, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { runPki } from './helpers/processes.js';

let pki: DevPki;
let stack: Stack;
let work: string;
let rootId: string;
let rootPem: string;

const DAY = 86_400_000;

async function crlSign(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runPki(['--data-dir', pki.dataDir, 'crl', 'sign', ...args], pki.storeEnv, 60_000);
}

/** The root's CRL as the responder serves it, checked by openssl against the root certificate. */
async function servedCrl(): Promise<{ number: number; nextUpdate: Date; text: string }> {
  const res = await fetch(`${stack.ocspUrl}/crl/${rootId}.crl`);
  assert.equal(res.status, 200);
  const file = join(work, `crl-${Date.now()}.der`);
  writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  const r = await opensslAsync(['crl', '-inform', 'DER', '-in', file, '-CAfile', join(work, 'root.pem'), '-noout', '-text', '-nextupdate']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /verify OK/);
  const number = Number(/X509v3 CRL Number:\s*\n\s*(\d+)/.exec(r.stdout)?.[1]);
  const nextUpdate = new Date(/nextUpdate=(.+)/.exec(r.stdout)![1]!);
  return { number, nextUpdate, text: r.stdout };
}

before(async () => {
  pki = await makeDevPki();
  stack = await startStack(pki);
  work = mkdtempSync(join(tmpdir(), 'evpki-root-crl-'));
  rootId = pki.manifest.issuers.root;
  const root = (await stack.store.listIssuers()).find((i) => i.id === rootId)!;
  rootPem = toPem('CERTIFICATE', root.certificate);
  writeFileSync(join(work, 'root.pem'), rootPem);
});
after(async () => {
  await stack?.stop();
  pki?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('pki crl sign --root', () => {
  it("re-signs the root's CRL with the root key; the responder serves it; openssl verifies it; the CRL Number grows on every run", async () => {
    const first = await servedCrl();
    assert.equal(first.number, 1, 'pki init signed CRL 1');
    const r = await crlSign(['--root', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout).roots as { issuerId: string; outcome: string; number: number; nextUpdate: string }[];
    assert.deepEqual(out.map((o) => [o.issuerId, o.outcome, o.number]), [[rootId, 'signed', 2]]);
    const second = await servedCrl();
    assert.equal(second.number, 2);
    assert.ok(Math.abs(second.nextUpdate.getTime() - (Date.now() + 365 * DAY)) < DAY, `nextUpdate a year ahead: ${second.nextUpdate.toISOString()}`);
    assert.match(second.text, /No Revoked Certificates/);
    // Again: safe, and a higher number (never reused).
    const again = await crlSign(['--root', '--days', '30']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`${rootId}: CRL 3 signed \\(0 revoked\\), next update `));
    const third = await servedCrl();
    assert.equal(third.number, 3);
    assert.ok(Math.abs(third.nextUpdate.getTime() - (Date.now() + 30 * DAY)) < DAY, '--days 30');
  });

  it('--if-next-update-within: a CRL that is current is left alone, without the root key; one that is due is signed', async () => {
    const key = dataPaths(pki.dataDir).issuerKey(rootId);
    renameSync(key, `${key}.offline`);
    try {
      // The CRL of the last test reaches 30 days: not within 7 days.
      const current = await crlSign(['--root', '--if-next-update-within', '7d', '--json']);
      assert.equal(current.code, 0, current.stderr);
      assert.deepEqual(JSON.parse(current.stdout).roots.map((o: { outcome: string; number: number }) => [o.outcome, o.number]), [['current', 3]]);
      // Due within 60 days, but the root key is off the volume: exit 2, saying where it must be.
      const due = await crlSign(['--root', '--if-next-update-within', '60d']);
      assert.equal(due.code, 2);
      assert.match(due.stderr, new RegExp(`the key of the root ${rootId} is not in .*/keys`));
      assert.equal((await servedCrl()).number, 3, 'nothing stored');
    } finally {
      renameSync(`${key}.offline`, key);
    }
    const signed = await crlSign(['--root', '--if-next-update-within', '60d', '--json']);
    assert.equal(signed.code, 0, signed.stderr);
    assert.equal(JSON.parse(signed.stdout).roots[0].outcome, 'signed');
    assert.equal((await servedCrl()).number, 4);
  });

  it('a wrong passphrase is exit 2 and stores nothing', async () => {
    const before = (await servedCrl()).number;
    const wrong = join(work, 'wrong-passphrase');
    writeFileSync(wrong, 'not the passphrase of the root key\n');
    const r = await runPki(['--data-dir', pki.dataDir, 'crl', 'sign', '--root'], { ...pki.storeEnv, PKI_ROOT_KEY_PASSPHRASE_FILE: wrong }, 60_000);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`the root key ${rootId}`));
    assert.equal((await servedCrl()).number, before);
  });

  it('bad options are exit 2', async () => {
    for (const [args, message] of [
      [[], /give --root/],
      [['--root', '--days', '0'], /--days must be a whole number of days, 1 to 3650/],
      [['--root', '--days', 'a year'], /--days must be/],
      [['--root', '--if-next-update-within', '60'], /--if-next-update-within "60" is not a duration like 60d/],
      [['--root', '--issuer', 'cp-000000000000'], /--issuer cp-000000000000 is not a root of this PKI/],
    ] as const) {
      const r = await crlSign([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});
