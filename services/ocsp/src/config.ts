import { ConfigError, checkUnknownEnv, envHttpsUrl, envInt, envString, loadStoreConfig, loadHttpLimits, serviceTlsReloadMs, type HttpLimits } from '@evpki/service';
import { availableParallelism } from 'node:os';
import type { OpenStoreOptions } from '@evpki/store';

export interface OcspConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** The store backend: Redis when REDIS_URL is set, else LMDB under the data directory. */
  readonly store: OpenStoreOptions;
  /** Internal URL of the CA (https, mutual TLS), which certifies this responder's delegated signing keys. */
  readonly caUrl: string;
  /** thisUpdate → nextUpdate of every response; charge points refresh about weekly (PnC 4.5). */
  readonly nextUpdateSeconds: number;
  /** Upper bound of the HTTP max-age a cache may keep a GET response (RFC 5019 6.2). */
  readonly httpMaxAgeSeconds: number;
  /** What to say about a serial the issuer never issued (RFC 6960 2.2). */
  readonly nonIssued: 'revoked' | 'unknown';
  /** How often the pre-signer looks for certificates whose responses are due. */
  readonly presignIntervalMs: number;
  /** Header, request and keep-alive timeouts of the HTTP server (PKI_HTTP_*). */
  readonly http: HttpLimits;
  /** PKI_SERVICE_TLS_RELOAD_INTERVAL_MS: renewed mutual TLS files are picked up this often, without a restart. */
  readonly serviceTlsReloadMs: number;
  /**
   * Processes answering on the port (OCSP_WORKERS, default: the cores this process may use). 1: one
   * process, as before; more: a primary that forks them (node:cluster, cluster.ts).
   */
  readonly workers: number;
}

export function loadOcspConfig(env: NodeJS.ProcessEnv): OcspConfig {
  checkUnknownEnv(env);
  const nonIssued = envString(env, 'OCSP_NON_ISSUED', 'revoked');
  if (nonIssued !== 'revoked' && nonIssued !== 'unknown') throw new ConfigError(`OCSP_NON_ISSUED must be revoked or unknown, got "${nonIssued}"`);
  return {
    host: envString(env, 'OCSP_HOST', '127.0.0.1'),
    port: envInt(env, 'OCSP_PORT', 8082, 0, 65535),
    dataDir: envString(env, 'PKI_DATA_DIR', './data'),
    store: loadStoreConfig(env),
    caUrl: envHttpsUrl(env, 'OCSP_CA_URL', `https://127.0.0.1:${envInt(env, 'CA_PORT', 8081, 0, 65535)}`),
    nextUpdateSeconds: envInt(env, 'OCSP_NEXT_UPDATE_HOURS', 168, 1, 720) * 3600,
    httpMaxAgeSeconds: envInt(env, 'OCSP_HTTP_MAX_AGE_SECONDS', 3600, 0, 30 * 86400),
    nonIssued,
    presignIntervalMs: envInt(env, 'OCSP_PRESIGN_INTERVAL_MS', 500, 10, 60_000),
    http: loadHttpLimits(env),
    serviceTlsReloadMs: serviceTlsReloadMs(env),
    workers: envInt(env, 'OCSP_WORKERS', availableParallelism(), 1, 64),
  };
}
