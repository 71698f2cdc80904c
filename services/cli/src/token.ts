import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT, importPKCS8 } from 'jose';
import { SCOPES, TENANT_ID, dataPaths, readManifest } from '@evpki/service';
import { CliError } from './cli-error.js';

export { TENANT_ID };

export interface MintOptions {
  readonly dataDir: string;
  readonly tenant: string;
  readonly ttlSeconds: number;
  /** Default: every scope (a dev convenience; real tokens come from the CSMS's identity provider). */
  readonly scopes?: readonly string[];
  /** Default: the PKI's audience (pki.json). */
  readonly audience?: string;
  readonly subject?: string;
  readonly now?: Date;
}

/** `pki token`: a bearer token for the RA, minted with the dev PKI's JWT key (dev only). */
export async function mintToken(o: MintOptions): Promise<string> {
  const manifest = readManifest(o.dataDir);
  if (!manifest.dev) throw new CliError('pki token works only against a dev PKI (pki init --dev)', 2);
  if (!TENANT_ID.test(o.tenant)) throw new CliError('--tenant must be a tenant id such as "demo"', 2);
  const scopes = o.scopes ?? SCOPES;
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length) throw new CliError(`unknown scope ${unknown.join(', ')}; scopes: ${SCOPES.join(', ')}`, 2);
  const key = await importPKCS8(readFileSync(dataPaths(o.dataDir).jwtSigningKey, 'utf8'), 'ES256');
  const kid = (JSON.parse(readFileSync(dataPaths(o.dataDir).jwtPublicJwk, 'utf8')) as { kid: string }).kid;
  const now = Math.floor((o.now ?? new Date()).getTime() / 1000);
  return new SignJWT({ tenant: o.tenant, scope: scopes.join(' ') })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
    .setIssuer(manifest.jwt.issuer)
    .setAudience(o.audience ?? manifest.jwt.audience)
    .setSubject(o.subject ?? 'dev-token')
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + o.ttlSeconds)
    .setJti(randomBytes(8).toString('hex'))
    .sign(key);
}
