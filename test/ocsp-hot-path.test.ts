/**
 * Issue 17: what the responder's request path must not carry. No AsyncLocalStorage is ever run in
 * the responder's process (request-id.ts: once run, its async hook stays enabled and runs for every
 * async resource of every request, ~1 µs of CPU per OCSP answer): its delegated-signer request to
 * the CA passes its request id explicitly (the id itself: request-id.test.ts). A real CA and
 * responder as processes, each with a probe (helpers/als-probe.ts); the CA, which serves its
 * requests under withRequestId, shows the probe works.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildOcspRequest } from '@evpki/ocsp';
import { openStore } from '@evpki/store';
import { parseCertificate } from '@evpki/x509';
import { certIdFor, parseOcspResponse, postOcsp } from './helpers/ocsp-client.js';
import { makeDevPki, type DevPki } from './helpers/pki.js';
import { ROOT, freePort, spawnService, stopAll, waitReady, type Proc } from './helpers/processes.js';

const PROBE = ['--import', join(ROOT, 'test/dist/helpers/als-probe.js')];

describe('the responder runs no AsyncLocalStorage (issue 17: hot path)', () => {
  let pki: DevPki;
  const procs: Proc[] = [];
  let ca: Proc;
  let ocsp: Proc;
  let url = '';
  before(async () => {
    pki = await makeDevPki();
    const [caPort, caOpsPort, port] = [await freePort(), await freePort(), await freePort()];
    ca = spawnService('ca', 'ca', { PKI_DATA_DIR: pki.dataDir, CA_PORT: String(caPort), CA_OPS_PORT: String(caOpsPort) }, PROBE);
    procs.push(ca);
    await waitReady(ca, `http://127.0.0.1:${caOpsPort}/readyz`, 30_000);
    ocsp = spawnService('ocsp', 'ocsp', { PKI_DATA_DIR: pki.dataDir, OCSP_PORT: String(port), OCSP_CA_URL: `https://127.0.0.1:${caPort}` }, PROBE);
    procs.push(ocsp);
    url = `http://127.0.0.1:${port}`;
    // Ready: it holds a delegated signer, obtained from the CA.
    await waitReady(ocsp, `${url}/readyz`, 30_000);
  });
  after(async () => {
    await stopAll(procs);
    pki.cleanup();
  });

  it('neither at start (its signer obtained from the CA) nor answering GET and POST; the CA, serving that request, did', async () => {
    const store = openStore({ dataDir: pki.dataDir });
    const issuer = parseCertificate((await store.getIssuer(pki.manifest.issuers.chargePoint))!.certificate);
    await store.close();
    // A serial never issued: signed live, through the store reads and the signer.
    const body = buildOcspRequest([certIdFor(issuer, '7e57')]);
    const post = await postOcsp(url, body);
    assert.equal(parseOcspResponse(post.der).status, 0);
    const get = await fetch(`${url}/ocsp/${encodeURIComponent(body.toString('base64'))}`);
    assert.equal(parseOcspResponse(Buffer.from(await get.arrayBuffer())).status, 0);
    assert.match(ca.output(), /ALS-RUN run/, 'the probe sees the CA serve under withRequestId');
    assert.doesNotMatch(ocsp.output(), /ALS-RUN/);
  });
});
