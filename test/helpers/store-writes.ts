import { join } from 'node:path';
import { Redis } from 'ioredis';
import { open } from 'lmdb';

/**
 * How many writes a store has committed so far, read beside the store under test: LMDB's last
 * transaction id (a read-only transaction does not move it), Redis's changes since the last save
 * (the test servers never save: `--save ''`). Two equal readings: nothing was written between them.
 */
export async function storeWrites(where: { readonly lmdbPath: string } | { readonly redisUrl: string }): Promise<number> {
  if ('lmdbPath' in where) {
    // The same environment as the store's (lmdb shares one per path and process).
    const db = open({ path: where.lmdbPath, compression: false, maxReaders: 256 });
    return (db.getStats() as { lastTxnId: number }).lastTxnId;
  }
  const r = new Redis(where.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await r.connect();
    const info = await r.info('persistence');
    const m = /^rdb_changes_since_last_save:(\d+)\r?$/m.exec(info);
    if (!m) throw new Error('no rdb_changes_since_last_save in INFO persistence');
    return Number(m[1]);
  } finally {
    r.disconnect();
  }
}

/** Where the dev PKI in `dataDir` keeps its store: Redis when `storeEnv` names one, else LMDB. */
export const storeOf = (dataDir: string, storeEnv: Record<string, string>) => (storeEnv.REDIS_URL ? { redisUrl: storeEnv.REDIS_URL } : { lmdbPath: join(dataDir, 'store') });
