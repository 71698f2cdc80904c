import { LmdbStore } from './lmdb-store.js';
import { RedisStore, type RedisStoreOptions } from './redis-store.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  readonly dataDir: string;
  /** Set (REDIS_URL): the shared Redis backend; else the embedded LMDB store under `dataDir/store`. */
  readonly redis?: RedisStoreOptions;
}

/** Opens the configured backend. */
export function openStore(opts: OpenStoreOptions): Store {
  return opts.redis ? new RedisStore(opts.redis) : new LmdbStore(`${opts.dataDir}/store`);
}
