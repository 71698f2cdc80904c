import { CliError } from './cli-error.js';
import type { CommandContext, OptionValues } from './command.js';
import { parseDuration } from './duration.js';
import { EXIT } from './exit-codes.js';
import { withStore } from './open-pki-store.js';
import { signRootCrls } from './root-crl.js';

/** `pki crl sign` (its options and help: crl-command.ts). */
export async function crlSign(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
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
}
