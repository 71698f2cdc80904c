import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SCOPES, dataPaths } from '@evpki/service';
import type { OAuthClientRecord } from '@evpki/store';

/**
 * OAuth2 clients of the tenants (Plug&Charge 4.4, RFC 6749 4.4): ids and secrets for POST
 * /oauth/token. The secret is 256 random bits; the store keeps only its SHA-256. A slow hash
 * (scrypt) protects guessable passwords; a full-entropy secret cannot be guessed, and SHA-256 keeps
 * every token request cheap.
 */

/** A client_id: "pkic_" and 128 random bits (base64url); it names no tenant, so it leaks none. */
export const newClientId = (): string => `pkic_${randomBytes(16).toString('base64url')}`;
export const CLIENT_ID = /^pkic_[A-Za-z0-9_-]{22}$/;

/** A new secret and the hash the store keeps. */
export function newClientSecret(): { secret: string; secretSha256: string } {
  const secret = randomBytes(32).toString('base64url');
  return { secret, secretSha256: createHash('sha256').update(secret).digest('hex') };
}

/** The scopes of --scope (repeatable or comma-separated); default: enrolment and status only. */
export const DEFAULT_CLIENT_SCOPES = ['stations:write', 'certificates:sign', 'status:read'] as const;
export function parseClientScopes(values: readonly string[] | undefined): string[] | { error: string } {
  const scopes = [...new Set((values ?? []).flatMap((v) => v.split(/[\s,]+/)).filter(Boolean))];
  if (!scopes.length) return [...DEFAULT_CLIENT_SCOPES];
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  return unknown.length ? { error: `unknown scope ${unknown.join(', ')}; scopes: ${SCOPES.join(', ')}` } : scopes;
}

/** What the audit log keeps of a client: never the secret or its hash. */
export const clientAuditDetails = (c: OAuthClientRecord): Record<string, string | boolean> => ({ clientId: c.clientId, scopes: c.scopes.join(' '), disabled: c.disabled });

/**
 * Writes the RA's token key (dataPaths.raTokenKey) unless there is one: created exclusively, so
 * that two commands at once cannot replace a key an RA already signs with.
 */
export function ensureRaTokenKey(dataDir: string): boolean {
  const path = dataPaths(dataDir).raTokenKey;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  try {
    writeFileSync(path, privateKey.export({ format: 'pem', type: 'pkcs8' }), { flag: 'wx', mode: 0o600 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}
