import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { deletePkcs11IssuerKey, generateIssuerKey, writePkcs11KeyRef, writePrivateKey, type IssuerKeyAlgorithm } from '@evpki/keys';
import { dataPaths } from '@evpki/service';
import type { SigningKey } from './hierarchy.js';
import { createTokenIssuerKey, type Pkcs11Target } from './pkcs11-options.js';

/** Where a new issuing CA key goes: an encrypted key file, or a PKCS#11 token (issue 15). */
export type IssuingKeyHome = { readonly passphrase: string } | { readonly token: Pkcs11Target };

/** A new issuing CA key, before the store names it. */
export interface NewIssuingKey {
  /** Signs as the subject key of the issuing CA certificate (a token key: its Signer's public key). */
  readonly key: SigningKey;
  /** Writes keys/<issuerId>.key.pem (encrypted) or keys/<issuerId>.pkcs11.json (module, token, key; never the PIN). */
  save(issuerId: string): void;
  /**
   * `step`'s result; when it fails, the new key is destroyed (token objects and the file saved) and
   * the session closed: a failed command leaves no key that nothing names.
   */
  guard<T>(step: Promise<T>): Promise<T>;
  /** Ends the token session (nothing for a key file). */
  close(): Promise<void>;
}

/** CKA_LABEL of a token key: readable in `pkcs11-tool --list-objects`, unique (a label must name one key). */
function tokenKeyLabel(now: Date): string {
  return `evpki-issuing-${now.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z-${randomBytes(2).toString('hex')}`;
}

/**
 * Generates an issuing CA key: in memory, written encrypted by save(); or in the token, where the
 * private half stays (sensitive, never extractable). The root key is never made here: it stays a
 * key file, off-line between rotations.
 */
export async function newIssuingKey(dataDir: string, algorithm: IssuerKeyAlgorithm, home: IssuingKeyHome, now: Date): Promise<NewIssuingKey> {
  const paths = dataPaths(dataDir);
  let saved: string | undefined;
  const forget = (): void => {
    if (saved) rmSync(saved, { force: true });
  };
  if ('passphrase' in home) {
    const key = generateIssuerKey(algorithm);
    return {
      key,
      save: (issuerId) => writePrivateKey((saved = paths.issuerKey(issuerId)), key, home.passphrase),
      guard: (step) =>
        step.catch((e: unknown) => {
          forget();
          throw e;
        }),
      close: async () => undefined,
    };
  }
  const made = await createTokenIssuerKey(home.token, algorithm, tokenKeyLabel(now));
  let open = true;
  const close = async (): Promise<void> => {
    if (open) await made.session.close();
    open = false;
  };
  return {
    key: made.signer,
    save: (issuerId) => writePkcs11KeyRef((saved = paths.issuerPkcs11Ref(issuerId)), made.ref),
    guard: (step) =>
      step.catch(async (e: unknown) => {
        forget();
        if (open) await deletePkcs11IssuerKey(made.session, made.ref).catch(() => undefined);
        await close();
        throw e;
      }),
    close,
  };
}
