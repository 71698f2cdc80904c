import { createHash, createPrivateKey, createPublicKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT, decodeJwt } from 'jose';
import type { Request, Response } from 'express';
import { AuthError, SCOPES, createJwtVerifier, type AuditTrail, type Caller } from '@evpki/service';
import type { RaStore } from '@evpki/store';

/**
 * OAuth2 client credentials (RFC 6749 4.4, Plug&Charge 4.4): POST /oauth/token exchanges a tenant's
 * client id and secret (`pki clients add`) for a short-lived RA bearer token, signed with the RA's
 * token key (dataPaths.raTokenKey: one file every RA instance reads, so a token of one instance is
 * good at all). The RA accepts these tokens beside those of the configured identity provider: a
 * token whose `iss` is RA_TOKEN_ISSUER is verified with the RA's own key only.
 */
export const RA_TOKEN_ISSUER = 'urn:evpki:ra';
/** Short: a disabled client or rotated secret stops its tokens within this time. */
export const RA_TOKEN_TTL_SECONDS = 300;

interface OwnKey {
  readonly key: KeyObject;
  readonly kid: string;
  readonly verify: (authorization: string) => Promise<Caller>;
}

export interface OAuthTokensOptions {
  readonly keyPath: string;
  readonly audience: string;
  /** The verifier's lifetime ceiling (RA_JWT_MAX_TTL_SECONDS): the tokens are never longer. */
  readonly maxTtlSeconds: number;
  readonly clockToleranceSeconds: number;
  readonly store: Pick<RaStore, 'getOAuthClient' | 'getTenant'>;
  readonly audit: AuditTrail;
  readonly now: () => Date;
}

/** An RFC 6749 5.2 error answer. */
class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly code: 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope' | 'server_error',
    readonly description: string,
  ) {
    super(description);
  }
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

/** RFC 6749 2.3.1: Basic credentials are form-urlencoded before base64. */
function basicCredentials(header: string | undefined): { id: string; secret: string } | undefined {
  const m = header === undefined ? null : /^Basic ([A-Za-z0-9+/=]{1,2048})$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new OAuthError(401, 'invalid_client', 'the Basic credentials are not client_id:client_secret');
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')), secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')) };
  } catch {
    throw new OAuthError(401, 'invalid_client', 'the Basic credentials are not form-urlencoded');
  }
}

const field = (body: Record<string, unknown>, name: string): string | undefined => {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new OAuthError(400, 'invalid_request', `${name} must be given once, as a string`);
  return v;
};

export function createOAuthTokens(o: OAuthTokensOptions) {
  let own: OwnKey | undefined;
  /** The RA's token key, read once it exists (`pki init` or the first `pki clients add` writes it). */
  function ownKey(): OwnKey | undefined {
    if (own) return own;
    let key: KeyObject;
    try {
      key = createPrivateKey(readFileSync(o.keyPath, 'utf8'));
    } catch {
      return undefined;
    }
    const jwk = createPublicKey(key).export({ format: 'jwk' });
    const kid = createHash('sha256').update(JSON.stringify([jwk.crv, jwk.x, jwk.y])).digest('base64url').slice(0, 16);
    const verify = createJwtVerifier({
      issuer: RA_TOKEN_ISSUER,
      audience: o.audience,
      keys: { jwks: { keys: [{ ...jwk, kid, alg: 'ES256', use: 'sig' }] } },
      algorithms: ['ES256'],
      clockToleranceSeconds: o.clockToleranceSeconds,
      maxTtlSeconds: o.maxTtlSeconds,
      now: o.now,
    });
    return (own = { key, kid, verify });
  }

  /** Wraps the identity provider's verifier: the RA's own tokens go to its own key, every other to `external`. */
  function verifier(external: (authorization: string | undefined) => Promise<Caller>) {
    return async (authorization: string | undefined): Promise<Caller> => {
      const jwt = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
      let iss: unknown;
      try {
        iss = jwt ? decodeJwt(jwt).iss : undefined;
      } catch {
        iss = undefined;
      }
      const k = iss === RA_TOKEN_ISSUER ? ownKey() : undefined;
      if (!k) return external(authorization);
      const caller = await k.verify(authorization!);
      // One read per request: a disabled client's tokens stop at once, not when they expire.
      const client = caller.subject === undefined ? undefined : await o.store.getOAuthClient(caller.subject);
      if (!client || client.disabled || client.tenant !== caller.tenant) throw new AuthError('claims', "the bearer token's OAuth2 client is unknown or disabled");
      return caller;
    };
  }

  async function issue(req: Request): Promise<{ access_token: string; token_type: 'Bearer'; expires_in: number; scope: string }> {
    const type = (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded' && type !== 'application/json')
      throw new OAuthError(400, 'invalid_request', 'the body must be application/x-www-form-urlencoded (RFC 6749 4.4.2) or application/json');
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body !== 'object' || Array.isArray(body)) throw new OAuthError(400, 'invalid_request', 'the body must be an object of parameters');
    const grant = field(body, 'grant_type');
    if (grant === undefined) throw new OAuthError(400, 'invalid_request', 'grant_type is required');
    if (grant !== 'client_credentials') throw new OAuthError(400, 'unsupported_grant_type', 'only grant_type=client_credentials is supported');
    const basic = basicCredentials(req.get('authorization'));
    const bodyId = field(body, 'client_id');
    const bodySecret = field(body, 'client_secret');
    // RFC 6749 2.3: one authentication method per request.
    if (basic && (bodyId !== undefined || bodySecret !== undefined)) throw new OAuthError(400, 'invalid_request', 'authenticate with HTTP Basic or with client_id and client_secret in the body, not both');
    const id = basic?.id ?? bodyId;
    const secret = basic?.secret ?? bodySecret;
    if (!id || !secret) throw new OAuthError(401, 'invalid_client', 'client_id and client_secret are required (HTTP Basic or the body)');
    const client = id.length <= 64 ? await o.store.getOAuthClient(id) : undefined;
    // Compared in constant time; an unknown client costs the same hash.
    const presented = sha256(secret);
    const matches = client !== undefined && timingSafeEqual(presented, Buffer.from(client.secretSha256, 'hex'));
    const tenant = matches ? await o.store.getTenant(client.tenant) : undefined;
    if (!client || !matches || client.disabled || !tenant || tenant.disabled) {
      await o.audit.recordAuthFailure({ event: 'auth.failed', actor: 'anonymous', outcome: 'refused', details: { reason: 'oauth-client', route: 'POST /oauth/token', remoteAddress: req.socket.remoteAddress ?? null } });
      throw new OAuthError(401, 'invalid_client', 'client authentication failed (unknown client, wrong secret, or a disabled client or tenant)');
    }
    const requested = field(body, 'scope');
    const scopes = requested === undefined ? [...client.scopes] : [...new Set(requested.split(' ').filter(Boolean))];
    const beyond = scopes.filter((s) => !client.scopes.includes(s) || !(SCOPES as readonly string[]).includes(s));
    if (beyond.length || !scopes.length) throw new OAuthError(400, 'invalid_scope', `the client may ask only for ${client.scopes.join(' ')}`);
    const k = ownKey();
    if (!k) throw new OAuthError(500, 'server_error', 'the RA has no token key (secrets/ra-token.key.pem): run pki clients add or pki init');
    const ttl = Math.min(RA_TOKEN_TTL_SECONDS, o.maxTtlSeconds);
    const iat = Math.floor(o.now().getTime() / 1000);
    const access_token = await new SignJWT({ tenant: client.tenant, scope: scopes.join(' ') })
      .setProtectedHeader({ alg: 'ES256', kid: k.kid, typ: 'at+jwt' })
      .setIssuer(RA_TOKEN_ISSUER)
      .setAudience(o.audience)
      .setSubject(client.clientId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttl)
      .setJti(randomBytes(12).toString('base64url'))
      .sign(k.key);
    return { access_token, token_type: 'Bearer', expires_in: ttl, scope: scopes.join(' ') };
  }

  /** The route handler: RFC 6749 5.1 answers, 5.2 errors (JSON, never cached). */
  async function handle(req: Request, res: Response): Promise<void> {
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    try {
      res.status(200).json(await issue(req));
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      if (e.status === 401) res.set('WWW-Authenticate', 'Basic realm="evpki-ra"');
      res.status(e.status).json({ error: e.code, error_description: e.description });
    }
  }

  return { verifier, handle };
}
