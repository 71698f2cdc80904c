import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic-file.js';

export { writeFileAtomic } from './atomic-file.js';

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
 * Writes a private key as PKCS#8 PEM, encrypted (PBES2, AES-256-CBC) when a passphrase is given,
 * readable by `openssl pkey`. Mode 0600, written atomically.
 */
export function writePrivateKey(path: string, key: KeyObject, passphrase?: string): void {
  const pem = passphrase
    ? key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase })
    : key.export({ type: 'pkcs8', format: 'pem' });
  writeFileAtomic(path, pem, 0o600);
}

export class KeyLoadError extends Error {
  override readonly name = 'KeyLoadError';
}

/** Loads a PKCS#8 private key; the error never contains key material or the passphrase. */
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

/**
 * The passphrase that protects issuer keys at rest: from the file named by
 * PKI_KEY_PASSPHRASE_FILE (a mounted Secret) or from PKI_KEY_PASSPHRASE.
 */
export function loadPassphrase(env: NodeJS.ProcessEnv, fallbackFile?: string): string {
  const file = env.PKI_KEY_PASSPHRASE_FILE ?? (env.PKI_KEY_PASSPHRASE ? undefined : fallbackFile);
  const value = file ? readSecretFile(file) : env.PKI_KEY_PASSPHRASE;
  if (!value) throw new KeyLoadError('no key passphrase: set PKI_KEY_PASSPHRASE_FILE or PKI_KEY_PASSPHRASE');
  if (value.length < 16) throw new KeyLoadError('key passphrase must have at least 16 characters');
  return value;
}

export function readSecretFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    throw new KeyLoadError(`cannot read secret file ${path}`);
  }
}
