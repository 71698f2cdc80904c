import { createHash, timingSafeEqual } from 'node:crypto';
import { importJWK, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { AppError } from './errors.js';

export interface Caller {
  readonly tenant: string;
  readonly subject: string | undefined;
}

export interface JwtVerifierOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly publicJwk: JWK;
  /** Tolerated clock skew in seconds. */
  readonly clockToleranceSeconds?: number;
  readonly now?: () => Date;
}

/**
 * Verifies RA bearer tokens (ES256 only: no `none`, no HMAC). A verified token is cached until its
 * `exp` (bounded map), because a CSMS reuses one token for many requests and ES256 verification
 * costs more than the rest of the request.
 */
export async function createJwtVerifier(opts: JwtVerifierOptions): Promise<(authorization: string | undefined) => Promise<Caller>> {
  const key = await importJWK(opts.publicJwk, 'ES256');
  const cache = new Map<string, { caller: Caller; exp: number }>();
  const now = opts.now ?? (() => new Date());
  const MAX_CACHE = 10_000;

  return async (authorization) => {
    const m = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization ?? '');
    if (!m) throw new AppError('unauthorized', 'a bearer token is required');
    const token = m[1]!;
    const t = now().getTime() / 1000;
    const hit = cache.get(token);
    if (hit && hit.exp > t) return hit.caller;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms: ['ES256'],
        requiredClaims: ['exp', 'tenant'],
        clockTolerance: opts.clockToleranceSeconds ?? 30,
        currentDate: now(),
      }));
    } catch {
      throw new AppError('unauthorized', 'the bearer token is invalid or expired');
    }
    const tenant = payload.tenant;
    if (typeof tenant !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(tenant)) throw new AppError('unauthorized', 'the token names no valid tenant');
    const caller = { tenant, subject: payload.sub };
    if (cache.size >= MAX_CACHE) cache.clear();
    cache.set(token, { caller, exp: Math.min(payload.exp!, t + 300) });
    return caller;
  };
}

/** Constant-time check of a service credential (RA → CA) against the expected one. */
export function serviceTokenMatches(presented: string | undefined, expected: string): boolean {
  const m = /^Bearer (\S+)$/.exec(presented ?? '');
  if (!m) return false;
  const a = createHash('sha256').update(m[1]!).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
