import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type FetchImplementation, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AppError } from './errors.js';
import { SCOPES } from './scopes.js';

export { SCOPES, type Scope } from './scopes.js';

/**
 * Asymmetric JWS algorithms the RA may accept. `none` and HMAC (HS*) are never allowed: with HMAC a
 * published public key would become the shared secret (the classic algorithm confusion).
 */
export const ASYMMETRIC_JWT_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA', 'Ed25519'] as const;

/** A tenant id: lowercase, as `pki tenants add --id` accepts it. */
export const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface Caller {
  readonly tenant: string;
  /** The token's `sub`: who acts for the tenant (recorded in the audit log). */
  readonly subject: string | undefined;
  readonly scopes: ReadonlySet<string>;
}

/** How a JWKS (and an OIDC discovery document) is fetched. */
export interface JwksFetch {
  readonly cooldownSeconds: number;
  readonly timeoutMs: number;
  /**
   * A bearer token file sent with the fetch, re-read each time (a Kubernetes API server serves its
   * discovery document and JWKS only to authenticated callers, e.g. a projected service account token).
   */
  readonly bearerTokenFile?: string;
}

/**
 * Where the verification keys come from: a JWKS URL (cached, refetched on an unknown `kid`), the
 * `jwks_uri` of an issuer's OIDC discovery document (`<issuer>/.well-known/openid-configuration`,
 * read at the first token and again after a failure), or static JWKs.
 */
export type JwtKeySource =
  | ({ readonly jwksUrl: string } & JwksFetch)
  | ({ readonly oidcIssuer: string } & JwksFetch)
  | { readonly jwks: JSONWebKeySet };

export interface JwtVerifierOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly keys: JwtKeySource;
  /** Allowed `alg` values, a subset of ASYMMETRIC_JWT_ALGORITHMS. */
  readonly algorithms: readonly string[];
  /** Tolerated clock skew for `exp` and `nbf`, in seconds (bounded by the config). */
  readonly clockToleranceSeconds: number;
  /** The longest lifetime accepted (RA_JWT_MAX_TTL_SECONDS): `exp - iat`, and `exp` from now. */
  readonly maxTtlSeconds: number;
  readonly now?: () => Date;
  /** Claims that must be present (default: exp and tenant). */
  readonly requiredClaims?: readonly string[];
  /**
   * How a verified payload becomes a caller, after the common checks (default: the `tenant` and
   * `scope` claims). Throws an AuthError to refuse.
   */
  readonly callerOf?: (payload: JWTPayload) => Caller;
  /** The product rules named when `iss`, `aud` or `exp` refuse a token (for verifiers with their own rules). */
  readonly claimRules?: Partial<Record<'iss' | 'aud' | 'exp', string>>;
}

/** A refused token: why (for the audit log and metrics; the caller sees a short reason too). */
export class AuthError extends AppError {
  constructor(
    readonly reason: AuthFailureReason,
    message: string,
    /** The product rule refused, for the refusals that have one. */
    rule?: string,
  ) {
    // RFC 6750 3.1: no error code when the request had no credentials at all.
    super('unauthorized', message, rule ? [{ rule, message }] : undefined, undefined, reason === 'missing' ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token"`);
  }
}

export type AuthFailureReason =
  | 'missing'
  | 'malformed'
  | 'expired'
  | 'not-yet-valid'
  | 'claims'
  | 'lifetime'
  | 'subject'
  | 'algorithm'
  | 'unknown-key'
  | 'signature'
  | 'account';

const REALM = 'evpki-ra';

/** Product rules of the token checks (README, "Bearer tokens"). */
export const TOKEN_RULES = { lifetime: 'Token.lifetime', subject: 'Token.subject' } as const;
/** Product rules of authorization: the token's scopes cover the operation; its tenant exists and is enabled. */
export const AUTHZ_RULES = { scope: 'Authz.scope', tenant: 'Authz.tenant' } as const;

/**
 * Actor names the PKI writes in the audit log for itself ("cli": pki tenants and rotation, "ocsp":
 * the responder's signer requests, "anonymous": refused tokens) and for its own services and
 * tools; a token's `sub` cannot be one of them (compared trimmed and case-insensitively), nor take
 * the forms the RA derives itself ("tenant:<id>" without a `sub`, "sub-sha256:…" for an unprintable
 * one), so no caller can pass for the PKI in the audit log.
 */
export const RESERVED_SUBJECTS: readonly string[] = ['cli', 'ocsp', 'anonymous', 'system', 'ra', 'ca', 'pki', 'pki-cli', 'pki-ra', 'pki-ca', 'pki-ocsp'];
const RESERVED_SUBJECT_PREFIXES = ['tenant:', 'sub-sha256:'];

export function isReservedSubject(sub: string): boolean {
  const s = sub.trim().toLowerCase();
  return RESERVED_SUBJECTS.includes(s) || RESERVED_SUBJECT_PREFIXES.some((p) => s.startsWith(p));
}

/** Verified tokens are remembered at most this long (a key removed from the JWKS stops them then). */
const CACHE_SECONDS = 300;
const MAX_CACHE = 10_000;

/** fetch with the bearer token of `tokenFile`, read at each call (projected tokens rotate). */
function fetchWithToken(tokenFile: string | undefined): FetchImplementation {
  return (url, options) => {
    const headers = new Headers(options.headers);
    if (tokenFile) {
      let token: string;
      try {
        token = readFileSync(tokenFile, 'utf8').trim();
      } catch (e) {
        return Promise.reject(new JwksUnavailable(`the token for fetching keys (${tokenFile}) cannot be read: ${(e as Error).message}`));
      }
      headers.set('authorization', `Bearer ${token}`);
    }
    return fetch(url, { ...options, headers });
  };
}

class JwksUnavailable extends Error {}

/** OIDC discovery: the issuer's document must name the same issuer, and a jwks_uri. */
async function discoverJwksUri(issuer: string, f: JwksFetch): Promise<URL> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let doc: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const res = await fetchWithToken(f.bearerTokenFile)(url, { method: 'GET', headers: new Headers({ accept: 'application/json' }), redirect: 'manual', signal: AbortSignal.timeout(f.timeoutMs) });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    doc = (await res.json()) as typeof doc;
  } catch (e) {
    throw new JwksUnavailable(`OIDC discovery ${url}: ${(e as Error).message}`);
  }
  if (doc.issuer !== issuer || typeof doc.jwks_uri !== 'string') throw new JwksUnavailable(`OIDC discovery ${url}: the document names another issuer or no jwks_uri`);
  let jwks: URL;
  try {
    jwks = new URL(doc.jwks_uri);
  } catch {
    throw new JwksUnavailable(`OIDC discovery ${url}: jwks_uri is not a URL`);
  }
  // The keys (and the bearer token sent for them) go over https only, or to the issuer's own origin (a local issuer in tests).
  if (jwks.protocol !== 'https:' && jwks.origin !== new URL(issuer).origin) throw new JwksUnavailable(`OIDC discovery ${url}: jwks_uri ${jwks.href} is not https`);
  return jwks;
}

function remoteKeys(url: URL, f: JwksFetch): JWTVerifyGetKey {
  return createRemoteJWKSet(url, {
    cooldownDuration: f.cooldownSeconds * 1000,
    cacheMaxAge: 10 * 60 * 1000,
    timeoutDuration: f.timeoutMs,
    [customFetch]: fetchWithToken(f.bearerTokenFile),
  });
}

function keyResolver(keys: JwtKeySource): JWTVerifyGetKey {
  if ('jwks' in keys) return createLocalJWKSet(keys.jwks);
  if ('jwksUrl' in keys) return remoteKeys(new URL(keys.jwksUrl), keys);
  // Discovered at the first token, not at start (the issuer may be down then); a failed discovery is tried again by the next token.
  let discovered: Promise<JWTVerifyGetKey> | undefined;
  return async (header, token) => {
    discovered ??= discoverJwksUri(keys.oidcIssuer, keys).then((u) => remoteKeys(u, keys));
    try {
      return await (await discovered)(header, token);
    } catch (e) {
      if (e instanceof JwksUnavailable) discovered = undefined;
      throw e;
    }
  };
}

/** Maps jose's errors to a reason; a JWKS endpoint that cannot be read is our outage, not the caller's fault. */
function refusal(e: unknown, rules: JwtVerifierOptions['claimRules'] = {}): AppError {
  if (e instanceof joseErrors.JWTExpired) return new AuthError('expired', 'the bearer token has expired', rules.exp);
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    if (e.claim === 'nbf' || e.claim === 'iat') return new AuthError('not-yet-valid', 'the bearer token is not valid yet');
    return new AuthError('claims', `the bearer token's ${e.claim} claim is not accepted`, e.claim === 'iss' || e.claim === 'aud' ? rules[e.claim] : undefined);
  }
  if (e instanceof JwksUnavailable) return new AppError('unavailable', 'the token verification keys cannot be fetched; try again later', undefined, 5);
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return new AuthError('algorithm', 'the bearer token is signed with an algorithm that is not allowed');
  if (e instanceof joseErrors.JWKSNoMatchingKey || e instanceof joseErrors.JWKSMultipleMatchingKeys) return new AuthError('unknown-key', 'the bearer token is signed with an unknown key');
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return new AuthError('signature', 'the bearer token signature is invalid');
  if (e instanceof joseErrors.JWKSTimeout || e instanceof joseErrors.JWKSInvalid || (e instanceof joseErrors.JOSEError && e.code === 'ERR_JOSE_GENERIC'))
    return new AppError('unavailable', 'the token verification keys cannot be fetched; try again later', undefined, 5);
  if (e instanceof TypeError && /fetch/i.test(e.message)) return new AppError('unavailable', 'the token verification keys cannot be fetched; try again later', undefined, 5);
  return new AuthError('malformed', 'the bearer token is malformed');
}

/** The `scope` claim: a space-separated string (RFC 9068) or an array of strings. */
function scopesOf(claim: unknown): Set<string> {
  const list = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim.filter((s): s is string => typeof s === 'string') : [];
  return new Set(list.filter((s) => (SCOPES as readonly string[]).includes(s)));
}

/**
 * Verifies RA bearer tokens: signature under an allowed asymmetric algorithm, `iss`, `aud`, `exp`
 * (required) and `nbf` within the clock tolerance, the lifetime, a `sub` that is not the PKI's own,
 * and the `tenant` and `scope` claims. A verified
 * token is cached for a few minutes (bounded map), because a CSMS reuses one token for many
 * requests and verification costs more than the rest of the request.
 */
export function createJwtVerifier(opts: JwtVerifierOptions): (authorization: string | undefined) => Promise<Caller> {
  const bad = opts.algorithms.filter((a) => !(ASYMMETRIC_JWT_ALGORITHMS as readonly string[]).includes(a));
  if (bad.length || !opts.algorithms.length) throw new Error(`JWT algorithms must be among ${ASYMMETRIC_JWT_ALGORITHMS.join(', ')}; refused: ${bad.join(', ') || '(none given)'}`);
  const getKey = keyResolver(opts.keys);
  const cache = new Map<string, { caller: Caller; until: number }>();
  const now = opts.now ?? (() => new Date());

  return async (authorization) => {
    if (!authorization) throw new AuthError('missing', 'a bearer token is required');
    const m = /^Bearer ([A-Za-z0-9_-]{1,4096}\.[A-Za-z0-9_-]{1,8192}\.[A-Za-z0-9_-]{0,1024})$/.exec(authorization);
    if (!m) throw new AuthError('malformed', 'the Authorization header must be "Bearer <JWT>"');
    const token = m[1]!;
    const t = now().getTime() / 1000;
    const hit = cache.get(token);
    if (hit && hit.until > t) return hit.caller;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms: [...opts.algorithms],
        requiredClaims: [...(opts.requiredClaims ?? ['exp', 'tenant'])],
        clockTolerance: opts.clockToleranceSeconds,
        currentDate: now(),
      }));
    } catch (e) {
      throw refusal(e, opts.claimRules);
    }
    if (typeof payload.exp !== 'number') throw new AuthError('claims', 'the bearer token has no exp');
    // A long-lived token is a standing credential: refused beyond the maximum, by its stated
    // lifetime and by how far its exp is from now (an iat in the future cannot stretch it).
    const exp = payload.exp;
    if ((typeof payload.iat === 'number' && exp - payload.iat > opts.maxTtlSeconds) || exp - t > opts.maxTtlSeconds + opts.clockToleranceSeconds)
      throw new AuthError('lifetime', `the bearer token's lifetime exceeds the accepted maximum of ${opts.maxTtlSeconds} s`, TOKEN_RULES.lifetime);
    if (typeof payload.sub === 'string' && isReservedSubject(payload.sub))
      throw new AuthError('subject', "the bearer token's sub names the PKI itself; use the CSMS's own identity", TOKEN_RULES.subject);
    const caller = (opts.callerOf ?? claimedCaller)(payload);
    if (cache.size >= MAX_CACHE) cache.clear();
    cache.set(token, { caller, until: Math.min(payload.exp + opts.clockToleranceSeconds, t + CACHE_SECONDS) });
    return caller;
  };
}

/** The default caller of a token: its `tenant`, `sub` and `scope` claims. */
function claimedCaller(payload: JWTPayload): Caller {
  const tenant = payload.tenant;
  if (typeof tenant !== 'string' || !TENANT_ID.test(tenant)) throw new AuthError('claims', 'the token names no valid tenant');
  const subject = typeof payload.sub === 'string' ? payload.sub.slice(0, 128) : undefined;
  return { tenant, subject, scopes: scopesOf(payload.scope) };
}

/** Refuses a caller without every scope `required` (RFC 6750 insufficient_scope). */
export function requireScopes(caller: Caller, required: readonly string[]): void {
  const missing = required.filter((s) => !caller.scopes.has(s));
  if (missing.length)
    throw new AppError(
      'forbidden',
      `the bearer token lacks the scope ${missing.join(' ')}`,
      [{ rule: AUTHZ_RULES.scope, message: `this operation needs the scopes ${required.join(' ')}; the token lacks ${missing.join(' ')}` }],
      undefined,
      `Bearer realm="${REALM}", error="insufficient_scope", scope="${required.join(' ')}"`,
    );
}
