import { readFileSync } from 'node:fs';
import { ConfigError, envUrl } from './config.js';
import { dataPaths, type ServiceCertName } from './data-dir.js';

/**
 * RA → CA and OCSP → CA mutual TLS (issue 7). Every certificate comes from the internal service CA
 * that `pki init` creates; the CA authorizes a caller by its certificate's CN.
 */
export const SERVICE_CERT_NAMES: Record<ServiceCertName, { readonly commonName: string; readonly use: 'server' | 'client' }> = {
  'ca-server': { commonName: 'pki-ca', use: 'server' },
  'ra-client': { commonName: 'pki-ra', use: 'client' },
  'ocsp-client': { commonName: 'pki-ocsp', use: 'client' },
};

/** The client CNs the CA knows. */
export const RA_CLIENT_CN = SERVICE_CERT_NAMES['ra-client'].commonName;
export const OCSP_CLIENT_CN = SERVICE_CERT_NAMES['ocsp-client'].commonName;

/** One side's TLS material, PEM: the service CA certificate to trust, its own certificate and key. */
export interface ServiceTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** Reads a service's TLS material from the data directory (at start: a restart picks up renewed files). */
export function readServiceTls(dataDir: string, name: ServiceCertName): ServiceTls {
  const paths = dataPaths(dataDir);
  const files = { ca: paths.serviceCaCert, ...paths.serviceCert(name) };
  const read = (path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      throw new ConfigError(`cannot read ${path}: run \`pki init\` (or \`pki service-certs renew\`) to create the service certificates`);
    }
  };
  return { ca: read(files.ca), cert: read(files.cert), key: read(files.key) };
}

/** TLS options of a service client (undici `connect`, https agents): only TLS 1.3, only the service CA. */
export function serviceClientTlsOptions(tls: ServiceTls): { ca: string; cert: string; key: string; minVersion: 'TLSv1.3' } {
  return { ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.3' };
}

/** The CA's API URL for a service client (RA_CA_URL, OCSP_CA_URL): https only, the CA takes nothing else. */
export function envHttpsUrl(env: NodeJS.ProcessEnv, name: string, dflt: string): string {
  const url = envUrl(env, name, dflt);
  if (!url.startsWith('https://')) throw new ConfigError(`${name} must be an https:// URL (the CA's API takes only mutual TLS), got "${url}"`);
  return url;
}
