import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic-file.js';
import { encryptPkcs8 } from './pkcs8.js';
import { KeyLoadError } from './key-errors.js';

export { writeFileAtomic } from './atomic-file.js';
export { KEY_FILE_SCRYPT, encryptPkcs8 } from './pkcs8.js';

/** Issuer key algorithms (A00.FR.505: ECDSA or RSA-PSS; A00.FR.506: SHA-256 or stronger). */
export const ISSUER_KEY_ALGORITHMS = ['ecdsa-p256', 'ecdsa-p384', 'rsa-pss-3072'] as const;
export type IssuerKeyAlgorithm = (typeof ISSUER_KEY_ALGORITHMS)[number];

export function generateIssuerKey(alg: IssuerKeyAlgorithm): KeyObject {
  switch (alg) {
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'ecdsa-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    case 'rsa-pss-3072':
      // An rsaEncryption key used only with PSS padding: the most widely readable SPKI form.
      return generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 }).privateKey;
  }
}

/**
 * Writes a private key as PKCS#8 PEM, encrypted (PBES2: scrypt, AES-256-CBC; see encryptPkcs8) when
 * a passphrase is given, readable by `openssl pkey`. Mode 0600, written atomically.
 */
export function writePrivateKey(path: string, key: KeyObject, passphrase?: string): void {
  const pem = passphrase ? encryptPkcs8(key, passphrase) : key.export({ type: 'pkcs8', format: 'pem' });
  writeFileAtomic(path, pem, 0o600);
}

export { KeyLoadError, SignerError } from './key-errors.js';

/**
 * Loads a PKCS#8 private key: plain, or encrypted with any PBES2 scheme OpenSSL reads (scrypt, and
 * the PBKDF2 files of earlier versions). The error never contains key material or the passphrase.
 */
export function readPrivateKey(path: string, passphrase?: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch {
    throw new KeyLoadError(`cannot read key file ${path}`);
  }
  try {
    return createPrivateKey(passphrase ? { key: pem, format: 'pem', passphrase } : { key: pem, format: 'pem' });
  } catch {
    throw new KeyLoadError(`cannot decrypt or parse key file ${path} (wrong passphrase?)`);
  }
}

/** What a key is for: each role may have its own passphrase. */
export type KeyRole = 'root' | 'issuing' | 'service-ca';

/** The file naming one role's passphrase; PKI_KEY_PASSPHRASE_FILE / PKI_KEY_PASSPHRASE serve the roles without one. */
export const ROLE_PASSPHRASE_FILE_ENV: Readonly<Record<KeyRole, string>> = {
  root: 'PKI_ROOT_KEY_PASSPHRASE_FILE',
  issuing: 'PKI_ISSUING_KEY_PASSPHRASE_FILE',
  'service-ca': 'PKI_SERVICE_CA_KEY_PASSPHRASE_FILE',
};

/** True when the environment names a passphrase for `role` (its own or the shared one). */
export function passphraseConfigured(env: NodeJS.ProcessEnv, role: KeyRole): boolean {
  return Boolean(env[ROLE_PASSPHRASE_FILE_ENV[role]] || env.PKI_KEY_PASSPHRASE_FILE || env.PKI_KEY_PASSPHRASE);
}

/**
 * The passphrase that protects the keys of `role` at rest: from the role's own file (e.g.
 * PKI_ROOT_KEY_PASSPHRASE_FILE, a mounted Secret), else from PKI_KEY_PASSPHRASE_FILE or
 * PKI_KEY_PASSPHRASE, else from `fallbackFile` (a dev PKI's secrets/key-passphrase).
 */
export function loadPassphrase(env: NodeJS.ProcessEnv, role: KeyRole, fallbackFile?: string): string {
  const own = ROLE_PASSPHRASE_FILE_ENV[role];
  const file = env[own] || env.PKI_KEY_PASSPHRASE_FILE || (env.PKI_KEY_PASSPHRASE ? undefined : fallbackFile);
  const value = file ? readSecretFile(file) : env.PKI_KEY_PASSPHRASE;
  if (!value) throw new KeyLoadError(`no passphrase for the ${role} key: set ${own}, PKI_KEY_PASSPHRASE_FILE or PKI_KEY_PASSPHRASE`);
  if (value.length < 16) throw new KeyLoadError(`the ${role} key passphrase must have at least 16 characters`);
  return value;
}

export function readSecretFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    throw new KeyLoadError(`cannot read secret file ${path}`);
  }
}

export { fileSigner, signatureAlgorithmFor, type Signer, type SignatureAlgorithmName } from './signer.js';
export {
  deletePkcs11IssuerKey,
  ecdsaRawToDer,
  generatePkcs11IssuerKey,
  newPkcs11KeyId,
  openPkcs11Session,
  pkcs11Signer,
  KeyGenerationError,
  type Pkcs11KeyGenOptions,
  type Pkcs11KeyRef,
  type Pkcs11Session,
  type Pkcs11SessionOptions,
} from './pkcs11-signer.js';
export {
  PKCS11_PIN_FILE_ENV,
  loadPkcs11Pin,
  openIssuerSigner,
  readPkcs11KeyRef,
  writePkcs11KeyRef,
  type IssuerKeyPaths,
  type IssuerKeySecrets,
  type Pkcs11IssuerKeyRef,
} from './issuer-signer.js';
