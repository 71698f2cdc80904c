import { fileSigner, loadPassphrase, readPrivateKey } from '@evpki/keys';
import { dataPaths, readManifest, readServiceTls, runService } from '@evpki/service';
import { loadCaConfig } from './config.js';
import { createCaService } from './service.js';

runService('ca', () => {
  const config = loadCaConfig(process.env);
  const manifest = readManifest(config.dataDir);
  const paths = dataPaths(config.dataDir);
  // The CA holds only issuing CA keys: the root's passphrase need not be given to it.
  const passphrase = loadPassphrase(process.env, 'issuing', manifest.dev ? paths.devPassphrase : undefined);
  return createCaService(
    config,
    { publicOcspBase: manifest.publicOcspBase },
    { loadIssuerSigner: async (issuerId) => fileSigner(readPrivateKey(paths.issuerKey(issuerId), passphrase)), tls: readServiceTls(config.dataDir, 'ca-server') },
  );
});
