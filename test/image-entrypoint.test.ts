/**
 * The container image's entry point (scripts/image/entrypoint.mjs): the first argument chooses the RA, the
 * CA, the OCSP responder or the pki CLI, which then sees only its own arguments. The image itself is
 * tested by `make image-test` (scripts/image-test.sh: it needs root and buildah).
 */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_DIR } from './helpers/fixtures.js';

const ENTRYPOINT = join(TEST_DIR, '..', 'scripts', 'image', 'entrypoint.mjs');
const empty = mkdtempSync(join(tmpdir(), 'evpki-entrypoint-'));
after(() => rmSync(empty, { recursive: true, force: true }));

const run = (args: string[]) =>
  spawnSync(process.execPath, [ENTRYPOINT, ...args], { cwd: '/', encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '', PKI_DATA_DIR: empty } });

it('refuses to guess: no argument or an unknown one exits 2 naming the choices', () => {
  for (const args of [[], ['worker'], ['toString']]) {
    const r = run(args);
    assert.equal(r.status, 2, `${JSON.stringify(args)}: ${r.stderr}`);
    assert.match(r.stderr, /first argument chooses what runs: ra \| ca \| ocsp \| pki/);
  }
});

it('pki: the CLI gets the arguments after the choice', () => {
  const r = run(['pki', '--help']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: pki /m);
});

it('ra, ca, ocsp: each service starts from its own main (and says there is no PKI in an empty data dir)', () => {
  for (const svc of ['ra', 'ca', 'ocsp']) {
    const r = run([svc]);
    assert.equal(r.status, 1, `${svc}: ${r.stderr}${r.stdout}`);
    const fatal = JSON.parse((r.stdout + r.stderr).split('\n').find((l) => l.includes('service.fatal')) ?? '{}') as { name?: string; err?: { stack?: string } };
    assert.equal(fatal.name, svc, `the ${svc} service logged it`);
    assert.match(fatal.err?.stack ?? '', new RegExp(`services/${svc}/dist/main\\.js`), `${svc}: its own main ran`);
    assert.match(fatal.err?.stack ?? '', /no PKI at /);
  }
});
