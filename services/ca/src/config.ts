import { DEFAULT_KEY_POLICY, type KeyPolicy } from '@evpki/policy';
import { checkUnknownEnv, envInt, envString } from '@evpki/service';

export interface CaConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly leafValiditySeconds: number;
  readonly keyPolicy: KeyPolicy;
}

export function loadCaConfig(env: NodeJS.ProcessEnv): CaConfig {
  checkUnknownEnv(env);
  return {
    host: envString(env, 'CA_HOST', '127.0.0.1'),
    port: envInt(env, 'CA_PORT', 8081, 0, 65535),
    dataDir: envString(env, 'PKI_DATA_DIR', './data'),
    leafValiditySeconds: envInt(env, 'CA_LEAF_VALIDITY_DAYS', 365, 1, 3650) * 86400,
    keyPolicy: {
      ...DEFAULT_KEY_POLICY,
      minEcBits: envInt(env, 'CA_MIN_EC_BITS', DEFAULT_KEY_POLICY.minEcBits, 256, 521),
      minRsaBits: envInt(env, 'CA_MIN_RSA_BITS', DEFAULT_KEY_POLICY.minRsaBits, 2048, 8192),
    },
  };
}
