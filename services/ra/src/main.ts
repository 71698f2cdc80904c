import { createLogger, readManifestFor, readServiceTls, runService } from '@evpki/service';
import { loadRaConfig } from './config.js';
import { createRaService } from './service.js';

runService('ra', () => {
  const config = loadRaConfig(process.env);
  const manifest = readManifestFor(config.dataDir, config.store, (note) => createLogger('ra').warn({ event: 'manifest.store' }, note));
  return createRaService(config, { jwtIssuer: manifest.jwt.issuer, jwtAudience: manifest.jwt.audience }, { caTls: readServiceTls(config.dataDir, 'ra-client') });
});
