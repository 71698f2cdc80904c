/** The bench PKI: `pki init --dev` in the run's directory, a token of the dev tenant, the charge point issuer and its key. */
import { execFileSync } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { readPrivateKey, readSecretFile } from '@evpki/keys';
import { dataPaths, readManifest } from '@evpki/service';
import { openStore } from '@evpki/store';
import { toPem } from '@evpki/x509';
import { PKI_CLI, TENANT, initDevPki, log, serviceEnv } from '../bench-kit.js';

export interface Issuer {
  readonly id: string;
  readonly der: Buffer;
  readonly chainPem: string;
  readonly key: KeyObject;
  readonly publicOcspBase: string;
}

export async function initBenchPki(dataDir: string): Promise<{ token: string; issuer: Issuer }> {
  log(`dev PKI in ${dataDir}`);
  initDevPki(dataDir);
  const token = execFileSync(process.execPath, [PKI_CLI, 'token', '--tenant', TENANT, '--data-dir', dataDir], { env: serviceEnv({}), encoding: 'utf8' }).trim();
  const manifest = readManifest(dataDir);
  const paths = dataPaths(dataDir);
  const issuerKey = readPrivateKey(paths.issuerKey(manifest.issuers.chargePoint), readSecretFile(paths.devPassphrase));
  const store = openStore({ dataDir });
  const rec = await store.getIssuer(manifest.issuers.chargePoint);
  await store.close();
  if (!rec) throw new Error('charge point issuer missing from the store');
  const der = Buffer.from(rec.certificate);
  return { token, issuer: { id: rec.id, der, chainPem: toPem('CERTIFICATE', der), key: issuerKey, publicOcspBase: manifest.publicOcspBase } };
}
