import type { OpenStoreOptions } from '@evpki/store';
import { ConfigError } from './config.js';

/**
 * The store a PKI lives in, as `pki init` records it in pki.json: LMDB in the data directory, or
 * the Redis it was made in, named without credentials (scheme, host, port, database).
 */
export type ManifestStore = { readonly backend: 'lmdb' } | { readonly backend: 'redis'; readonly url: string };

/** `redis://host:port/db` of a Redis URL: no user name or password, the default port and database spelt out. */
export function redisLocation(url: string): string {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '') || '0';
  return `${u.protocol}//${u.hostname.toLowerCase()}:${u.port || '6379'}/${db}`;
}

/** What the configured store (REDIS_URL or not) is, in the manifest's terms. */
export function manifestStoreOf(config: Pick<OpenStoreOptions, 'redis'>): ManifestStore {
  return config.redis ? { backend: 'redis', url: redisLocation(config.redis.url) } : { backend: 'lmdb' };
}

const describe = (s: ManifestStore): string => (s.backend === 'redis' ? `Redis at ${s.url}` : 'LMDB in the data directory');

/**
 * Refuses a configured store other than the one pki.json records (Manifest.store): a command or
 * service pointed at another backend would otherwise find an empty store and answer from it (an
 * LMDB store is created on first use). A manifest from before the record (no `store`) takes the
 * configuration as it is; the returned note says so.
 */
export function checkManifestStore(recorded: ManifestStore | undefined, config: Pick<OpenStoreOptions, 'redis'>, manifestPath: string): { readonly note?: string } {
  const configured = manifestStoreOf(config);
  if (!recorded)
    return { note: `${manifestPath} records no store (made before pki.json named it): using ${describe(configured)}${configured.backend === 'redis' ? ' (REDIS_URL)' : ' (no REDIS_URL)'}` };
  if (recorded.backend === configured.backend && (recorded.backend === 'lmdb' || recorded.url === (configured as { url: string }).url)) return {};
  const fix =
    recorded.backend === 'lmdb'
      ? 'unset REDIS_URL'
      : configured.backend === 'lmdb'
        ? `set REDIS_URL to ${recorded.url} (with REDIS_USERNAME and REDIS_PASSWORD_FILE as needed)`
        : `set REDIS_URL to ${recorded.url}, or, if that Redis moved, change "store" in ${manifestPath}`;
  throw new ConfigError(
    `Manifest.store: ${manifestPath} records the store as ${describe(recorded)}, but the configuration names ${describe(configured)}${configured.backend === 'redis' ? ' (REDIS_URL)' : ' (REDIS_URL is not set)'}; ${fix}`,
  );
}
