import { existsSync } from 'node:fs';
import { dataPaths, loadStoreConfig } from '@evpki/service';
import { openStore, type Store } from '@evpki/store';
import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';

/**
 * The PKI's store, as the services open it (REDIS_URL: the shared Redis; else LMDB in the data
 * directory). Without REDIS_URL the data directory must hold a PKI: LMDB would otherwise make an
 * empty store wherever --data-dir points.
 */
export function openPkiStore(dataDir: string, env: NodeJS.ProcessEnv): Store {
  const config = { ...loadStoreConfig(env), dataDir };
  if (!config.redis && !existsSync(dataPaths(dataDir).manifest)) throw new CliError(`no PKI at ${dataDir}: run \`pki init\` first, or give --data-dir`, EXIT.badInput);
  return openStore(config);
}
