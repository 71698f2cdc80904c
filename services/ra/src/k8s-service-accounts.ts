import { decodeJwt, type JWTPayload } from 'jose';
import { AuthError, ConfigError, SCOPES, TENANT_ID, createJwtVerifier, type Caller, type JwksFetch } from '@evpki/service';

/**
 * Kubernetes projected service account tokens (a CronJob's `serviceAccountToken` volume with the
 * RA's audience): RA_K8S_ISSUER, the cluster's service account issuer; each account the RA accepts
 * is mapped to one tenant and its scopes by RA_K8S_SA_MAP. Every other account is refused.
 */
export interface K8sServiceAccountConfig {
  /** RA_K8S_ISSUER: the `iss` of the cluster's tokens (kube-apiserver --service-account-issuer). */
  readonly issuer: string;
  /** RA_K8S_AUDIENCE (default evpki-ra): the audience the projected volume asks for. */
  readonly audience: string;
  /** RA_K8S_JWKS_URL, else the issuer's OIDC discovery document names it. */
  readonly jwksUrl: string | undefined;
  /** RA_K8S_API_TOKEN_FILE: the RA's own token, sent when fetching discovery and JWKS (the API server asks for one). */
  readonly fetch: JwksFetch;
  /** RA_K8S_SA_MAP: `system:serviceaccount:<namespace>:<name>` → its tenant and scopes. */
  readonly accounts: ReadonlyMap<string, ServiceAccountGrant>;
}

export interface ServiceAccountGrant {
  readonly tenant: string;
  readonly scopes: readonly string[];
}

/** Product rules of service account tokens (README, "Kubernetes service account tokens"). */
export const K8S_TOKEN_RULES = {
  issuer: 'Token.k8s.issuer',
  audience: 'Token.k8s.audience',
  expired: 'Token.k8s.expired',
  account: 'Token.k8s.account',
} as const;

export const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:';
/** A namespace is a DNS label; a service account name a DNS subdomain. */
const SERVICE_ACCOUNT_SUBJECT = /^system:serviceaccount:([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?):([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?)$/;

/**
 * RA_K8S_SA_MAP: a JSON object, e.g.
 * `{"system:serviceaccount:ev-pki:csms-cert-renew": {"tenant": "demo", "scopes": ["server-certificates:sign"]}}`.
 */
export function parseServiceAccountMap(raw: string): Map<string, ServiceAccountGrant> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('RA_K8S_SA_MAP must be a JSON object: {"system:serviceaccount:<namespace>:<name>": {"tenant": "<id>", "scopes": [...]}}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError('RA_K8S_SA_MAP must be a JSON object');
  const map = new Map<string, ServiceAccountGrant>();
  for (const [account, grant] of Object.entries(parsed)) {
    if (!SERVICE_ACCOUNT_SUBJECT.test(account)) throw new ConfigError(`RA_K8S_SA_MAP: "${account}" is not system:serviceaccount:<namespace>:<name>`);
    const g = grant as { tenant?: unknown; scopes?: unknown };
    if (typeof g !== 'object' || g === null || Object.keys(g).some((k) => k !== 'tenant' && k !== 'scopes')) throw new ConfigError(`RA_K8S_SA_MAP: ${account} must map to {"tenant", "scopes"} only`);
    if (typeof g.tenant !== 'string' || !TENANT_ID.test(g.tenant)) throw new ConfigError(`RA_K8S_SA_MAP: ${account} names no valid tenant id`);
    const scopes = g.scopes;
    if (!Array.isArray(scopes) || !scopes.length || scopes.some((s) => !(SCOPES as readonly unknown[]).includes(s)))
      throw new ConfigError(`RA_K8S_SA_MAP: ${account} needs a non-empty list of scopes among ${SCOPES.join(', ')}`);
    map.set(account, { tenant: g.tenant, scopes: [...new Set(scopes as string[])] });
  }
  if (!map.size) throw new ConfigError('RA_K8S_SA_MAP maps no service account: without one, leave RA_K8S_ISSUER unset');
  return map;
}

/** The caller of a verified service account token: its account must be mapped, and its kubernetes.io claim agree with `sub`. */
function serviceAccountCaller(accounts: K8sServiceAccountConfig['accounts']) {
  return (payload: JWTPayload): Caller => {
    const sub = typeof payload.sub === 'string' ? payload.sub : '';
    const m = SERVICE_ACCOUNT_SUBJECT.exec(sub);
    const k8s = payload['kubernetes.io'] as { namespace?: unknown; serviceaccount?: { name?: unknown } } | undefined;
    if (!m || typeof k8s !== 'object' || k8s === null || k8s.namespace !== m[1] || k8s.serviceaccount?.name !== m[3])
      throw new AuthError('claims', "the service account token's sub and kubernetes.io claims do not name one service account", K8S_TOKEN_RULES.account);
    const grant = accounts.get(sub);
    if (!grant) throw new AuthError('account', `the service account ${m[1]}/${m[3]} is not mapped to a tenant (RA_K8S_SA_MAP)`, K8S_TOKEN_RULES.account);
    return { tenant: grant.tenant, subject: sub, scopes: new Set(grant.scopes) };
  };
}

export interface K8sVerifierOptions {
  readonly algorithms: readonly string[];
  readonly clockToleranceSeconds: number;
  readonly maxTtlSeconds: number;
  readonly now: () => Date;
}

/**
 * Wraps the RA's verifier: a token whose `iss` is the cluster's, or whose `sub` is a service account
 * (so a service account token of another issuer is refused by these rules, never tried elsewhere),
 * is verified as a service account token; every other goes to `next`.
 */
export function serviceAccountTokens(config: K8sServiceAccountConfig, o: K8sVerifierOptions) {
  const verify = createJwtVerifier({
    issuer: config.issuer,
    audience: config.audience,
    keys: config.jwksUrl ? { jwksUrl: config.jwksUrl, ...config.fetch } : { oidcIssuer: config.issuer, ...config.fetch },
    algorithms: o.algorithms,
    clockToleranceSeconds: o.clockToleranceSeconds,
    maxTtlSeconds: o.maxTtlSeconds,
    now: o.now,
    requiredClaims: ['exp', 'iat', 'sub'],
    callerOf: serviceAccountCaller(config.accounts),
    claimRules: { iss: K8S_TOKEN_RULES.issuer, aud: K8S_TOKEN_RULES.audience, exp: K8S_TOKEN_RULES.expired },
  });
  return (next: (authorization: string | undefined) => Promise<Caller>) =>
    (authorization: string | undefined): Promise<Caller> => {
      let claims: JWTPayload | undefined;
      try {
        claims = authorization?.startsWith('Bearer ') ? decodeJwt(authorization.slice(7)) : undefined;
      } catch {
        claims = undefined;
      }
      const isServiceAccount = claims !== undefined && (claims.iss === config.issuer || (typeof claims.sub === 'string' && claims.sub.startsWith(SERVICE_ACCOUNT_PREFIX)));
      return isServiceAccount ? verify(authorization) : next(authorization);
    };
}
