import { readFileSync } from 'node:fs';
import type { OpenStoreOptions } from '@evpki/store';

/**
 * Environment → typed config. Every variable with one of the product's prefixes must be known
 * (a typo stops the start instead of being ignored); values are parsed and checked at start.
 */
export const KNOWN_ENV = new Set([
  'PKI_DATA_DIR',
  'PKI_KEY_PASSPHRASE',
  'PKI_KEY_PASSPHRASE_FILE',
  // A passphrase per key role (libs/keys loadPassphrase), each falling back to PKI_KEY_PASSPHRASE(_FILE).
  'PKI_ROOT_KEY_PASSPHRASE_FILE',
  'PKI_ISSUING_KEY_PASSPHRASE_FILE',
  'PKI_SERVICE_CA_KEY_PASSPHRASE_FILE',
  // The user PIN of the PKCS#11 token holding issuing CA keys (libs/keys loadPkcs11Pin; issue 15).
  'PKI_PKCS11_PIN_FILE',
  'PKI_LOG_LEVEL',
  'LOG_FORMAT',
  // The RA's audit aggregation of a tenant's refusals (libs/service audit-trail.ts).
  'PKI_AUDIT_REFUSAL_INTERVAL_SECONDS',
  // `pki audit retain`: the default of --keep (services/cli audit-retain.ts).
  'PKI_AUDIT_RETENTION',
  'PKI_RA_URL',
  'PKI_RA_TOKEN_FILE',
  // Every service's HTTP server: slow clients cannot hold connections (libs/service node-http.ts).
  'PKI_HTTP_HEADERS_TIMEOUT_MS',
  'PKI_HTTP_REQUEST_TIMEOUT_MS',
  'PKI_HTTP_KEEP_ALIVE_TIMEOUT_MS',
  // CLI: the CA ops listener whose /readyz `pki rotate-* activate` asks (does it hold the new issuing CA key?).
  'PKI_CA_URL',
  'RA_HOST',
  'RA_PORT',
  // The RA's HTTPS listener (services/ra tls-files.ts): re-read when the files change.
  'RA_TLS_CERT_FILE',
  'RA_TLS_KEY_FILE',
  'RA_TLS_RELOAD_INTERVAL_MS',
  // The mutual TLS files of CA, RA and OCSP (tls-files.ts watchServiceTls): how often they are compared.
  'PKI_SERVICE_TLS_RELOAD_INTERVAL_MS',
  'RA_CA_URL',
  'RA_CA_TIMEOUT_MS',
  'RA_CA_CONNECTIONS',
  'RA_JWT_ISSUER',
  'RA_JWT_AUDIENCE',
  'RA_JWT_JWKS_URL',
  'RA_JWT_JWKS_FILE',
  'RA_JWT_JWKS_COOLDOWN_SECONDS',
  'RA_JWT_JWKS_TIMEOUT_MS',
  'RA_JWT_ALGORITHMS',
  'RA_JWT_CLOCK_SKEW_SECONDS',
  'RA_JWT_MAX_TTL_SECONDS',
  'RA_K8S_ISSUER',
  'RA_K8S_AUDIENCE',
  'RA_K8S_JWKS_URL',
  'RA_K8S_API_TOKEN_FILE',
  'RA_K8S_SA_MAP',
  // Node's own: extra trusted CAs for outgoing https (the RA trusting the cluster CA for RA_K8S_JWKS_URL).
  'NODE_EXTRA_CA_CERTS',
  // The loader's and jemalloc's own: the services' allocator, set by the image (libs/service allocator.ts).
  'LD_PRELOAD',
  'MALLOC_CONF',
  'RA_VALIDATE_RESPONSES',
  'RA_OCSP_URL',
  'RA_OCSP_ALLOWED_HOSTS',
  'RA_OCSP_TIMEOUT_MS',
  'RA_OCSP_METRICS_URLS',
  'CA_HOST',
  'CA_PORT',
  // The CA's plain-HTTP ops listener (/healthz, /readyz, /metrics); its API port takes only mutual TLS.
  'CA_OPS_PORT',
  'CA_LEAF_VALIDITY_DAYS',
  'CA_MIN_EC_BITS',
  'CA_MIN_RSA_BITS',
  'CA_OCSP_SIGNER_VALIDITY_HOURS',
  'CA_OCSP_SIGNERS_PER_ISSUER_PER_HOUR',
  'CA_SERVER_VALIDITY_HOURS',
  'CA_SERVER_MIN_VALIDITY_MINUTES',
  'CA_CRL_NEXT_UPDATE_HOURS',
  'CA_CRL_REFRESH_HOURS',
  'OCSP_HOST',
  'OCSP_PORT',
  'OCSP_CA_URL',
  'OCSP_NEXT_UPDATE_HOURS',
  'OCSP_HTTP_MAX_AGE_SECONDS',
  'OCSP_NON_ISSUED',
  'OCSP_PRESIGN_INTERVAL_MS',
  'OCSP_WORKERS',
  'RA_RATE_STATION_CSRS_PER_DAY',
  'RA_RATE_TENANT_CSRS_PER_MINUTE',
  'REDIS_URL',
  // Each service's own Redis ACL user (`pki redis-acl`; libs/store redis-acl.ts) and its password file.
  'REDIS_USERNAME',
  'REDIS_PASSWORD_FILE',
  'REDIS_COMMAND_TIMEOUT_MS',
  'REDIS_WAIT_REPLICAS',
  'REDIS_WAIT_TIMEOUT_MS',
]);
const PREFIXES = ['PKI_', 'RA_', 'CA_', 'OCSP_', 'REDIS_'];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function checkUnknownEnv(env: NodeJS.ProcessEnv): void {
  const unknown = Object.keys(env).filter((k) => PREFIXES.some((p) => k.startsWith(p)) && !KNOWN_ENV.has(k));
  if (unknown.length) throw new ConfigError(`unknown configuration variable(s): ${unknown.join(', ')}`);
}

export const envString = (env: NodeJS.ProcessEnv, name: string, dflt: string): string => {
  const v = env[name];
  if (v !== undefined && !KNOWN_ENV.has(name)) throw new ConfigError(`${name} is not a known variable`);
  return v === undefined || v === '' ? dflt : v;
};

export function envInt(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer in ${min}..${max}, got "${raw}"`);
  return n;
}

/** PKI_SERVICE_TLS_RELOAD_INTERVAL_MS: how often a service compares its mutual TLS files with what it uses (default 5 s). */
export const serviceTlsReloadMs = (env: NodeJS.ProcessEnv): number => envInt(env, 'PKI_SERVICE_TLS_RELOAD_INTERVAL_MS', 5000, 100, 600_000);

/** RA_JWT_MAX_TTL_SECONDS: the longest bearer token lifetime the RA accepts and `pki token` mints (default 24 h). */
export const jwtMaxTtlSeconds = (env: NodeJS.ProcessEnv): number => envInt(env, 'RA_JWT_MAX_TTL_SECONDS', 86_400, 60, 30 * 86_400);

export function envBool(env: NodeJS.ProcessEnv, name: string, dflt: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

export function envUrl(env: NodeJS.ProcessEnv, name: string, dflt: string): string {
  const v = envString(env, name, dflt);
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got "${v}"`);
  }
  return v.replace(/\/$/, '');
}

/**
 * Which store backend: Redis when `REDIS_URL` is set (several instances of each service), else the
 * embedded LMDB store under the data directory. The service's Redis user is REDIS_USERNAME (each
 * service its own, `pki redis-acl`); its password is read from REDIS_PASSWORD_FILE, never logged.
 */
export function loadStoreConfig(env: NodeJS.ProcessEnv): OpenStoreOptions {
  const dataDir = envString(env, 'PKI_DATA_DIR', './data');
  const url = envString(env, 'REDIS_URL', '');
  if (!url) return { dataDir };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL');
  const username = envString(env, 'REDIS_USERNAME', '');
  // A Redis ACL user name is one word; this one also goes into error messages.
  if (username && !/^[A-Za-z0-9._-]{1,64}$/.test(username)) throw new ConfigError('REDIS_USERNAME must be 1..64 letters, digits, ".", "_" or "-" (a Redis ACL user, e.g. pki-ca)');
  const passwordFile = envString(env, 'REDIS_PASSWORD_FILE', '');
  let password: string | undefined;
  if (passwordFile) {
    try {
      password = readFileSync(passwordFile, 'utf8').trim();
    } catch {
      throw new ConfigError(`REDIS_PASSWORD_FILE: cannot read ${passwordFile}`);
    }
  }
  return {
    dataDir,
    redis: {
      url,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      commandTimeoutMs: envInt(env, 'REDIS_COMMAND_TIMEOUT_MS', 2000, 50, 60_000),
      waitReplicas: envInt(env, 'REDIS_WAIT_REPLICAS', 0, 0, 16),
      waitTimeoutMs: envInt(env, 'REDIS_WAIT_TIMEOUT_MS', 1000, 10, 60_000),
    },
  };
}
