/**
 * The bench PKI: `pki init --dev`, the CA, the bench stations and CERTS certificates issued by the
 * CA, our responder (ready once every certificate has its pre-signed responses), and a delegated
 * signer for `openssl ocsp`; the CA is stopped after that.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readManifest, readServiceTls } from '@evpki/service';
import { openStore } from '@evpki/store';
import { parseCertificate, toPem, type ParsedCertificate } from '@evpki/x509';
import { STATIONS, TENANT, experimentArgs, f2, freePort, initDevPki, log, makeCsrs, sleep, spawnService, stopProc, waitReady, type Proc } from '../bench-kit.js';
import { issueAll, obtainSigner, type Issued } from './certificates.js';
import type { Files } from './checks.js';
import { CERTS, WORKERS } from './config.js';
import type { OcspRun } from './run.js';

export interface Setup {
  readonly ocspUrl: string;
  /** Our responder. */
  readonly ocspProc: Proc;
  readonly issuerCert: ParsedCertificate;
  readonly issued: readonly Issued[];
  /** The root and the issuing CA as PEM files (for openssl). */
  readonly files: Files;
  /** The delegated OCSP signer for `openssl ocsp`. */
  readonly signer: { certPem: string; keyPem: string };
}

export async function setUp(run: OcspRun): Promise<Setup> {
  const { dataDir, work, procs, profiles } = run;
  // --- dev PKI and CA
  const ocspPort = await freePort();
  const caPort = await freePort();
  const caOpsPort = await freePort();
  const ocspUrl = `http://127.0.0.1:${ocspPort}`;
  // The CA's API is mutual TLS with the service certificates; readiness on its ops port.
  const caUrl = `https://127.0.0.1:${caPort}`;
  log(`dev PKI in ${dataDir}`);
  initDevPki(dataDir, ['--ocsp-url', ocspUrl]);
  const manifest = readManifest(dataDir);
  const ca = spawnService('CA', 'ca', { PKI_DATA_DIR: dataDir, CA_PORT: String(caPort), CA_OPS_PORT: String(caOpsPort) });
  procs.push(ca);
  await waitReady(ca, `http://127.0.0.1:${caOpsPort}/readyz`, 20_000);

  // --- stations and certificates
  const store = openStore({ dataDir });
  let issuerCert: ParsedCertificate;
  let issued: Issued[];
  const files: Files = { root: join(work, 'root.pem'), sub: join(work, 'sub.pem') };
  try {
    const subRec = await store.getIssuer(manifest.issuers.chargePoint);
    const rootRec = await store.getIssuer(manifest.issuers.root);
    if (!subRec || !rootRec) throw new Error('issuers missing from the dev PKI store');
    issuerCert = parseCertificate(Buffer.from(subRec.certificate));
    writeFileSync(files.root, toPem('CERTIFICATE', Buffer.from(rootRec.certificate)));
    writeFileSync(files.sub, toPem('CERTIFICATE', Buffer.from(subRec.certificate)));
    for (let i = 0; i < STATIONS; i++) {
      const now = new Date().toISOString();
      await store.putStation({ tenant: TENANT, stationId: `bench-${i}`, serialNumber: `BENCH-${i}`, allowed: true, createdAt: now, updatedAt: now });
    }
    let t = performance.now();
    const csrs = await makeCsrs(CERTS, { perWorker: 250 });
    log(`${CERTS} CSRs in ${f2((performance.now() - t) / 1000)} s`);
    t = performance.now();
    issued = await issueAll(caUrl, readServiceTls(dataDir, 'ra-client'), csrs);
    log(`${issued.length} certificates issued by the CA in ${f2((performance.now() - t) / 1000)} s`);

    // --- our responder; wait until every certificate has its pre-signed responses
    const ocsp = spawnService('OCSP responder', 'ocsp', { PKI_DATA_DIR: dataDir, OCSP_PORT: String(ocspPort), OCSP_CA_URL: caUrl, OCSP_WORKERS: String(WORKERS) }, experimentArgs('ocsp', profiles));
    procs.push(ocsp);
    t = performance.now();
    await waitReady(ocsp, `${ocspUrl}/readyz`, 20_000);
    for (let pending = issued.length; pending > 0; ) {
      pending = 0;
      for (const c of issued) {
        const [a, b] = await Promise.all([store.getOcspResponse(subRec.id, c.serialHex, 'sha256'), store.getOcspResponse(subRec.id, c.serialHex, 'sha1')]);
        if (!a || !b) pending++;
        else run.presignedBytes = a.der.length;
      }
      if (pending && performance.now() - t > 120_000) throw new Error(`${pending} certificates still without pre-signed responses after 120 s:\n${ocsp.output()}`);
      if (pending) await sleep(200);
    }
    run.presignSeconds = (performance.now() - t) / 1000;
    log(`responder pid ${ocsp.child.pid} ready, all ${issued.length} certificates pre-signed (SHA-256 and SHA-1 CertIDs) ${f2(run.presignSeconds)} s after start`);
  } finally {
    await store.close();
  }
  const ocspProc = procs.at(-1)!;

  // --- the signer for openssl ocsp, then the CA is no longer needed
  const signer = await obtainSigner(caUrl, readServiceTls(dataDir, 'ocsp-client'), manifest.issuers.chargePoint);
  await stopProc(ca, 5000);
  return { ocspUrl, ocspProc, issuerCert, issued, files, signer };
}
