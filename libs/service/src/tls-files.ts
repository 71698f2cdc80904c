import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { dataPaths, type ServiceCertName } from './data-dir.js';
import type { Logger } from './logging.js';
import { serviceClientTlsOptions, type ServiceTls } from './service-tls.js';

/** Files read together, and their contents hashed: a change of any of them is a new set. */
export interface FileSet {
  readonly contents: readonly string[];
  readonly hash: string;
}

export function readFileSet(paths: readonly string[]): FileSet {
  const contents = paths.map((p) => readFileSync(p, 'utf8'));
  const h = createHash('sha256');
  for (const c of contents) h.update(c).update('\0');
  return { contents, hash: h.digest('hex') };
}

/**
 * The one way the services pick up rotated TLS files without a restart: the files are polled
 * (content hash, not fs.watch: a Kubernetes Secret is swapped by a symlink rename that watchers
 * miss) and a changed set goes to `apply`, which throws to refuse it (unreadable, or a key that is
 * not the certificate's, as while a renewal has written the key and not yet the certificate). A
 * refused set is logged once and what is served kept; the next change is tried again.
 */
export function watchFileSet(paths: readonly string[], servedHash: string, intervalMs: number, apply: (files: FileSet) => void, log: Logger): { stop(): void } {
  let seen = servedHash;
  const what = { files: paths };
  const timer = setInterval(() => {
    let files: FileSet;
    try {
      files = readFileSet(paths);
    } catch (e) {
      const hash = `unreadable:${(e as Error).message}`;
      if (hash !== seen) log.error({ event: 'tls.reload-failed', ...what, err: (e as Error).message }, 'TLS files unreadable; the served certificate is kept');
      seen = hash;
      return;
    }
    if (files.hash === seen) return;
    seen = files.hash;
    try {
      apply(files);
      log.info({ event: 'tls.reloaded', ...what }, 'TLS certificate reloaded');
    } catch (e) {
      log.error({ event: 'tls.reload-failed', ...what, err: (e as Error).message }, 'new TLS certificate and key refused; the served certificate is kept');
    }
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** The files of a service's mutual TLS material in the data directory: the service CA, its certificate, its key. */
export function serviceTlsPaths(dataDir: string, name: ServiceCertName): [ca: string, cert: string, key: string] {
  const paths = dataPaths(dataDir);
  const own = paths.serviceCert(name);
  return [paths.serviceCaCert, own.cert, own.key];
}

/**
 * Watches a service's mutual TLS files (`pki service-certs renew` rewrites them; in Kubernetes a
 * Secret update swaps them) and hands a new, consistent set to `apply`: the CA's server then
 * presents, and a client's next connection uses, the new certificate; nothing restarts.
 */
export function watchServiceTls(dataDir: string, name: ServiceCertName, intervalMs: number, apply: (tls: ServiceTls) => void, log: Logger): { stop(): void } {
  const paths = serviceTlsPaths(dataDir, name);
  let served: string;
  try {
    served = readFileSet(paths).hash;
  } catch {
    served = 'unreadable';
  }
  return watchFileSet(paths, served, intervalMs, ({ contents: [ca, cert, key] }) => {
    const tls: ServiceTls = { ca: ca!, cert: cert!, key: key! };
    // Refuses a key that is not the certificate's.
    createSecureContext(serviceClientTlsOptions(tls));
    apply(tls);
  }, log.child({ serviceCertificate: name }));
}
