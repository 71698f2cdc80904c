// No imports: the command table (pki --help) holds these without loading the PKCS#11 code.

/** The options a command that creates issuer keys adds to keep them in a PKCS#11 token (issue 15). */
export const PKCS11_OPTIONS = {
  'pkcs11-module': { type: 'string' },
  'pkcs11-token-label': { type: 'string' },
  'pkcs11-pin-file': { type: 'string' },
} as const;

export const PKCS11_OPTIONS_HELP = `  --pkcs11-module PATH
                  generate the issuing CA key inside a PKCS#11 token (the vendor's library, e.g.
                  /usr/lib/softhsm/libsofthsm2.so) instead of an encrypted key file; keys/<issuer>.pkcs11.json
                  then names the token and key. The root key stays an encrypted key file
  --pkcs11-token-label LABEL
                  the token's label (required with --pkcs11-module)
  --pkcs11-pin-file FILE
                  the file holding the token's user PIN (default $PKI_PKCS11_PIN_FILE)`;
