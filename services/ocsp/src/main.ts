import { createLogger, readManifestFor, readServiceTls, runService } from '@evpki/service';
import { loadOcspConfig } from './config.js';
import { createOcspService } from './service.js';

runService('ocsp', () => {
  const config = loadOcspConfig(process.env);
  // Refuses to start without a PKI, or on a store other than the one it was made in (Manifest.store).
  readManifestFor(config.dataDir, config.store, (note) => createLogger('ocsp').warn({ event: 'manifest.store' }, note));
  return createOcspService(config, { caTls: readServiceTls(config.dataDir, 'ocsp-client') });
});
