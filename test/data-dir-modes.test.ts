/**
 * The data directory is private (issue 14.9): after `pki init --dev` and a `make run`-like start of
 * the three services (real processes, the embedded store), nothing in it is readable, writable or
 * searchable by group or others.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { mintToken } from '@evpki/cli';
import { buildCsr } from './helpers/csr.js';
import { requestJson } from './helpers/pki.js';
import { PKI_CLI, cleanup, freePort, serviceEnv, spawnService, stopAll, tempDir, waitReady, type Proc } from './helpers/processes.js';

const procs: Proc[] = [];
after(async () => {
  await stopAll(procs);
  cleanup();
});

test('issue 14.9: after `pki init --dev` and a make-run-like start, `find data -perm /077` finds nothing', async () => {
  const data = join(tempDir('evpki-modes-'), 'data');
  // As a user would have it: made by hand, with the usual umask (0755).
  mkdirSync(data, { mode: 0o755 });
  const run = (args: string[]): string => execFileSync(process.execPath, [PKI_CLI, ...args, '--data-dir', data], { env: serviceEnv({}), encoding: 'utf8' });
  run(['init', '--dev']);

  const [caPort, caOpsPort, raPort, ocspPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env = { PKI_DATA_DIR: data, CA_PORT: String(caPort), CA_OPS_PORT: String(caOpsPort), RA_PORT: String(raPort), OCSP_PORT: String(ocspPort) };
  const ca = spawnService('ca', 'ca', env);
  procs.push(ca);
  await waitReady(ca, `http://127.0.0.1:${caOpsPort}/readyz`, 30_000);
  const ocsp = spawnService('ocsp', 'ocsp', { ...env, OCSP_CA_URL: `https://127.0.0.1:${caPort}` });
  const ra = spawnService('ra', 'ra', { ...env, RA_CA_URL: `https://127.0.0.1:${caPort}`, RA_OCSP_URL: `http://127.0.0.1:${ocspPort}` });
  procs.push(ocsp, ra);
  await waitReady(ocsp, `http://127.0.0.1:${ocspPort}/readyz`, 30_000);
  await waitReady(ra, `http://127.0.0.1:${raPort}/readyz`, 30_000);

  // Some work that writes: a station, a certificate, its audit entries, and the CLI's tenant and token.
  const token = await mintToken({ dataDir: data, tenant: 'demo', ttlSeconds: 600 });
  const auth = { authorization: `Bearer ${token}` };
  const base = `http://127.0.0.1:${raPort}`;
  assert.equal((await requestJson(`${base}/v1/stations/modes-1`, 'PUT', { serialNumber: 'MODES-1', allowed: true }, auth)).status, 201);
  const csr = buildCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { o: 'Demo CPO', cn: 'MODES-1' });
  const signed = await requestJson(`${base}/v1/stations/modes-1/certificates`, 'POST', { csr, certificateType: 'ChargingStationCertificate' }, auth);
  assert.equal(signed.status, 201, JSON.stringify(signed.body));
  run(['tenants', 'add', '--id', 'modes', '--cpo-name', 'Modes CPO', '--server-domain', 'modes.example']);
  await stopAll(procs.splice(0));

  const open = execFileSync('find', [data, '-perm', '/077'], { encoding: 'utf8' });
  assert.equal(open, '', `readable by group or others:\n${open}`);
});
