import { dataPaths, createLogger, readManifestFor, readServiceTls, runService } from '@evpki/service';
import { loadCaConfig } from './config.js';
import { issuerSignerLoader } from './issuer-keys.js';
import { createCaService } from './service.js';

runService('ca', () => {
  const config = loadCaConfig(process.env);
  const manifest = readManifestFor(config.dataDir, config.store, (note) => createLogger('ca').warn({ event: 'manifest.store' }, note));
  // The CA holds only issuing CA keys (files or PKCS#11 token keys): it never needs the root's passphrase.
  const devPassphrase = manifest.dev ? dataPaths(config.dataDir).devPassphrase : undefined;
  return createCaService(
    config,
    { publicOcspBase: manifest.publicOcspBase },
    { loadIssuerSigner: issuerSignerLoader(config.dataDir, process.env, devPassphrase), tls: readServiceTls(config.dataDir, 'ca-server') },
  );
});
