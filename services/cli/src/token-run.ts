import { jwtMaxTtlSeconds } from '@evpki/service';
import { CliError } from './cli-error.js';
import type { CommandContext, OptionValues } from './command.js';
import { EXIT } from './exit-codes.js';
import { checkPkiStore } from './open-pki-store.js';
import { mintToken } from './token.js';

/** `pki token` (its options and help: token-command.ts). */
export async function tokenRun(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const tenant = values.tenant as string | undefined;
  if (!tenant) throw new CliError('--tenant is required', EXIT.badInput);
  const ttl = Number(values.ttl);
  const max = jwtMaxTtlSeconds(ctx.env);
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > max) throw new CliError(`--ttl must be 60..${max} seconds (RA_JWT_MAX_TTL_SECONDS: the RA refuses longer-lived tokens)`, EXIT.badInput);
  const given = values.scope as string[] | undefined;
  const scopes = given?.flatMap((s) => s.split(/[\s,]+/)).filter(Boolean);
  if (given && !scopes?.length) throw new CliError('--scope needs a scope', EXIT.badInput);
  const audience = values.audience as string | undefined;
  if (audience !== undefined && !/^[\x21-\x7e]{1,256}$/.test(audience)) throw new CliError('--audience must be 1..256 printable characters', EXIT.badInput);
  checkPkiStore(ctx.dataDir, ctx.env);
  const token = await mintToken({ dataDir: ctx.dataDir, tenant, ttlSeconds: ttl, ...(scopes ? { scopes } : {}), ...(audience ? { audience } : {}) });
  ctx.out(ctx.json ? JSON.stringify({ token }) + '\n' : token + '\n');
  return EXIT.ok;
}
