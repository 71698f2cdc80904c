import type { Command } from './command.js';
import { PKCS11_OPTIONS, PKCS11_OPTIONS_HELP } from './pkcs11-options-help.js';
import { DEFAULT_CA_HOSTNAMES, SERVICE_CERT_DAYS } from './service-cert-defaults.js';

export const initCommand: Command = {
  name: 'init',
  summary: 'create a root CA, the charge point issuing CA and the service TLS certificates',
  help: `Usage: pki init [--dev] [--force] [--algorithm ecdsa-p256|ecdsa-p384|rsa-pss-3072] [--org NAME] [--ocsp-url URL] [--ca-hostnames LIST]
                [--pkcs11-module PATH --pkcs11-token-label LABEL [--pkcs11-pin-file FILE]] [--v2g] [--json]

Creates a root CA, an issuing sub-CA for charge point certificates, and an internal service CA
("<org> Internal Service CA", EC P-256, 10 years) with the certificates of RA/OCSP -> CA mutual TLS:
the CA's server certificate (secrets/ca-server.pem) and the RA's and OCSP responder's client
certificates (secrets/ra-client.pem, secrets/ocsp-client.pem; CN pki-ra, pki-ocsp), valid ${SERVICE_CERT_DAYS}
days: renew them with \`pki service-certs renew\` within the year.
Issuer keys and the service CA key are encrypted (PKCS#8, scrypt, AES-256-CBC) with the passphrase
of their role: PKI_ROOT_KEY_PASSPHRASE_FILE, PKI_ISSUING_KEY_PASSPHRASE_FILE,
PKI_SERVICE_CA_KEY_PASSPHRASE_FILE, each falling back to PKI_KEY_PASSPHRASE_FILE or PKI_KEY_PASSPHRASE
(--dev without any writes a random one to <data>/secrets/key-passphrase);
the three service keys are unencrypted (mode 0600), each for one service. With REDIS_URL the
hierarchy is written to that Redis store.

With --pkcs11-module and --pkcs11-token-label the issuing CA key is generated inside that PKCS#11
token (sensitive, never extractable) instead of a key file, and keys/<issuer>.pkcs11.json names the
module, token and key (never the PIN). The CA then signs certificates, OCSP signer certificates and
CRLs in the token; start it with PKI_PKCS11_PIN_FILE naming the PIN file. The root key stays an
encrypted key file (it signs only here and in \`pki rotate-* prepare\`, and is kept off-line), as do
the service CA key and the service keys. --force does not delete keys from the token.

With --v2g it then creates the ISO 15118 V2G hierarchy too, exactly as \`pki v2g init\` with the same
--org and --pkcs11-* (V2G root, CPO Sub-CA 1 and 2; Sub-CA 2's key in the token when one is given):
see \`pki v2g init --help\`. Should that step fail (e.g. --force on a Redis store, which keeps its
v2g hierarchy), the csms PKI stays and \`pki v2g init\` can be run on its own.

Options:
  --dev           also create tenant "demo" (CPO name "Demo CPO") and a JWT key for \`pki token\`
  --force         replace an existing PKI in the data directory
  --algorithm A   issuer key algorithm (default ecdsa-p256)
  --org NAME      the CPO organisation name in the CA certificates (required without --dev)
  --ocsp-url URL  public OCSP base URL for the AIA extension (default http://127.0.0.1:$OCSP_PORT or 8082)
  --ca-hostnames LIST
                  comma-separated DNS names and IP addresses the RA and the OCSP responder reach the
                  CA at, for its server certificate (default ${DEFAULT_CA_HOSTNAMES.join(',')})
${PKCS11_OPTIONS_HELP}
  --v2g           also create the V2G hierarchy (pki v2g init)
  --json          print the manifest (pki.json) as JSON; with --v2g, the V2G ids as "v2g": {root, subCa1, subCa2}

Exit 2: a PKI already exists (use --force), bad options, or the token refused the PIN or the key.
`,
  options: {
    dev: { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
    algorithm: { type: 'string', default: 'ecdsa-p256' },
    org: { type: 'string' },
    'ocsp-url': { type: 'string' },
    'ca-hostnames': { type: 'string' },
    v2g: { type: 'boolean', default: false },
    ...PKCS11_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./init-run.js')).initRun(values, positionals, ctx),
};

