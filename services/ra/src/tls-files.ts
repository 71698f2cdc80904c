import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ConfigError, type Logger } from '@evpki/service';

/** RA_TLS_CERT_FILE and RA_TLS_KEY_FILE: the RA's serving certificate (chain first) and key, PEM. */
export interface RaTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** How often the files are compared with what is served (RA_TLS_RELOAD_INTERVAL_MS). */
  readonly reloadIntervalMs: number;
}

/** TLS 1.2 at least (CSMS clients that lack 1.3), 1.3 preferred by OpenSSL's negotiation. (The server asks for an optional client certificate: service.ts.) */
export const RA_TLS_VERSIONS = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' } as const;

export interface TlsPair {
  readonly cert: string;
  readonly key: string;
  /** Both files' content, hashed: a change of either is a new pair. */
  readonly hash: string;
}

export function readTlsPair(files: Pick<RaTlsFiles, 'certFile' | 'keyFile'>): TlsPair {
  const cert = readFileSync(files.certFile, 'utf8');
  const key = readFileSync(files.keyFile, 'utf8');
  return { cert, key, hash: createHash('sha256').update(cert).update('\0').update(key).digest('hex') };
}

/** The options a pair is served with; createSecureContext refuses a key that does not match the certificate. */
export function tlsOptionsOf(pair: TlsPair): SecureContextOptions {
  const options = { cert: pair.cert, key: pair.key, ...RA_TLS_VERSIONS };
  createSecureContext(options);
  return options;
}

/** The first pair, at start: a service that cannot serve TLS as configured does not start. */
export function initialTlsPair(files: RaTlsFiles): { pair: TlsPair; options: SecureContextOptions } {
  try {
    const pair = readTlsPair(files);
    return { pair, options: tlsOptionsOf(pair) };
  } catch (e) {
    throw new ConfigError(`RA_TLS_CERT_FILE/RA_TLS_KEY_FILE (${files.certFile}, ${files.keyFile}): ${(e as Error).message}`);
  }
}

/**
 * Polls the files (content hash, not fs.watch: a Kubernetes Secret is swapped by a symlink rename
 * that watchers miss) and hands a new, valid pair to `apply`. A broken pair (unreadable, or a key
 * that is not the certificate's, as while a swap is half done) is logged once and the served one
 * kept; the next change is tried again.
 */
export function watchTlsFiles(files: RaTlsFiles, served: TlsPair, apply: (options: SecureContextOptions, pair: TlsPair) => void, log: Logger): { stop(): void } {
  let seen = served.hash;
  const timer = setInterval(() => {
    let pair: TlsPair;
    try {
      pair = readTlsPair(files);
    } catch (e) {
      const hash = `unreadable:${(e as Error).message}`;
      if (hash !== seen) log.error({ event: 'tls.reload-failed', certFile: files.certFile, keyFile: files.keyFile, err: (e as Error).message }, 'TLS files unreadable; the served certificate is kept');
      seen = hash;
      return;
    }
    if (pair.hash === seen) return;
    seen = pair.hash;
    try {
      apply(tlsOptionsOf(pair), pair);
      log.info({ event: 'tls.reloaded', certFile: files.certFile }, 'TLS certificate reloaded');
    } catch (e) {
      log.error({ event: 'tls.reload-failed', certFile: files.certFile, keyFile: files.keyFile, err: (e as Error).message }, 'new TLS certificate and key refused; the served certificate is kept');
    }
  }, files.reloadIntervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
