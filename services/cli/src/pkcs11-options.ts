import type { KeyObject } from 'node:crypto';
import {
  KeyLoadError,
  deletePkcs11IssuerKey,
  generatePkcs11IssuerKey,
  loadPkcs11Pin,
  newPkcs11KeyId,
  openPkcs11Session,
  pkcs11Signer,
  type IssuerKeyAlgorithm,
  type Pkcs11IssuerKeyRef,
  type Pkcs11Session,
  type Signer,
} from '@evpki/keys';
import { CliError } from './cli-error.js';
import type { OptionValues } from './command.js';
import { EXIT } from './exit-codes.js';

export { PKCS11_OPTIONS, PKCS11_OPTIONS_HELP } from './pkcs11-options-help.js';

export interface Pkcs11Target {
  readonly module: string;
  readonly tokenLabel: string;
  readonly pin: string;
}

/** The token the options name, or undefined when none is (file keys). Partial options are a CliError, exit 2. */
export function pkcs11TargetFrom(values: OptionValues, env: NodeJS.ProcessEnv): Pkcs11Target | undefined {
  const module = values['pkcs11-module'] as string | undefined;
  const tokenLabel = values['pkcs11-token-label'] as string | undefined;
  const pinFile = values['pkcs11-pin-file'] as string | undefined;
  if (!module && !tokenLabel && !pinFile) return undefined;
  if (!module || !tokenLabel) throw new CliError('--pkcs11-module and --pkcs11-token-label go together (issuer keys in a PKCS#11 token)', EXIT.badInput);
  try {
    return { module, tokenLabel, pin: loadPkcs11Pin(env, pinFile) };
  } catch (e) {
    throw new CliError((e as Error).message + ' (or pass --pkcs11-pin-file)', EXIT.badInput);
  }
}

/** A logged-in session on the token; a missing module or token, or a refused PIN, is a CliError (exit 2). */
async function openToken(target: Pkcs11Target): Promise<Pkcs11Session> {
  try {
    return await openPkcs11Session(target);
  } catch (e) {
    throw new CliError((e as Error).message, e instanceof KeyLoadError ? EXIT.badInput : EXIT.failure);
  }
}

/** Logs in and out once: a command checks the token before it changes anything (`pki init --force`). */
export async function checkToken(target: Pkcs11Target): Promise<void> {
  await (await openToken(target)).close();
}

export interface TokenIssuerKey {
  /** To write as keys/<issuerId>.pkcs11.json once the issuer id is known (writePkcs11KeyRef). */
  readonly ref: Pkcs11IssuerKeyRef;
  readonly publicKey: KeyObject;
  readonly signer: Signer;
  /** The logged-in token: close it when done; deletePkcs11IssuerKey(session, ref) undoes a failed init. */
  readonly session: Pkcs11Session;
}

/**
 * Generates an issuer key pair in the token (label `label`, a fresh random id) and opens its Signer.
 * A login or generation failure is a CliError (exit 2) with the token's reason, never the PIN.
 */
export async function createTokenIssuerKey(target: Pkcs11Target, algorithm: IssuerKeyAlgorithm, label: string): Promise<TokenIssuerKey> {
  const session = await openToken(target);
  const ref: Pkcs11IssuerKeyRef = { module: target.module, tokenLabel: target.tokenLabel, keyLabel: label, keyId: newPkcs11KeyId() };
  try {
    const publicKey = await generatePkcs11IssuerKey(session, { algorithm, label, id: ref.keyId });
    try {
      return { ref, publicKey, signer: await pkcs11Signer(session, ref), session };
    } catch (e) {
      await deletePkcs11IssuerKey(session, ref);
      throw e;
    }
  } catch (e) {
    await session.close();
    throw new CliError((e as Error).message, EXIT.badInput);
  }
}
