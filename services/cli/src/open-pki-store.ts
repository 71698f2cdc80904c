import { existsSync } from 'node:fs';
// The service library's modules, not its barrel (JWT verification, logging, metrics): every store command imports this.
import { loadStoreConfig } from '@evpki/service/config';
import { dataPaths, readManifestFor } from '@evpki/service/data-dir';
import { openStore, type Store } from '@evpki/store';
import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';

/** Where a remark on the PKI's store goes (a manifest that records none): stderr. */
export const noteOnStderr = (text: string): void => void process.stderr.write(`pki: note: ${text}\n`);

/**
 * The PKI's store, as the services open it (REDIS_URL: the shared Redis; else LMDB in the data
 * directory), refused (exit 2) when pki.json records another one (Manifest.store): LMDB would
 * otherwise make an empty store, and a command would answer from it. Without REDIS_URL the data
 * directory must hold a PKI.
 */
export function openPkiStore(dataDir: string, env: NodeJS.ProcessEnv, note: (text: string) => void = noteOnStderr): Store {
  const config = { ...loadStoreConfig(env), dataDir };
  if (existsSync(dataPaths(dataDir).manifest)) readManifestFor(dataDir, config, note);
  else if (!config.redis) throw new CliError(`no PKI at ${dataDir}: run \`pki init\` first, or give --data-dir`, EXIT.badInput);
  return openStore(config);
}

/**
 * For a command that reads the PKI but not its store (`pki token`, `pki service-certs renew`): the
 * same refusal, so that no command runs against a PKI with another store configured.
 */
export function checkPkiStore(dataDir: string, env: NodeJS.ProcessEnv, note: (text: string) => void = noteOnStderr): void {
  readManifestFor(dataDir, loadStoreConfig(env), note);
}

/** Runs `fn` with the PKI's store (openPkiStore), closed afterwards. */
export async function withStore<T>(ctx: { readonly dataDir: string; readonly env: NodeJS.ProcessEnv }, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = openPkiStore(ctx.dataDir, ctx.env);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
