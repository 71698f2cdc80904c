import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { ConfigError, readFileSet, watchFileSet, type FileSet, type Logger } from '@evpki/service';

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

const pairOf = ({ contents: [cert, key], hash }: FileSet): TlsPair => ({ cert: cert!, key: key!, hash });

export function readTlsPair(files: Pick<RaTlsFiles, 'certFile' | 'keyFile'>): TlsPair {
  return pairOf(readFileSet([files.certFile, files.keyFile]));
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

/** A new valid pair replaces the served one (watchFileSet: polled, a broken pair is refused and the served one kept). */
export function watchTlsFiles(files: RaTlsFiles, served: TlsPair, apply: (options: SecureContextOptions, pair: TlsPair) => void, log: Logger): { stop(): void } {
  return watchFileSet([files.certFile, files.keyFile], served.hash, files.reloadIntervalMs, (set) => {
    const pair = pairOf(set);
    apply(tlsOptionsOf(pair), pair);
  }, log);
}
