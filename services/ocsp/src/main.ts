import { readManifest, readServiceTls } from '@evpki/service';
import { loadOcspConfig } from './config.js';
import { createOcspService } from './service.js';

// Every file and directory this process creates is owner-only (the data directory is private).
process.umask(0o077);

const config = loadOcspConfig(process.env);
readManifest(config.dataDir); // refuse to start without a PKI
const service = createOcspService(config, { caTls: readServiceTls(config.dataDir, 'ocsp-client') });
await service.start();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void service.stop().then(() => process.exit(0)));
