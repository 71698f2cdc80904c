import { readManifest, readServiceTls, runService } from '@evpki/service';
import { loadRaConfig } from './config.js';
import { createRaService } from './service.js';

runService('ra', () => {
  const config = loadRaConfig(process.env);
  const manifest = readManifest(config.dataDir);
  return createRaService(config, { jwtIssuer: manifest.jwt.issuer, jwtAudience: manifest.jwt.audience }, { caTls: readServiceTls(config.dataDir, 'ra-client') });
});
