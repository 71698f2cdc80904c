import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  ISSUER_KEY_ALGORITHMS,
  ROLE_PASSPHRASE_FILE_ENV,
  generateIssuerKey,
  loadPassphrase,
  passphraseConfigured,
  writeFileAtomic,
  writePrivateKey,
  type IssuerKeyAlgorithm,
  type KeyRole,
} from '@evpki/keys';
import { dataPaths, issuerUrls, loadStoreConfig, manifestStoreOf, type PkiManifest } from '@evpki/service';
import { DEFAULT_HIERARCHY, openStore } from '@evpki/store';
import { issuerIdFor, makeEmptyCrl, makeRoot, makeSubCa } from './hierarchy.js';
import { CliError } from './cli-error.js';
import { ensureRaTokenKey } from './clients.js';
import { newIssuingKey, type IssuingKeyHome } from './issuing-key.js';
import { checkToken, type Pkcs11Target } from './pkcs11-options.js';
import { DEFAULT_CA_HOSTNAMES, createServiceCa, issueServiceCerts, parseCaHostnames, type ServerNames } from './service-certs.js';

export interface InitOptions {
  readonly dataDir: string;
  readonly dev: boolean;
  readonly force: boolean;
  readonly algorithm: IssuerKeyAlgorithm;
  readonly organization: string;
  readonly publicOcspBase: string;
  readonly env: NodeJS.ProcessEnv;
  /** Issue 15: generate the issuing CA key in this PKCS#11 token (the root key stays a key file). */
  readonly pkcs11?: Pkcs11Target;
  /** Names in the CA's TLS server certificate (default DEFAULT_CA_HOSTNAMES). */
  readonly caHostnames?: ServerNames;
  readonly now?: Date;
}

export const DEV_TENANT = { id: 'demo', cpoName: 'Demo CPO', serverDomains: ['demo.local'] } as const;
export const DEV_JWT = { issuer: 'pki-dev', audience: 'evpki-ra' } as const;

/**
 * `pki init`: the csms hierarchy (a root CA and an issuing sub-CA for charge point and CSMS server
 * certificates), and the internal service CA with the services' TLS certificates (RA/OCSP → CA
 * mutual TLS). Issuer keys and the service CA key are written as encrypted PKCS#8, except an
 * issuing CA key generated in a PKCS#11 token (`pkcs11`), of which keys/<id>.pkcs11.json names the
 * token and key. With --dev: tenant `demo` and a JWT signing key for `pki token`.
 */
export async function initPki(o: InitOptions): Promise<PkiManifest> {
  const paths = dataPaths(o.dataDir);
  if (existsSync(paths.manifest) && !o.force) throw new CliError(`a PKI already exists at ${o.dataDir}; use --force to replace it`, 2);
  if (!(ISSUER_KEY_ALGORITHMS as readonly string[]).includes(o.algorithm))
    throw new CliError(`--algorithm must be one of ${ISSUER_KEY_ALGORITHMS.join(', ')}`, 2);
  // pki.json records it (Manifest.store): every later command and service must name the same one.
  const storeConfig = { ...loadStoreConfig(o.env), dataDir: o.dataDir };
  // A token that cannot be opened (module, label, PIN) fails before --force removes anything.
  if (o.pkcs11) await checkToken(o.pkcs11);
  if (o.force) for (const sub of ['store', 'keys', 'secrets', 'ra', 'pki.json']) rmSync(join(o.dataDir, sub), { recursive: true, force: true });
  // Private: the store, the keys and the secrets are in it (issue 14.9).
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(o.dataDir, 0o700);

  // Each key role's passphrase (its own file, else the shared one); --dev without any: one random
  // passphrase for all, in secrets/key-passphrase.
  let devPassphrase: string | undefined;
  const passphraseOf = (role: KeyRole): string => {
    if (passphraseConfigured(o.env, role)) return loadPassphrase(o.env, role);
    if (!o.dev) throw new CliError(`set ${ROLE_PASSPHRASE_FILE_ENV[role]} or PKI_KEY_PASSPHRASE_FILE (or PKI_KEY_PASSPHRASE) to protect the ${role} key`, 2);
    if (devPassphrase === undefined) {
      devPassphrase = randomBytes(24).toString('base64url');
      writeFileAtomic(paths.devPassphrase, devPassphrase + '\n', 0o600);
    }
    return devPassphrase;
  };
  const rootPassphrase = passphraseOf('root');
  // Issue 15: with a PKCS#11 token the issuing CA key is generated in it and needs no passphrase.
  const issuingHome: IssuingKeyHome = o.pkcs11 ? { token: o.pkcs11 } : { passphrase: passphraseOf('issuing') };
  const serviceCaPassphrase = passphraseOf('service-ca');

  const now = o.now ?? new Date();
  const rootKey = generateIssuerKey(o.algorithm);
  const root = await makeRoot(rootKey, { organization: o.organization, commonName: `${o.organization} Root CA` }, now, 20);
  const rootId = issuerIdFor('root', root);
  const subKey = await newIssuingKey(o.dataDir, o.algorithm, issuingHome, now);

  // Everything after the issuing key exists: if it fails, the key is destroyed again (guard).
  const writeHierarchy = async (): Promise<PkiManifest['issuers']> => {
    const sub = await makeSubCa(subKey.key, { organization: o.organization, commonName: `${o.organization} Charge Point CA` }, root, rootKey, now, 10, issuerUrls(o.publicOcspBase, rootId));
    const subId = issuerIdFor('cp', sub);

    writePrivateKey(paths.issuerKey(rootId), rootKey, rootPassphrase);
    subKey.save(subId);
    await issueServiceCerts(o.dataDir, await createServiceCa(o.dataDir, o.organization, serviceCaPassphrase, now), o.caHostnames ?? parseCaHostnames(DEFAULT_CA_HOSTNAMES), now);

    ensureRaTokenKey(o.dataDir);
    if (o.dev) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      writePrivateKey(paths.jwtSigningKey, privateKey);
      const jwk = { ...createPublicKey(privateKey).export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: randomBytes(8).toString('hex') };
      writeFileAtomic(paths.jwtPublicJwk, JSON.stringify(jwk, null, 2) + '\n');
    }

    // The configured backend (REDIS_URL: the shared Redis store), like the services.
    const store = openStore(storeConfig);
    try {
      if (!o.force && (await store.listIssuers()).length) throw new CliError('the store already holds a PKI; use --force to add a new hierarchy to it', 2);
      const createdAt = now.toISOString();
      await store.putIssuer({ id: rootId, hierarchy: DEFAULT_HIERARCHY, role: 'root', parentId: rootId, certificate: root.der, state: 'active', createdAt });
      await store.putIssuer({ id: subId, hierarchy: DEFAULT_HIERARCHY, role: 'issuing', parentId: rootId, certificate: sub.der, state: 'active', createdAt });
      // The root's CRL (it lists revoked sub-CAs; none yet), so that `openssl verify -crl_check_all`
      // works for the whole chain. The CA service publishes the sub-CA's own CRL.
      const rootCrl = await makeEmptyCrl(rootKey, root, await store.nextCrlNumber(rootId), now, 365);
      if (!(await store.putCrl({ issuerId: rootId, ...rootCrl }))) throw new CliError(`the store already holds a newer CRL for ${rootId}`, 1);
      if (o.dev) await store.putTenant({ ...DEV_TENANT, disabled: false, createdAt });
    } finally {
      await store.close();
    }
    return { root: rootId, chargePoint: subId };
  };
  let issuers: PkiManifest['issuers'];
  try {
    issuers = await subKey.guard(writeHierarchy());
  } finally {
    await subKey.close();
  }

  const manifest: PkiManifest = {
    version: 1,
    createdAt: now.toISOString(),
    dev: o.dev,
    algorithm: o.algorithm,
    issuers,
    publicOcspBase: o.publicOcspBase,
    jwt: DEV_JWT,
    store: manifestStoreOf(storeConfig),
  };
  writeFileAtomic(paths.manifest, JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
