import { loadPassphrase, readPrivateKey, readSecretFile } from '@evpki/keys';
import { dataPaths, readManifest } from '@evpki/service';
import { loadCaConfig } from './config.js';
import { createCaService } from './service.js';

const config = loadCaConfig(process.env);
const manifest = readManifest(config.dataDir);
const paths = dataPaths(config.dataDir);
const passphrase = loadPassphrase(process.env, manifest.dev ? paths.devPassphrase : undefined);
const service = createCaService(
  config,
  { publicOcspBase: manifest.publicOcspBase },
  { loadIssuerKey: (issuerId) => readPrivateKey(paths.issuerKey(issuerId), passphrase), clientToken: readSecretFile(paths.caClientToken), ocspClientToken: readSecretFile(paths.ocspClientToken) },
);
await service.start();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void service.stop().then(() => process.exit(0)));
