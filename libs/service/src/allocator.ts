import { existsSync } from 'node:fs';

/**
 * The services' memory allocator: jemalloc, preloaded (the allocator is chosen before node starts,
 * so it is the launcher's business: the image's ENV, `make run`, the tests' and benches' spawns).
 *
 * Why (issue 17; README "Tests and benchmarks", bench-scale): under glibc's malloc the OCSP
 * responder kept 30-45 MB of fragmented free memory after pre-signing a burst (not a leak: V8's
 * heap and external buffers did not grow), so its RSS was not flat from 1,000 to 1,000,000
 * certificates; with jemalloc it is, and live-signed OCSP answers are faster (issuance the same).
 *
 * MALLOC_CONF: background_thread returns freed pages from a thread of its own (not on a request's
 * path); dirty_decay_ms 1 s and muzzy_decay_ms 0 hand them back to the kernel soon after a burst
 * (RSS follows the live heap); narenas 2 (the default is 4 per core) keeps a service's arenas few:
 * its allocations come mostly from one JS thread and the small libuv pool.
 */
export const JEMALLOC_CONF = 'background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:2';

/** Where the image keeps jemalloc (scripts/image/rootfs.sh copies it there; the Dockerfile's ENV preloads it). */
export const IMAGE_JEMALLOC = '/usr/local/lib/libjemalloc.so.2';

/** Where Debian's libjemalloc2 (and other distributions) put the library on a host. */
const HOST_JEMALLOC = [
  '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
  '/usr/lib64/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
  IMAGE_JEMALLOC,
];

/** This machine's jemalloc, if it has one (apt-get install libjemalloc2). */
export function hostJemalloc(): string | undefined {
  return HOST_JEMALLOC.find((p) => existsSync(p));
}

/**
 * The environment that runs a service on jemalloc as the image does, for a launcher on this machine:
 * nothing when `env` already says what to preload (LD_PRELOAD set; empty: the C library's malloc, the
 * same way out as in the image), or when the machine has no jemalloc.
 */
export function allocatorEnv(env: NodeJS.ProcessEnv = process.env): { LD_PRELOAD?: string; MALLOC_CONF?: string } {
  if (env.LD_PRELOAD !== undefined) return {};
  const lib = hostJemalloc();
  return lib ? { LD_PRELOAD: lib, MALLOC_CONF: env.MALLOC_CONF ?? JEMALLOC_CONF } : {};
}

/** What a report says about a service's allocator under `env` (allocatorEnv applied). */
export function allocatorLabel(env: NodeJS.ProcessEnv): string {
  return env.LD_PRELOAD?.includes('jemalloc') ? `jemalloc (${env.MALLOC_CONF ?? 'default MALLOC_CONF'})` : env.LD_PRELOAD ? `preloaded ${env.LD_PRELOAD}` : "the C library's malloc";
}
