import { checkUnknownEnv, envBool, envInt, envString, envUrl } from '@evpki/service';
import { DEFAULT_KEY_POLICY, type KeyPolicy } from '@evpki/policy';

export interface RaConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly caUrl: string;
  readonly caTimeoutMs: number;
  readonly jwtIssuer: string | undefined;
  readonly jwtAudience: string | undefined;
  /** Validate every response against openapi.yaml (tests turn this on). */
  readonly validateResponses: boolean;
  readonly keyPolicy: KeyPolicy;
}

export function loadRaConfig(env: NodeJS.ProcessEnv): RaConfig {
  checkUnknownEnv(env);
  const caPort = envInt(env, 'CA_PORT', 8081, 1, 65535);
  return {
    host: envString(env, 'RA_HOST', '127.0.0.1'),
    port: envInt(env, 'RA_PORT', 8080, 0, 65535),
    dataDir: envString(env, 'PKI_DATA_DIR', './data'),
    caUrl: envUrl(env, 'RA_CA_URL', `http://127.0.0.1:${caPort}`),
    caTimeoutMs: envInt(env, 'RA_CA_TIMEOUT_MS', 10_000, 100, 120_000),
    jwtIssuer: env.RA_JWT_ISSUER || undefined,
    jwtAudience: env.RA_JWT_AUDIENCE || undefined,
    validateResponses: envBool(env, 'RA_VALIDATE_RESPONSES', false),
    keyPolicy: { ...DEFAULT_KEY_POLICY, minEcBits: envInt(env, 'CA_MIN_EC_BITS', 256, 256, 521), minRsaBits: envInt(env, 'CA_MIN_RSA_BITS', 2048, 2048, 8192) },
  };
}
