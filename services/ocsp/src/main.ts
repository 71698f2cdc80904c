import { readManifest, readServiceTls, runService } from '@evpki/service';
import { loadOcspConfig } from './config.js';
import { createOcspService } from './service.js';

runService('ocsp', () => {
  const config = loadOcspConfig(process.env);
  readManifest(config.dataDir); // refuse to start without a PKI
  return createOcspService(config, { caTls: readServiceTls(config.dataDir, 'ocsp-client') });
});
