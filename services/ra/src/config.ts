import { ConfigError, checkUnknownEnv, envBool, envInt, envString, envUrl, loadStoreConfig } from '@evpki/service';
import type { OpenStoreOptions } from '@evpki/store';
import type { RateLimits } from './rate-limits.js';
import { DEFAULT_KEY_POLICY, type KeyPolicy } from '@evpki/policy';

export interface RaConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** The store backend: Redis when REDIS_URL is set, else LMDB under the data directory. */
  readonly store: OpenStoreOptions;
  readonly caUrl: string;
  readonly caTimeoutMs: number;
  readonly jwtIssuer: string | undefined;
  readonly jwtAudience: string | undefined;
  /** Validate every response against openapi.yaml (tests turn this on). */
  readonly validateResponses: boolean;
  readonly keyPolicy: KeyPolicy;
  /** Internal base URL of our own OCSP responder: status of our certificates is asked there. */
  readonly ocspUrl: string;
  /** Remote OCSP responders (e.g. a V2G PKI's) the RA may ask on a CSMS's behalf (PnC-4.5). */
  readonly ocspAllowedHosts: readonly AllowedHost[];
  readonly ocspTimeoutMs: number;
  readonly rateLimits: RateLimits;
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

export function loadRaConfig(env: NodeJS.ProcessEnv): RaConfig {
  checkUnknownEnv(env);
  const caPort = envInt(env, 'CA_PORT', 8081, 1, 65535);
  return {
    host: envString(env, 'RA_HOST', '127.0.0.1'),
    port: envInt(env, 'RA_PORT', 8080, 0, 65535),
    dataDir: envString(env, 'PKI_DATA_DIR', './data'),
    store: loadStoreConfig(env),
    caUrl: envUrl(env, 'RA_CA_URL', `http://127.0.0.1:${caPort}`),
    caTimeoutMs: envInt(env, 'RA_CA_TIMEOUT_MS', 10_000, 100, 120_000),
    jwtIssuer: env.RA_JWT_ISSUER || undefined,
    jwtAudience: env.RA_JWT_AUDIENCE || undefined,
    validateResponses: envBool(env, 'RA_VALIDATE_RESPONSES', false),
    ocspUrl: envUrl(env, 'RA_OCSP_URL', 'http://127.0.0.1:8082'),
    ocspAllowedHosts: parseAllowedHosts(envString(env, 'RA_OCSP_ALLOWED_HOSTS', '')),
    ocspTimeoutMs: envInt(env, 'RA_OCSP_TIMEOUT_MS', 5000, 100, 60_000),
    rateLimits: {
      stationCsrsPerDay: envInt(env, 'RA_RATE_STATION_CSRS_PER_DAY', 10, 0, 1_000_000),
      tenantCsrsPerMinute: envInt(env, 'RA_RATE_TENANT_CSRS_PER_MINUTE', 600, 0, 1_000_000),
    },
    keyPolicy: { ...DEFAULT_KEY_POLICY, minEcBits: envInt(env, 'CA_MIN_EC_BITS', 256, 256, 521), minRsaBits: envInt(env, 'CA_MIN_RSA_BITS', 2048, 2048, 8192) },
  };
}
