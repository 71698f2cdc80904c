import { readFileSync } from 'node:fs';
import type { JSONWebKeySet } from 'jose';
import { ASYMMETRIC_JWT_ALGORITHMS, ConfigError, checkUnknownEnv, dataPaths, envBool, envHttpsUrl, envInt, envString, envUrl, jwtMaxTtlSeconds, loadHttpLimits, serviceTlsReloadMs, loadStoreConfig, type HttpLimits, type JwtKeySource } from '@evpki/service';
import type { OpenStoreOptions } from '@evpki/store';
import type { RateLimits } from '@evpki/issuance';
import { DEFAULT_KEY_POLICY, type KeyPolicy } from '@evpki/policy';
import type { RaTlsFiles } from './tls-files.js';
import { parseServiceAccountMap, type K8sServiceAccountConfig } from './k8s-service-accounts.js';

export interface RaConfig {
  readonly host: string;
  readonly port: number;
  /** HTTPS with these files (both set), else plain HTTP (make run, behind a TLS-terminating ingress). */
  readonly tls: RaTlsFiles | undefined;
  readonly dataDir: string;
  /** The store backend: Redis when REDIS_URL is set, else LMDB under the data directory. */
  readonly store: OpenStoreOptions;
  readonly caUrl: string;
  readonly caTimeoutMs: number;
  /** Keep-alive connections to the CA at most: the signing requests it has in flight (they share its group commits). */
  readonly caConnections: number;
  readonly jwtIssuer: string | undefined;
  readonly jwtAudience: string | undefined;
  /** RA_JWT_JWKS_URL, else the static JWKs of RA_JWT_JWKS_FILE (default: the dev PKI's public JWK), read at start. */
  readonly jwtKeys: JwtKeySource | { readonly jwksFile: string };
  readonly jwtAlgorithms: readonly string[];
  readonly jwtClockSkewSeconds: number;
  /** RA_JWT_MAX_TTL_SECONDS: longer-lived tokens are refused. */
  readonly jwtMaxTtlSeconds: number;
  /** RA_K8S_*: Kubernetes projected service account tokens, accepted for the mapped accounts only (unset: none). */
  readonly k8sServiceAccounts: K8sServiceAccountConfig | undefined;
  /** Validate every response against openapi.yaml (tests turn this on). */
  readonly validateResponses: boolean;
  readonly keyPolicy: KeyPolicy;
  /** Internal base URL of our own OCSP responder: status of our certificates is asked there. */
  readonly ocspUrl: string;
  /** Remote OCSP responders (e.g. a V2G PKI's) the RA may ask on a CSMS's behalf (PnC-4.5). */
  readonly ocspAllowedHosts: readonly AllowedHost[];
  readonly ocspTimeoutMs: number;
  /** Our responders' /metrics (one URL per instance), read for the tenant's OCSP answers in GET /v1/summary. */
  readonly ocspMetricsUrls: readonly string[];
  readonly rateLimits: RateLimits;
  /** Header, request and keep-alive timeouts of the HTTP server (PKI_HTTP_*). */
  readonly http: HttpLimits;
  /** PKI_SERVICE_TLS_RELOAD_INTERVAL_MS: renewed mutual TLS files are picked up this often, without a restart. */
  readonly serviceTlsReloadMs: number;
  /** PKI_AUDIT_REFUSAL_INTERVAL_SECONDS: a tenant's refusals are one audit entry (and a count) per rule, route and interval. */
  readonly auditRefusalIntervalSeconds: number;
}

/** An allow-listed responder host; without a port only the scheme's default port is allowed. */
export interface AllowedHost {
  readonly hostname: string;
  readonly port?: number;
}

/** `RA_OCSP_ALLOWED_HOSTS`: comma-separated `host` or `host:port` entries (IPv6 in brackets). */
export function parseAllowedHosts(raw: string): AllowedHost[] {
  return raw
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^(\[[0-9A-Fa-f:.]+\]|[^:/@?#[\]\s]+)(?::(\d{1,5}))?$/.exec(entry);
      let hostname: string | undefined;
      try {
        hostname = m ? new URL(`http://${m[1]!}/`).hostname : undefined;
      } catch {
        hostname = undefined;
      }
      const port = m?.[2] === undefined ? undefined : Number(m[2]);
      if (!hostname || (port !== undefined && (port < 1 || port > 65535)))
        throw new ConfigError(`RA_OCSP_ALLOWED_HOSTS: "${entry}" is not a host or host:port`);
      return port === undefined ? { hostname } : { hostname, port };
    });
}

/** RA_JWT_ALGORITHMS: comma-separated; `none` and HMAC are refused (a public key is no shared secret). */
export function parseJwtAlgorithms(raw: string): string[] {
  const algs = raw.split(',').map((a) => a.trim()).filter(Boolean);
  const refused = algs.filter((a) => !(ASYMMETRIC_JWT_ALGORITHMS as readonly string[]).includes(a));
  if (!algs.length || refused.length)
    throw new ConfigError(`RA_JWT_ALGORITHMS: ${refused.join(', ') || '(empty)'} not allowed; use asymmetric algorithms among ${ASYMMETRIC_JWT_ALGORITHMS.join(', ')} (never none or HS*)`);
  return algs;
}

/** A file holding a JWK Set or one public JWK; private key members are refused. */
export function readJwks(path: string): JSONWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new ConfigError(`RA_JWT_JWKS_FILE: cannot read a JSON JWK or JWK Set from ${path}`);
  }
  const keys: unknown = (parsed as { keys?: unknown }).keys ?? [parsed];
  if (!Array.isArray(keys) || !keys.length || keys.some((k) => typeof k !== 'object' || k === null || typeof (k as { kty?: unknown }).kty !== 'string'))
    throw new ConfigError(`RA_JWT_JWKS_FILE: ${path} holds no JWKs`);
  if (keys.some((k) => 'd' in (k as object) || (k as { kty: string }).kty === 'oct'))
    throw new ConfigError(`RA_JWT_JWKS_FILE: ${path} holds private or symmetric key material; give public keys only`);
  return { keys: keys as JSONWebKeySet['keys'] };
}

/** Keys are fetched over https only; plain http only on localhost (tests, a local identity provider). */
function keysUrl(env: NodeJS.ProcessEnv, name: string): string {
  const u = envUrl(env, name, '');
  const { protocol, hostname } = new URL(u);
  if (protocol !== 'https:' && !['localhost', '127.0.0.1', '[::1]'].includes(hostname)) throw new ConfigError(`${name} must be https (plain http only on localhost)`);
  return u;
}

function loadK8sServiceAccounts(env: NodeJS.ProcessEnv): K8sServiceAccountConfig | undefined {
  const names = ['RA_K8S_AUDIENCE', 'RA_K8S_JWKS_URL', 'RA_K8S_API_TOKEN_FILE', 'RA_K8S_SA_MAP'].filter((n) => env[n]);
  if (!env.RA_K8S_ISSUER) {
    if (names.length) throw new ConfigError(`${names.join(', ')} set without RA_K8S_ISSUER (the cluster's service account issuer)`);
    return undefined;
  }
  // The issuer is compared with `iss` as given (no trailing slash added or removed).
  const issuer = envString(env, 'RA_K8S_ISSUER', '');
  keysUrl(env, 'RA_K8S_ISSUER');
  if (!env.RA_K8S_SA_MAP) throw new ConfigError('RA_K8S_ISSUER needs RA_K8S_SA_MAP: which service accounts act for which tenant, with which scopes');
  const tokenFile = envString(env, 'RA_K8S_API_TOKEN_FILE', '');
  return {
    issuer,
    audience: envString(env, 'RA_K8S_AUDIENCE', 'evpki-ra'),
    jwksUrl: env.RA_K8S_JWKS_URL ? keysUrl(env, 'RA_K8S_JWKS_URL') : undefined,
    fetch: {
      cooldownSeconds: envInt(env, 'RA_JWT_JWKS_COOLDOWN_SECONDS', 30, 0, 3600),
      timeoutMs: envInt(env, 'RA_JWT_JWKS_TIMEOUT_MS', 5000, 100, 60_000),
      ...(tokenFile ? { bearerTokenFile: tokenFile } : {}),
    },
    accounts: parseServiceAccountMap(env.RA_K8S_SA_MAP),
  };
}

function loadJwtKeys(env: NodeJS.ProcessEnv, dataDir: string): RaConfig['jwtKeys'] {
  const url = envString(env, 'RA_JWT_JWKS_URL', '');
  if (url) {
    const u = keysUrl(env, 'RA_JWT_JWKS_URL');
    if (env.RA_JWT_JWKS_FILE) throw new ConfigError('set RA_JWT_JWKS_URL or RA_JWT_JWKS_FILE, not both');
    return { jwksUrl: u, cooldownSeconds: envInt(env, 'RA_JWT_JWKS_COOLDOWN_SECONDS', 30, 0, 3600), timeoutMs: envInt(env, 'RA_JWT_JWKS_TIMEOUT_MS', 5000, 100, 60_000) };
  }
  return { jwksFile: envString(env, 'RA_JWT_JWKS_FILE', dataPaths(dataDir).jwtPublicJwk) };
}

/**
 * `RA_OCSP_METRICS_URLS`: comma-separated http(s) URLs of our responders' /metrics, one per responder
 * instance (each gathers its own workers'); default: `<RA_OCSP_URL>/metrics`.
 */
function parseMetricsUrls(env: NodeJS.ProcessEnv, ocspUrl: string): string[] {
  const raw = env.RA_OCSP_METRICS_URLS;
  if (raw === undefined || raw.trim() === '') return [`${ocspUrl.replace(/\/+$/, '')}/metrics`];
  return raw.split(',').map((u) => u.trim()).filter(Boolean).map((u) => {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new ConfigError(`RA_OCSP_METRICS_URLS: "${u}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`RA_OCSP_METRICS_URLS: "${u}" is not http(s)`);
    return url.toString();
  });
}

/** RA_TLS_CERT_FILE and RA_TLS_KEY_FILE go together: one alone is a mistake, not plain HTTP. */
function loadTlsFiles(env: NodeJS.ProcessEnv): RaTlsFiles | undefined {
  const certFile = envString(env, 'RA_TLS_CERT_FILE', '');
  const keyFile = envString(env, 'RA_TLS_KEY_FILE', '');
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError('set both RA_TLS_CERT_FILE and RA_TLS_KEY_FILE (HTTPS), or neither (plain HTTP)');
  return { certFile, keyFile, reloadIntervalMs: envInt(env, 'RA_TLS_RELOAD_INTERVAL_MS', 5000, 100, 600_000) };
}

export function loadRaConfig(env: NodeJS.ProcessEnv): RaConfig {
  checkUnknownEnv(env);
  const caPort = envInt(env, 'CA_PORT', 8081, 1, 65535);
  const ocspPort = envInt(env, 'OCSP_PORT', 8082, 0, 65535);
  const dataDir = envString(env, 'PKI_DATA_DIR', './data');
  return {
    host: envString(env, 'RA_HOST', '127.0.0.1'),
    port: envInt(env, 'RA_PORT', 8080, 0, 65535),
    tls: loadTlsFiles(env),
    dataDir,
    store: loadStoreConfig(env),
    caUrl: envHttpsUrl(env, 'RA_CA_URL', `https://127.0.0.1:${caPort}`),
    caTimeoutMs: envInt(env, 'RA_CA_TIMEOUT_MS', 10_000, 100, 120_000),
    caConnections: envInt(env, 'RA_CA_CONNECTIONS', 256, 1, 4096),
    jwtIssuer: env.RA_JWT_ISSUER || undefined,
    jwtAudience: env.RA_JWT_AUDIENCE || undefined,
    jwtKeys: loadJwtKeys(env, dataDir),
    jwtAlgorithms: parseJwtAlgorithms(envString(env, 'RA_JWT_ALGORITHMS', 'ES256,ES384,RS256,PS256,EdDSA')),
    // Bounded: a large tolerance would keep expired tokens alive.
    jwtClockSkewSeconds: envInt(env, 'RA_JWT_CLOCK_SKEW_SECONDS', 30, 0, 300),
    jwtMaxTtlSeconds: jwtMaxTtlSeconds(env),
    k8sServiceAccounts: loadK8sServiceAccounts(env),
    validateResponses: envBool(env, 'RA_VALIDATE_RESPONSES', false),
    http: loadHttpLimits(env),
    serviceTlsReloadMs: serviceTlsReloadMs(env),
    auditRefusalIntervalSeconds: envInt(env, 'PKI_AUDIT_REFUSAL_INTERVAL_SECONDS', 10, 0, 3600),
    // Like RA_CA_URL: the responder of this host's OCSP_PORT unless told otherwise.
    ocspUrl: envUrl(env, 'RA_OCSP_URL', `http://127.0.0.1:${ocspPort}`),
    ocspAllowedHosts: parseAllowedHosts(envString(env, 'RA_OCSP_ALLOWED_HOSTS', '')),
    ocspTimeoutMs: envInt(env, 'RA_OCSP_TIMEOUT_MS', 5000, 100, 60_000),
    ocspMetricsUrls: parseMetricsUrls(env, envUrl(env, 'RA_OCSP_URL', `http://127.0.0.1:${ocspPort}`)),
    rateLimits: {
      stationCsrsPerDay: envInt(env, 'RA_RATE_STATION_CSRS_PER_DAY', 10, 0, 1_000_000),
      tenantCsrsPerMinute: envInt(env, 'RA_RATE_TENANT_CSRS_PER_MINUTE', 600, 0, 1_000_000),
    },
    keyPolicy: { ...DEFAULT_KEY_POLICY, minEcBits: envInt(env, 'CA_MIN_EC_BITS', 256, 256, 521), minRsaBits: envInt(env, 'CA_MIN_RSA_BITS', 2048, 2048, 8192) },
  };
}
