import { checkUnknownEnv, envInt, envString } from '@evpki/service';

export interface OcspConfig {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
}

export function loadOcspConfig(env: NodeJS.ProcessEnv): OcspConfig {
  checkUnknownEnv(env);
  return {
    host: envString(env, 'OCSP_HOST', '127.0.0.1'),
    port: envInt(env, 'OCSP_PORT', 8082, 0, 65535),
    dataDir: envString(env, 'PKI_DATA_DIR', './data'),
  };
}
