import { createHash } from 'node:crypto';
import { KeyLoadError, PKCS11_PIN_FILE_ENV, loadPassphrase, loadPkcs11Pin, openIssuerSigner, readPkcs11KeyRef, type Signer } from '@evpki/keys';
import { dataPaths } from '@evpki/service';

/** Login failures that another try with the same PIN cannot fix, and that count towards locking it. */
const PIN_REFUSED = /CKR_PIN_(?:INCORRECT|LOCKED|EXPIRED|INVALID|LEN_RANGE)/;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * The CA's issuing CA keys (issue 15), wherever each lives: `keys/<id>.key.pem` (encrypted, the
 * issuing passphrase) or a PKCS#11 token named by `keys/<id>.pkcs11.json` (the user PIN from
 * PKI_PKCS11_PIN_FILE). Each secret is read only when a key needs it, and on every attempt: a CA
 * whose keys are all in a token needs no passphrase, and a corrected PIN Secret is picked up
 * without a restart.
 *
 * A PIN the token refused is not offered again until the PIN file changes: the IssuerSet retries a
 * missing key every few seconds, and an HSM locks its user PIN after a few wrong tries.
 */
export function issuerSignerLoader(dataDir: string, env: NodeJS.ProcessEnv, devPassphraseFile?: string): (issuerId: string) => Promise<Signer> {
  const paths = dataPaths(dataDir);
  /** Token (module and label) → the refused PIN's hash and the error it got. */
  const refused = new Map<string, { pin: string; error: string }>();
  return async (issuerId) => {
    let attempt: { token: string; pin: string } | undefined;
    const pkcs11Pin = (): string => {
      const ref = readPkcs11KeyRef(paths.issuerPkcs11Ref(issuerId));
      const token = `${ref.module}\0${ref.tokenLabel}`;
      const pin = loadPkcs11Pin(env);
      const known = refused.get(token);
      if (known?.pin === sha256(pin)) throw new KeyLoadError(known.error);
      attempt = { token, pin: sha256(pin) };
      return pin;
    };
    try {
      return await openIssuerSigner(
        { keyFile: paths.issuerKey(issuerId), pkcs11RefFile: paths.issuerPkcs11Ref(issuerId) },
        { passphrase: () => loadPassphrase(env, 'issuing', devPassphraseFile), pkcs11Pin },
      );
    } catch (e) {
      const message = (e as Error).message;
      if (!attempt || !PIN_REFUSED.test(message)) throw e;
      const error = `${message}; the PIN in ${env[PKCS11_PIN_FILE_ENV]} is not offered again until that file changes (repeated wrong PINs lock the token)`;
      refused.set(attempt.token, { pin: attempt.pin, error });
      throw new KeyLoadError(error);
    }
  };
}
