/**
 * The bench's own redis-server, `pki init --dev` into it, the CA and the measured OCSP responder
 * as processes on that store; the stations and the template certificate whose record every
 * synthetic one copies.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { initPki } from '@evpki/cli';
import { issuerHashes } from '@evpki/ocsp';
import { RedisStore, type CertificateRecord } from '@evpki/store';
import { parseCertificate, pemBlocks, toPem } from '@evpki/x509';
import { buildCsr } from '../../helpers/csr.js';
import { caRequest } from '../../helpers/service-tls.js';
import { CERT_TYPE, CPO, TENANT, experimentArgs, freePort, log, spawnService, waitReady, type Proc } from '../bench-kit.js';
import type { Issuer } from './answers.js';
import { STATION_SPREAD, TOTAL } from './config.js';
import { waitPresigned } from './loading.js';
import { Population, stationOf } from './population.js';
import { info, startRedis, waitAofIdle } from './redis.js';
import type { ScaleRun } from './run.js';

/** What the phases measure with. */
export interface ScaleBench {
  readonly raw: Redis;
  readonly redisUrl: string;
  readonly store: RedisStore;
  /** A second connection: the Redis round trip measured alone. */
  readonly probe: Redis;
  readonly ocspUrl: string;
  readonly ocspPort: number;
  /** The measured responder. */
  readonly ocsp: Proc;
  readonly pids: { readonly responder: number; readonly redis: number };
  readonly issuer: Issuer;
  /** The root and the issuing CA as PEM files (for openssl). */
  readonly files: { readonly root: string; readonly sub: string };
  readonly template: CertificateRecord;
  /** Redis used_memory before the first record. */
  readonly baseline: number;
  readonly pop: Population;
  /** The loaded serials, for wrk's script. */
  readonly serialsFile: string;
  /** Extra responder instances that only help pre-signing the big phase (claims keep them apart), stopped before measuring. */
  readonly startHelpers: (n: number) => Promise<Proc[]>;
}

export async function setUp(run: ScaleRun): Promise<ScaleBench> {
  const { dataDir, work, redisDir, procs, profiles, conns } = run;
  // --- Redis, dev PKI in it, CA, responder
  const redis = await startRedis(redisDir);
  procs.push(redis.proc);
  const redisPid = redis.proc.child.pid!;
  const raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  conns.raw = raw;
  raw.on('error', () => undefined);
  log(`redis-server ${(await info(raw, 'server')).redis_version} on ${redis.url} (pid ${redisPid}), appendonly yes, appendfsync everysec, in ${redisDir}`);

  const caPort = await freePort();
  const caOpsPort = await freePort();
  const ocspPort = await freePort();
  // The CA's API is mutual TLS with the service certificates; readiness on its ops port.
  const caUrl = `https://127.0.0.1:${caPort}`;
  const ocspUrl = `http://127.0.0.1:${ocspPort}`;
  const storeEnv = { REDIS_URL: redis.url };
  const manifest = await initPki({ dataDir, dev: true, force: false, algorithm: 'ecdsa-p256', organization: CPO, publicOcspBase: ocspUrl, env: storeEnv });
  const ca = spawnService('CA', 'ca', { PKI_DATA_DIR: dataDir, CA_PORT: String(caPort), CA_OPS_PORT: String(caOpsPort), ...storeEnv });
  procs.push(ca);
  await waitReady(ca, `http://127.0.0.1:${caOpsPort}/readyz`, 20_000);

  const store = new RedisStore({ url: redis.url, commandTimeoutMs: 10_000, waitReplicas: 0, waitTimeoutMs: 1000 });
  conns.store = store;
  const subRec = await store.getIssuer(manifest.issuers.chargePoint);
  const rootRec = await store.getIssuer(manifest.issuers.root);
  if (!subRec || !rootRec) throw new Error('issuers missing from the dev PKI store');
  const files = { root: join(work, 'root.pem'), sub: join(work, 'sub.pem') };
  writeFileSync(files.root, toPem('CERTIFICATE', Buffer.from(rootRec.certificate)));
  writeFileSync(files.sub, toPem('CERTIFICATE', Buffer.from(subRec.certificate)));
  const h = issuerHashes(parseCertificate(Buffer.from(subRec.certificate))).sha256;
  const issuer: Issuer = { id: subRec.id, name: h.name, key: h.key };

  // --- the stations (registered, as the CA requires), and the template: one real certificate
  // from the CA, whose record is copied for every synthetic one
  const registered = new Date().toISOString();
  for (let i = 0; i < STATION_SPREAD; i += 500)
    await Promise.all(
      Array.from({ length: Math.min(500, STATION_SPREAD - i) }, (_, j) =>
        store.putStation({ tenant: TENANT, stationId: stationOf(i + j), serialNumber: `SCALE-${i + j}`, allowed: true, createdAt: registered, updatedAt: registered }),
      ),
    );
  await store.putStation({ tenant: TENANT, stationId: 'scale-template', serialNumber: 'SCALE-TEMPLATE', allowed: true, createdAt: registered, updatedAt: registered });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signRes = await caRequest(dataDir, caUrl, 'ra-client', 'POST', '/v1/sign', {
    tenant: TENANT,
    stationId: 'scale-template',
    csr: buildCsr(privateKey, { o: CPO, cn: 'SCALE-TEMPLATE' }),
    certificateType: CERT_TYPE,
    actor: 'bench',
  });
  if (signRes.status !== 201) throw new Error(`CA /v1/sign answered ${signRes.status}: ${signRes.text.slice(0, 400)}`);
  const templateDer = pemBlocks((signRes.body as { certificateChain: string }).certificateChain, 'CERTIFICATE')[0]!;
  const template = await store.getCertificate(parseCertificate(templateDer).serialHex);
  if (!template) throw new Error('the template certificate is not in the store');
  run.templateBytes = template.der.length;

  const ocsp = spawnService('OCSP responder', 'ocsp', { PKI_DATA_DIR: dataDir, OCSP_PORT: String(ocspPort), OCSP_CA_URL: caUrl, ...storeEnv }, experimentArgs('ocsp', profiles));
  procs.push(ocsp);
  await waitReady(ocsp, `${ocspUrl}/readyz`, 20_000);
  const pids = { responder: ocsp.child.pid!, redis: redisPid };
  /** Extra responder instances that only help pre-signing the big phase (claims keep them apart), stopped before measuring. */
  const startHelpers = async (n: number): Promise<Proc[]> => {
    const started: Proc[] = [];
    for (let i = 0; i < n; i++) {
      const port = await freePort();
      const hp = spawnService(`OCSP pre-signing helper ${i + 1}`, 'ocsp', { PKI_DATA_DIR: dataDir, OCSP_PORT: String(port), OCSP_CA_URL: caUrl, ...storeEnv });
      procs.push(hp);
      await waitReady(hp, `http://127.0.0.1:${port}/readyz`, 20_000);
      started.push(hp);
    }
    if (n) log(`${n} more responder instance(s) started to share the pre-signing (stopped before measuring)`);
    return started;
  };
  await waitPresigned(raw, 1, 'pre-signing the template', ocsp);
  run.presignedBytes = (await store.getOcspResponse(issuer.id, template.serial, 'sha256'))?.der.length ?? NaN;
  log(`CA and OCSP responder (pid ${pids.responder}) ready; template certificate ${run.templateBytes} B DER, pre-signed response ${run.presignedBytes} B`);

  await waitAofIdle(raw);
  const baseline = Number((await info(raw, 'memory')).used_memory);
  const pop = new Population(TOTAL);
  const probe = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  conns.probe = probe;
  probe.on('error', () => undefined);
  const serialsFile = join(work, 'serials.bin');
  return { raw, redisUrl: redis.url, store, probe, ocspUrl, ocspPort, ocsp, pids, issuer, files, template, baseline, pop, serialsFile, startHelpers };
}
