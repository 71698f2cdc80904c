/** An issuer key cannot be opened: unreadable file, wrong passphrase or PIN, missing token or key. Never carries a secret. */
export class KeyLoadError extends Error {
  override readonly name = 'KeyLoadError';
}

/** An opened key failed to sign (a token error at signing time). Never carries a secret. */
export class SignerError extends Error {
  override readonly name = 'SignerError';
}
