import { loadPassphrase, readPrivateKey } from '@evpki/keys';
import { dataPaths, readManifest, readServiceTls } from '@evpki/service';
import { loadCaConfig } from './config.js';
import { createCaService } from './service.js';

// Every file and directory this process creates is owner-only (the data directory is private).
process.umask(0o077);

const config = loadCaConfig(process.env);
const manifest = readManifest(config.dataDir);
const paths = dataPaths(config.dataDir);
// The CA holds only issuing CA keys: the root's passphrase need not be given to it.
const passphrase = loadPassphrase(process.env, 'issuing', manifest.dev ? paths.devPassphrase : undefined);
const service = createCaService(
  config,
  { publicOcspBase: manifest.publicOcspBase },
  { loadIssuerKey: (issuerId) => readPrivateKey(paths.issuerKey(issuerId), passphrase), tls: readServiceTls(config.dataDir, 'ca-server') },
);
await service.start();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void service.stop().then(() => process.exit(0)));
