import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic-file.js';
import { readPrivateKey, readSecretFile } from './index.js';
import { KeyLoadError } from './key-errors.js';
import { checkKeyRef, type Pkcs11KeyRef } from './pkcs11-keys.js';
import { openPkcs11Session } from './pkcs11-session.js';
import { pkcs11Signer } from './pkcs11-signer.js';
import { fileSigner, type Signer } from './signer.js';

/**
 * `<dataDir>/keys/<issuerId>.pkcs11.json`: where an issuer's private key lives when it is in a
 * token. Names the module, token and key; never the PIN (that comes from PKI_PKCS11_PIN_FILE).
 */
export interface Pkcs11IssuerKeyRef extends Pkcs11KeyRef {
  /** Path of the PKCS#11 library. */
  readonly module: string;
  readonly tokenLabel: string;
}

const REF_FIELDS = ['module', 'tokenLabel', 'keyLabel', 'keyId'] as const;

export function writePkcs11KeyRef(path: string, ref: Pkcs11IssuerKeyRef): void {
  const clean = Object.fromEntries(REF_FIELDS.map((f) => [f, ref[f]])) as unknown as Pkcs11IssuerKeyRef;
  validateRef(clean, path);
  writeFileAtomic(path, JSON.stringify(clean, null, 2) + '\n', 0o600);
}

export function readPkcs11KeyRef(path: string): Pkcs11IssuerKeyRef {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new KeyLoadError(`cannot read PKCS#11 key reference ${path} (not a readable JSON file)`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new KeyLoadError(`${path}: a PKCS#11 key reference is a JSON object`);
  const extra = Object.keys(parsed).filter((k) => !(REF_FIELDS as readonly string[]).includes(k));
  if (extra.some((k) => /pin|pass|secret/i.test(k))) throw new KeyLoadError(`${path}: a PKCS#11 key reference must not hold a PIN (use PKI_PKCS11_PIN_FILE)`);
  if (extra.length) throw new KeyLoadError(`${path}: unknown field(s) ${extra.join(', ')} (expected ${REF_FIELDS.join(', ')})`);
  const ref = parsed as Pkcs11IssuerKeyRef;
  validateRef(ref, path);
  return ref;
}

function validateRef(ref: Pkcs11IssuerKeyRef, path: string): void {
  for (const f of REF_FIELDS)
    if (typeof ref[f] !== 'string' || ref[f] === '') throw new KeyLoadError(`${path}: PKCS#11 key reference field '${f}' must be a non-empty string`);
  try {
    checkKeyRef(ref);
  } catch (e) {
    throw new KeyLoadError(`${path}: ${(e as Error).message}`);
  }
}

/** The env variable naming the file that holds the PKCS#11 user PIN (a mounted Secret). */
export const PKCS11_PIN_FILE_ENV = 'PKI_PKCS11_PIN_FILE';

/** The token PIN from `pinFile` (a CLI flag such as --pkcs11-pin-file) or else from PKI_PKCS11_PIN_FILE. */
export function loadPkcs11Pin(env: NodeJS.ProcessEnv, pinFile?: string): string {
  const file = pinFile || env[PKCS11_PIN_FILE_ENV];
  if (!file) throw new KeyLoadError(`no PKCS#11 PIN: set ${PKCS11_PIN_FILE_ENV} to a file holding the token's user PIN`);
  const pin = readSecretFile(file);
  if (!pin) throw new KeyLoadError(`the PKCS#11 PIN file ${file} is empty`);
  return pin;
}

export interface IssuerKeyPaths {
  /** The encrypted PKCS#8 key file (dataPaths(dir).issuerKey(id)). */
  readonly keyFile: string;
  /** The token reference (dataPaths(dir).issuerPkcs11Ref(id)). */
  readonly pkcs11RefFile: string;
}

export interface IssuerKeySecrets {
  /** Asked only for a key file. */
  readonly passphrase: () => string;
  /** Asked only for a token reference. */
  readonly pkcs11Pin: () => string;
}

/**
 * The issuer's Signer, wherever its key lives: an encrypted key file, or a PKCS#11 token named by
 * a reference file beside it. Exactly one of the two must exist. Only the secret that backend needs
 * is asked for. Token sessions stay open for the process (one login per token, shared by issuers).
 */
export async function openIssuerSigner(paths: IssuerKeyPaths, secrets: IssuerKeySecrets): Promise<Signer> {
  const hasFile = existsSync(paths.keyFile);
  const hasRef = existsSync(paths.pkcs11RefFile);
  if (hasFile && hasRef)
    throw new KeyLoadError(`both a key file ${paths.keyFile} and a PKCS#11 key reference ${paths.pkcs11RefFile} exist: remove the one not in use`);
  if (hasFile) return fileSigner(readPrivateKey(paths.keyFile, secrets.passphrase()));
  if (!hasRef) throw new KeyLoadError(`no issuer key: neither ${paths.keyFile} nor ${paths.pkcs11RefFile} exists`);
  const ref = readPkcs11KeyRef(paths.pkcs11RefFile);
  const session = await openPkcs11Session({ module: ref.module, tokenLabel: ref.tokenLabel, pin: secrets.pkcs11Pin() });
  try {
    return await pkcs11Signer(session, ref);
  } catch (e) {
    await session.close();
    throw e;
  }
}
