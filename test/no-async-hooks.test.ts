/**
 * Issue 17: no service runs an AsyncLocalStorage or enables an async hook (docs/architecture.md
 * "Hot paths": on Node 20 either turns on promise hooks for the whole process, about 4 % of the issuance
 * path's CPU; request ids are handed down instead, request-id.test.ts). The CA, the responder and
 * the RA as processes, each with a probe (helpers/als-probe.ts), through an issuance (RA → CA), the
 * responder's delegated-signer request to the CA, and OCSP GET and POST. A plain node process that
 * runs one shows the probe works.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { mintToken } from '@evpki/cli';
import { buildOcspRequest } from '@evpki/ocsp';
import { openStore } from '@evpki/store';
import { parseCertificate } from '@evpki/x509';
import { buildCsr } from './helpers/csr.js';
import { certIdFor, parseOcspResponse, postOcsp } from './helpers/ocsp-client.js';
import { makeDevPki, requestJson, type DevPki } from './helpers/pki.js';
import { ROOT, freePort, spawnService, stopAll, waitReady, type Proc } from './helpers/processes.js';

const PROBE = ['--import', join(ROOT, 'test/dist/helpers/als-probe.js')];

describe('no service runs an AsyncLocalStorage or an async hook (issue 17: hot paths)', () => {
  let pki: DevPki;
  const procs: Proc[] = [];
  let ca: Proc;
  let ocsp: Proc;
  let ra: Proc;
  let ocspUrl = '';
  let raUrl = '';
  before(async () => {
    pki = await makeDevPki();
    const [caPort, caOpsPort, ocspPort, raPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const caUrl = `https://127.0.0.1:${caPort}`;
    ca = spawnService('ca', 'ca', { PKI_DATA_DIR: pki.dataDir, CA_PORT: String(caPort), CA_OPS_PORT: String(caOpsPort) }, PROBE);
    procs.push(ca);
    await waitReady(ca, `http://127.0.0.1:${caOpsPort}/readyz`, 30_000);
    ocsp = spawnService('ocsp', 'ocsp', { PKI_DATA_DIR: pki.dataDir, OCSP_PORT: String(ocspPort), OCSP_CA_URL: caUrl }, PROBE);
    ra = spawnService('ra', 'ra', { PKI_DATA_DIR: pki.dataDir, RA_PORT: String(raPort), RA_CA_URL: caUrl }, PROBE);
    procs.push(ocsp, ra);
    ocspUrl = `http://127.0.0.1:${ocspPort}`;
    raUrl = `http://127.0.0.1:${raPort}`;
    // Ready: the responder holds a delegated signer, obtained from the CA.
    await Promise.all([waitReady(ocsp, `${ocspUrl}/readyz`, 30_000), waitReady(ra, `${raUrl}/readyz`, 30_000)]);
  });
  after(async () => {
    await stopAll(procs);
    pki.cleanup();
  });

  it('the probe reports an AsyncLocalStorage run and an enabled async hook in a plain node process', () => {
    const run = (code: string): string => spawnSync(process.execPath, [...PROBE, '-e', code], { encoding: 'utf8' }).stderr;
    assert.match(run("new (require('node:async_hooks').AsyncLocalStorage)().run(1, () => {})"), /ASYNC-HOOK AsyncLocalStorage\.run/);
    assert.match(run("require('node:async_hooks').createHook({ init() {} }).enable()"), /ASYNC-HOOK createHook\(\)\.enable/);
    assert.doesNotMatch(run('Promise.resolve(1).then(() => {})'), /ASYNC-HOOK/);
  });

  it('none in the CA, the responder or the RA: at start, issuing through the RA, answering OCSP GET and POST', async () => {
    const token = await mintToken({ dataDir: pki.dataDir, tenant: 'demo', ttlSeconds: 600 });
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await requestJson(`${raUrl}/v1/stations/cp-hooks`, 'PUT', { serialNumber: 'CP-HOOKS', allowed: true }, auth)).status, 201);
    const csr = buildCsr(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, { o: 'Demo CPO', cn: 'CP-HOOKS' });
    assert.equal((await requestJson(`${raUrl}/v1/stations/cp-hooks/certificates`, 'POST', { csr, certificateType: 'ChargingStationCertificate' }, auth)).status, 201);
    const store = openStore({ dataDir: pki.dataDir });
    const issuer = parseCertificate((await store.getIssuer(pki.manifest.issuers.chargePoint))!.certificate);
    await store.close();
    // A serial never issued: signed live, through the store reads and the signer.
    const body = buildOcspRequest([certIdFor(issuer, '7e57')]);
    assert.equal(parseOcspResponse((await postOcsp(ocspUrl, body)).der).status, 0);
    const get = await fetch(`${ocspUrl}/ocsp/${encodeURIComponent(body.toString('base64'))}`);
    assert.equal(parseOcspResponse(Buffer.from(await get.arrayBuffer())).status, 0);
    for (const p of [ca, ocsp, ra]) assert.doesNotMatch(p.output(), /ASYNC-HOOK/, `${p.name} ran an async hook`);
  });
});
