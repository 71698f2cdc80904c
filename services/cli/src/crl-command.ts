import type { Command } from './command.js';

export const crlSignCommand: Command = {
  name: 'crl sign',
  summary: "re-sign the root's CRL with the root key (yearly; the CronJob pki-crl-sign-root)",
  help: `Usage: pki crl sign --root [--days N] [--issuer ROOT_ID] [--if-next-update-within DURATION] [--json]

Signs the CRL of each root of the PKI again (roots not retired; --issuer: one of them) with the
root key from <data-dir>/keys (opened with PKI_ROOT_KEY_PASSPHRASE_FILE, else
PKI_KEY_PASSPHRASE_FILE or PKI_KEY_PASSPHRASE), listing the CAs revoked under it, and stores it
where the OCSP responder serves CRLs (GET /crl/<rootId>.crl). \`pki init\` and \`rotate-root
prepare\` sign the first one for 365 days: sign again before its nextUpdate (alert
PkiCrlNextUpdateSoon). Every run takes the next CRL Number; the store keeps the highest, so runs
may be repeated or overlap. The CAs' own CRLs are signed by the CA service, not here.
A root of an external PKI (pki v2g import: no key, no CRL of ours) is left to its PKI.

Options:
  --root                the roots' CRLs (required: the only kind this command signs)
  --days N              nextUpdate N days ahead, 1 to 3650 (default 365; never past the root's notAfter)
  --issuer ROOT_ID      only this root (pki status lists them)
  --if-next-update-within DURATION
                        only roots whose stored CRL's nextUpdate comes within DURATION (e.g. 60d), or
                        that have none; the others are left as they are (no root key needed for them)
  --json                print the outcome per root as JSON

Exit 2: no --root, bad options, a root key missing from <data-dir>/keys or not opened by the passphrase.
`,
  options: {
    root: { type: 'boolean', default: false },
    days: { type: 'string', default: '365' },
    issuer: { type: 'string' },
    'if-next-update-within': { type: 'string' },
  },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./crl-run.js')).crlSign(values, positionals, ctx),
};

