import { DEFAULT_KEY_POLICY, type KeyPolicy } from '@evpki/policy';
import { ConfigError, checkUnknownEnv, envInt, envString, loadHttpLimits, loadStoreConfig, serviceTlsReloadMs, type HttpLimits } from '@evpki/service';
import type { OpenStoreOptions } from '@evpki/store';

export interface CaConfig {
  readonly host: string;
  /** The API listener (/v1/*): HTTPS, mutual TLS with service certificates only (issue 7). */
  readonly port: number;
  /** Plain-HTTP ops listener on the same host: /healthz, /readyz, /metrics (probes and scrapers need no client certificate). */
  readonly opsPort: number;
  readonly dataDir: string;
  /** The store backend: Redis when REDIS_URL is set, else LMDB under the data directory. */
  readonly store: OpenStoreOptions;
  readonly leafValiditySeconds: number;
  /** CSMS server certificates: default and shortest lifetime (A00.FR.701: always under 24 h). */
  readonly serverValidity: { readonly defaultSeconds: number; readonly minSeconds: number };
  /**
   * Delegated OCSP signers live a few days (at most 7): the longest a stolen responder key can vouch
   * for a revoked certificate. The responder renews them two thirds into their life.
   */
  readonly ocspSignerValiditySeconds: number;
  /** At most this many OCSP signers per issuer in any hour, counted in the store (all CAs, across restarts). */
  readonly ocspSignersPerIssuerPerHour: number;
  readonly keyPolicy: KeyPolicy;
  /** CRL nextUpdate − thisUpdate (RFC 5280 5.1.2.5), clamped to the issuer's notAfter. */
  readonly crlNextUpdateSeconds: number;
  /** A CRL older than this, or this close to its nextUpdate, is reissued even without revocations. */
  readonly crlRefreshSeconds: number;
  /** Header, request and keep-alive timeouts of the HTTP servers (PKI_HTTP_*). */
  readonly http: HttpLimits;
  /** PKI_SERVICE_TLS_RELOAD_INTERVAL_MS: renewed mutual TLS files are picked up this often, without a restart. */
  readonly serviceTlsReloadMs: number;
}

export function loadCaConfig(env: NodeJS.ProcessEnv): CaConfig {
  checkUnknownEnv(env);
  const crlNextUpdateHours = envInt(env, 'CA_CRL_NEXT_UPDATE_HOURS', 168, 1, 8760);
  const crlRefreshHours = envInt(env, 'CA_CRL_REFRESH_HOURS', 24, 1, 8760);
  if (crlRefreshHours >= crlNextUpdateHours)
    throw new ConfigError(`CA_CRL_REFRESH_HOURS (${crlRefreshHours}) must be less than CA_CRL_NEXT_UPDATE_HOURS (${crlNextUpdateHours})`);
  const port = envInt(env, 'CA_PORT', 8081, 0, 65535);
  const opsPort = envInt(env, 'CA_OPS_PORT', 8083, 0, 65535);
  if (port === opsPort && port !== 0) throw new ConfigError(`CA_OPS_PORT (${opsPort}) must differ from CA_PORT`);
  return {
    host: envString(env, 'CA_HOST', '127.0.0.1'),
    port,
    opsPort,
    dataDir: envString(env, 'PKI_DATA_DIR', './data'),
    store: loadStoreConfig(env),
    leafValiditySeconds: envInt(env, 'CA_LEAF_VALIDITY_DAYS', 365, 1, 3650) * 86400,
    serverValidity: {
      defaultSeconds: envInt(env, 'CA_SERVER_VALIDITY_HOURS', 23, 1, 23) * 3600,
      minSeconds: envInt(env, 'CA_SERVER_MIN_VALIDITY_MINUTES', 60, 1, 23 * 60) * 60,
    },
    ocspSignerValiditySeconds: envInt(env, 'CA_OCSP_SIGNER_VALIDITY_HOURS', 96, 1, 168) * 3600,
    ocspSignersPerIssuerPerHour: envInt(env, 'CA_OCSP_SIGNERS_PER_ISSUER_PER_HOUR', 12, 1, 1000),
    keyPolicy: {
      ...DEFAULT_KEY_POLICY,
      minEcBits: envInt(env, 'CA_MIN_EC_BITS', DEFAULT_KEY_POLICY.minEcBits, 256, 521),
      minRsaBits: envInt(env, 'CA_MIN_RSA_BITS', DEFAULT_KEY_POLICY.minRsaBits, 2048, 8192),
    },
    crlNextUpdateSeconds: crlNextUpdateHours * 3600,
    crlRefreshSeconds: crlRefreshHours * 3600,
    http: loadHttpLimits(env),
    serviceTlsReloadMs: serviceTlsReloadMs(env),
  };
}
