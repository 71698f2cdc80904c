import { CliError } from './cli-error.js';
import type { CommandContext, OptionValues } from './command.js';
import { EXIT } from './exit-codes.js';
import { pkcs11TargetFrom } from './pkcs11-options.js';
import { importV2g } from './v2g-import.js';
import { initV2g, v2gCreatedLine } from './v2g.js';

/** `pki v2g init` (its options and help: v2g-command.ts). */
export async function v2gInitRun(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const pkcs11 = pkcs11TargetFrom(values, ctx.env);
  const org = values.org as string | undefined;
  const h = await initV2g({ dataDir: ctx.dataDir, env: ctx.env, ...(org ? { organization: org } : {}), ...(pkcs11 ? { pkcs11 } : {}) });
  if (ctx.json) ctx.out(JSON.stringify(h) + '\n');
  else ctx.out(v2gCreatedLine(h));
  return EXIT.ok;
}

/** `pki v2g import` (its options and help: v2g-command.ts). */
export async function v2gImportRun(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const [subCa2Cert, chain, key, keyLabel, keyId] = [values['sub-ca2-cert'], values.chain, values.key, values['pkcs11-key-label'], values['pkcs11-key-id']] as (string | undefined)[];
  const target = pkcs11TargetFrom(values, ctx.env);
  if (!subCa2Cert || !chain || !(key || target)) throw new CliError('--sub-ca2-cert, --chain and --key (or --pkcs11-*) are required', EXIT.badInput);
  if (target && (!keyLabel || !keyId)) throw new CliError('--pkcs11-key-label and --pkcs11-key-id name the Sub-CA 2 key in the token', EXIT.badInput);
  const pkcs11 = target ? { target, keyLabel: keyLabel!, keyId: keyId! } : undefined;
  const h = await importV2g({ dataDir: ctx.dataDir, env: ctx.env, subCa2Cert, chain, ...(key ? { key } : {}), ...(pkcs11 ? { pkcs11 } : {}) });
  if (ctx.json) ctx.out(JSON.stringify(h) + '\n');
  else ctx.out(`V2G hierarchy imported: root ${h.root}, CPO Sub-CA 1 ${h.subCa1} (no keys), CPO Sub-CA 2 ${h.subCa2}\n`);
  return EXIT.ok;
}
