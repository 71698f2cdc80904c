import { CliError } from './cli-error.js';
import type { Command } from './command.js';
import { parseDuration } from './duration.js';
import { EXIT } from './exit-codes.js';
import { withStore } from './open-pki-store.js';
import { signRootCrls } from './root-crl.js';

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
  async run(values, _positionals, ctx) {
    if (values.root !== true) throw new CliError('give --root: pki crl sign signs the roots\' CRLs (the CA service signs its own)', EXIT.badInput);
    const days = Number(values.days);
    if (!Number.isInteger(days) || days < 1 || days > 3650) throw new CliError(`--days must be a whole number of days, 1 to 3650, got ${String(values.days)}`, EXIT.badInput);
    const within = values['if-next-update-within'] as string | undefined;
    const ifNextUpdateWithinMs = within === undefined ? undefined : parseDuration(within, '--if-next-update-within', { minHours: 1, maxHours: 3650 * 24, minText: '1h', maxText: '3650d' }, '60d');
    const issuerId = values.issuer as string | undefined;
    const outcomes = await withStore(ctx, (store) =>
      signRootCrls(store, { dataDir: ctx.dataDir, env: ctx.env, days, ...(issuerId ? { issuerId } : {}), ...(ifNextUpdateWithinMs === undefined ? {} : { ifNextUpdateWithinMs }) }),
    );
    if (ctx.json) ctx.out(JSON.stringify({ roots: outcomes }) + '\n');
    else
      for (const o of outcomes)
        ctx.out(
          o.outcome === 'signed'
            ? `${o.issuerId}: CRL ${o.number} signed (${o.entries} revoked), next update ${o.nextUpdate}\n`
            : o.outcome === 'current'
              ? `${o.issuerId}: CRL ${o.number} is current (next update ${o.nextUpdate}): not signed again\n`
              : `${o.issuerId}: a root of an external PKI: its own PKI signs its CRL\n`,
        );
    return EXIT.ok;
  },
};
