import { LmdbStore } from './lmdb-store.js';
import type { Store } from './store.js';

/** Opens the configured backend: the embedded LMDB store under `dataDir/store`. */
export function openStore(opts: { dataDir: string }): Store {
  return new LmdbStore(`${opts.dataDir}/store`);
}
