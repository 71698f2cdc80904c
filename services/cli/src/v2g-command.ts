import type { Command } from './command.js';
import { PKCS11_OPTIONS, PKCS11_OPTIONS_HELP } from './pkcs11-options-help.js';

export const v2gInitCommand: Command = {
  name: 'v2g init',
  summary: 'create the ISO 15118 V2G hierarchy (V2G root, CPO Sub-CA 1 and 2) for SECC certificates',
  help: `Usage: pki v2g init [--org NAME] [--pkcs11-module PATH --pkcs11-token-label LABEL [--pkcs11-pin-file FILE]] [--json]

Adds the V2G hierarchy of ISO 15118 Plug&Charge to an existing PKI (after \`pki init\`): a V2G Root
CA (pathLen 2), CPO Sub-CA 1 (pathLen 1) and CPO Sub-CA 2 (pathLen 0), EC P-256 with ECDSA-SHA256,
names CN, O, DC=V2G, each certificate at most 800 bytes; all active in the hierarchy "v2g". The CA
then signs SECC certificates (POST /v1/stations/{id}/certificates with certificateType
V2GCertificate) with CPO Sub-CA 2 and answers the chain SECC, Sub-CA 2, Sub-CA 1;
GET /v1/trust-anchors?hierarchy=v2g lists the V2G root. Empty CRLs of the root and Sub-CA 1 are
written (their keys stay here; the CA publishes Sub-CA 2's).

The root and Sub-CA 1 keys are encrypted with the root passphrase (PKI_ROOT_KEY_PASSPHRASE_FILE,
else PKI_KEY_PASSPHRASE_FILE or PKI_KEY_PASSPHRASE), Sub-CA 2's with the issuing one
(PKI_ISSUING_KEY_PASSPHRASE_FILE, ...) or generated in a PKCS#11 token. Refused (exit 2) when the
store holds a v2g hierarchy already.

Options:
  --org NAME      O of the three CA certificates (default: that of the csms root)
${PKCS11_OPTIONS_HELP.replace(/issuing CA key/g, 'CPO Sub-CA 2 key')}
  --json          {"root": id, "subCa1": id, "subCa2": id}
`,
  options: { org: { type: 'string' }, ...PKCS11_OPTIONS },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./v2g-run.js')).v2gInitRun(values, positionals, ctx),
};

export const v2gImportCommand: Command = {
  name: 'v2g import',
  summary: 'import a CPO Sub-CA 2 issued by an external V2G PKI (with its chain) as the v2g hierarchy',
  help: `Usage: pki v2g import --sub-ca2-cert FILE --chain FILE (--key FILE | --pkcs11-module PATH --pkcs11-token-label LABEL
                      [--pkcs11-pin-file FILE] --pkcs11-key-label LABEL --pkcs11-key-id HEX) [--json]

Makes a CPO Sub-CA 2 that an external ISO 15118 V2G PKI issued the CA's signer of SECC certificates
(V2GCertificate), instead of \`pki v2g init\`. The chain is checked first (ISO 15118-2 Annex F):
every certificate EC P-256 signed ECDSA-SHA256 (V2G.curve); Sub-CA 2 signed by Sub-CA 1, Sub-CA 1 by
the root, the root self-signed; each a CA with keyCertSign and cRLSign, pathLen 0 / at least 1 / at
least 2 (or none), valid now (V2G.chain); the key is the Sub-CA 2 certificate's (V2G.key).

The V2G root and Sub-CA 1 are stored without keys (the external PKI signs with them; their CRLs are
its own), all three active in the hierarchy "v2g"; Sub-CA 2's key is written to keys/ encrypted with
the issuing passphrase (PKI_ISSUING_KEY_PASSPHRASE_FILE, else PKI_KEY_PASSPHRASE_FILE or
PKI_KEY_PASSPHRASE), or, when it is in a PKCS#11 token already, named by keys/<id>.pkcs11.json (the CA
needs PKI_PKCS11_PIN_FILE). Refused (exit 2), writing nothing, when a check fails or the store holds a v2g
hierarchy already. A hierarchy imported this way is renewed by importing the next Sub-CA 2 from the
external PKI: \`pki rotate-issuer --hierarchy v2g\` needs Sub-CA 1's key.

Options:
  --sub-ca2-cert FILE  PEM: the CPO Sub-CA 2 certificate
  --chain FILE         PEM: CPO Sub-CA 1 and the V2G root certificates (any order)
  --key FILE           PEM: Sub-CA 2's private key, unencrypted (PKCS#8 or SEC1)
  --pkcs11-module PATH, --pkcs11-token-label LABEL, --pkcs11-pin-file FILE (default $PKI_PKCS11_PIN_FILE)
                       or: the token holding Sub-CA 2's key, with
  --pkcs11-key-label LABEL, --pkcs11-key-id HEX  its CKA_LABEL and CKA_ID
  --json               {"root": id, "subCa1": id, "subCa2": id}
`,
  options: { 'sub-ca2-cert': { type: 'string' }, chain: { type: 'string' }, key: { type: 'string' }, ...PKCS11_OPTIONS, 'pkcs11-key-label': { type: 'string' }, 'pkcs11-key-id': { type: 'string' } },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./v2g-run.js')).v2gImportRun(values, positionals, ctx),
};

