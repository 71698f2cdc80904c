import { readManifest, readServiceTls } from '@evpki/service';
import { loadRaConfig } from './config.js';
import { createRaService } from './service.js';

// Every file and directory this process creates is owner-only (the data directory is private).
process.umask(0o077);

const config = loadRaConfig(process.env);
const manifest = readManifest(config.dataDir);
const service = createRaService(
  config,
  { jwtIssuer: manifest.jwt.issuer, jwtAudience: manifest.jwt.audience },
  { caTls: readServiceTls(config.dataDir, 'ra-client') },
);
await service.start();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void service.stop().then(() => process.exit(0)));
