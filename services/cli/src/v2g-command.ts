import type { Command } from './command.js';
import { EXIT } from './exit-codes.js';
import { PKCS11_OPTIONS, PKCS11_OPTIONS_HELP, pkcs11TargetFrom } from './pkcs11-options.js';
import { initV2g } from './v2g.js';

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
  async run(values, _positionals, ctx) {
    const pkcs11 = pkcs11TargetFrom(values, ctx.env);
    const org = values.org as string | undefined;
    const h = await initV2g({ dataDir: ctx.dataDir, env: ctx.env, ...(org ? { organization: org } : {}), ...(pkcs11 ? { pkcs11 } : {}) });
    if (ctx.json) ctx.out(JSON.stringify(h) + '\n');
    else ctx.out(`V2G hierarchy created: root ${h.root}, CPO Sub-CA 1 ${h.subCa1}, CPO Sub-CA 2 ${h.subCa2}\n`);
    return EXIT.ok;
  },
};
