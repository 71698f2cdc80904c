import { loadPassphrase, readPrivateKey } from '@evpki/keys';
import { dataPaths, readManifest, readServiceTls, runService } from '@evpki/service';
import { loadCaConfig } from './config.js';
import { createCaService } from './service.js';

runService('ca', () => {
  const config = loadCaConfig(process.env);
  const manifest = readManifest(config.dataDir);
  const paths = dataPaths(config.dataDir);
  const passphrase = loadPassphrase(process.env, manifest.dev ? paths.devPassphrase : undefined);
  return createCaService(
    config,
    { publicOcspBase: manifest.publicOcspBase },
    { loadIssuerKey: (issuerId) => readPrivateKey(paths.issuerKey(issuerId), passphrase), tls: readServiceTls(config.dataDir, 'ca-server') },
  );
});
