import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT, importPKCS8 } from 'jose';
import { dataPaths, readManifest } from '@evpki/service';
import { CliError } from './cli-error.js';

/** A tenant id, as `pki init --dev` makes them ("demo"). */
export const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** `pki token`: a bearer token for the RA, minted with the dev PKI's JWT key (dev only). */
export async function mintToken(o: { dataDir: string; tenant: string; ttlSeconds: number; now?: Date }): Promise<string> {
  const manifest = readManifest(o.dataDir);
  if (!manifest.dev) throw new CliError('pki token works only against a dev PKI (pki init --dev)', 2);
  if (!TENANT_ID.test(o.tenant)) throw new CliError('--tenant must be a tenant id such as "demo"', 2);
  const key = await importPKCS8(readFileSync(dataPaths(o.dataDir).jwtSigningKey, 'utf8'), 'ES256');
  const kid = (JSON.parse(readFileSync(dataPaths(o.dataDir).jwtPublicJwk, 'utf8')) as { kid: string }).kid;
  const now = Math.floor((o.now ?? new Date()).getTime() / 1000);
  return new SignJWT({ tenant: o.tenant })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
    .setIssuer(manifest.jwt.issuer)
    .setAudience(manifest.jwt.audience)
    .setSubject('pki-cli')
    .setIssuedAt(now)
    .setExpirationTime(now + o.ttlSeconds)
    .setJti(randomBytes(8).toString('hex'))
    .sign(key);
}
