import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import { readSecretFile } from '@evpki/keys';
import { dataPaths, readManifest } from '@evpki/service';
import { loadRaConfig } from './config.js';
import { createRaService } from './service.js';

const config = loadRaConfig(process.env);
const manifest = readManifest(config.dataDir);
const paths = dataPaths(config.dataDir);
const service = createRaService(
  config,
  { jwtIssuer: manifest.jwt.issuer, jwtAudience: manifest.jwt.audience },
  { caClientToken: readSecretFile(paths.caClientToken), jwtPublicJwk: JSON.parse(readFileSync(paths.jwtPublicJwk, 'utf8')) as JWK },
);
await service.start();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void service.stop().then(() => process.exit(0)));
