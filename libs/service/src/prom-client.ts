import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';

let lib: typeof PromClient | undefined;

/**
 * prom-client, loaded on first use (CommonJS: the same instance as an import): the pki CLI imports
 * this library and makes no metrics (its startup time).
 */
export function promClient(): typeof PromClient {
  lib ??= createRequire(import.meta.url)('prom-client') as typeof PromClient;
  return lib;
}
