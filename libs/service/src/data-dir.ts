import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenStoreOptions } from '@evpki/store';
import { ConfigError } from './config.js';
import { checkManifestStore, type ManifestStore } from './manifest-store.js';

/** The service certificates: the CA's API listener (server) and the RA's and OCSP responder's client identities. */
export type ServiceCertName = 'ca-server' | 'ra-client' | 'ocsp-client';

/**
 * The PKI data directory written by `pki init`. Secrets live in their own files so that each
 * service (and each Kubernetes Secret) gets only what it needs: issuer keys go to the CA only.
 */
export function dataPaths(dataDir: string) {
  return {
    manifest: join(dataDir, 'pki.json'),
    store: join(dataDir, 'store'),
    /** Encrypted issuer keys: root (CLI only) and issuing CAs (CA only). */
    issuerKey: (issuerId: string) => join(dataDir, 'keys', `${issuerId}.key.pem`),
    /** Instead of the key file: where in a PKCS#11 token the issuer's key is (module, token, label, id; no PIN). */
    issuerPkcs11Ref: (issuerId: string) => join(dataDir, 'keys', `${issuerId}.pkcs11.json`),
    /** Dev only: the passphrase protecting issuer keys (production mounts it from a Secret). */
    devPassphrase: join(dataDir, 'secrets', 'key-passphrase'),
    /** The internal service CA's certificate: RA and OCSP → CA mutual TLS trust only it (issue 7). */
    serviceCaCert: join(dataDir, 'secrets', 'service-ca.pem'),
    /** The service CA's key, encrypted like the issuer keys: only the CLI reads it (`pki service-certs renew`). */
    serviceCaKey: join(dataDir, 'secrets', 'service-ca.key.pem'),
    /** One service's TLS certificate and its unencrypted key (mode 0600), issued by the service CA. */
    serviceCert: (name: ServiceCertName) => ({ cert: join(dataDir, 'secrets', `${name}.pem`), key: join(dataDir, 'secrets', `${name}.key.pem`) }),
    /** Dev only: the key `pki token` signs RA bearer tokens with. */
    jwtSigningKey: join(dataDir, 'secrets', 'jwt-signing.key.pem'),
    /**
     * The RA's own token key (ES256, PKCS#8, mode 0600): the RA signs the access tokens of POST
     * /oauth/token with it and accepts them (Plug&Charge 4.4). A file, so every RA instance
     * shares it; written by `pki init` and, for older data directories, by `pki clients add`.
     */
    raTokenKey: join(dataDir, 'secrets', 'ra-token.key.pem'),
    /** The public JWK the RA verifies bearer tokens with. */
    jwtPublicJwk: join(dataDir, 'ra', 'jwt-public.jwk.json'),
  };
}

export interface PkiManifest {
  readonly version: 1;
  readonly createdAt: string;
  readonly dev: boolean;
  readonly algorithm: string;
  readonly issuers: { readonly root: string; readonly chargePoint: string };
  /** Base URL put into certificates for OCSP, issuer certificates and CRLs. */
  readonly publicOcspBase: string;
  readonly jwt: { readonly issuer: string; readonly audience: string };
  /** The store `pki init` made the PKI in (manifest-store.ts); absent in manifests written before it was recorded. */
  readonly store?: ManifestStore;
}

export function readManifest(dataDir: string): PkiManifest {
  const path = dataPaths(dataDir).manifest;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`no PKI at ${dataDir}: run \`pki init\` first (missing ${path})`);
  }
  const m = JSON.parse(text) as PkiManifest;
  if (m.version !== 1) throw new ConfigError(`${path}: unsupported manifest version ${String(m.version)}`);
  const s = m.store as { backend?: unknown; url?: unknown } | undefined;
  if (s !== undefined && !(s.backend === 'lmdb' || (s.backend === 'redis' && typeof s.url === 'string')))
    throw new ConfigError(`Manifest.store: ${path}: "store" must be {"backend":"lmdb"} or {"backend":"redis","url":"redis://host:port/db"}`);
  return m;
}

/**
 * pki.json, after checking that the configured store (REDIS_URL or not) is the one it records:
 * every service and every `pki` command that opens the store reads it this way (Manifest.store).
 * `note` gets a remark when the manifest records no store.
 */
export function readManifestFor(dataDir: string, store: Pick<OpenStoreOptions, 'redis'>, note: (text: string) => void): PkiManifest {
  const m = readManifest(dataDir);
  const checked = checkManifestStore(m.store, store, dataPaths(dataDir).manifest);
  if (checked.note) note(checked.note);
  return m;
}

/** URLs for one issuer under the public OCSP base (RFC 5280 AIA and CRL DP). */
export function issuerUrls(base: string, issuerId: string) {
  return { ocsp: `${base}/ocsp`, caIssuers: `${base}/issuers/${issuerId}.der`, crl: `${base}/crl/${issuerId}.crl` };
}
