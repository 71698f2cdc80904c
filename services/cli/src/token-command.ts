import { SCOPES, jwtMaxTtlSeconds } from '@evpki/service';
import { CliError } from './cli-error.js';
import type { Command } from './command.js';
import { EXIT } from './exit-codes.js';
import { checkPkiStore } from './open-pki-store.js';
import { mintToken } from './token.js';

export const tokenCommand: Command = {
  name: 'token',
  summary: 'print a bearer token for the RA (dev PKI only)',
  help: `Usage: pki token --tenant ID [--scope SCOPE]... [--audience AUD] [--ttl SECONDS] [--json]

Prints a bearer token for the RA, signed with the dev PKI's JWT key (pki init --dev only).
Production tokens come from the CSMS's identity provider (RA_JWT_JWKS_URL).

Options:
  --tenant ID      the tenant the token acts for (required)
  --scope SCOPE    a scope the token grants; repeat it, or give several separated by
                   spaces or commas (default: all of ${SCOPES.join(', ')})
  --audience AUD   the aud claim (default: the PKI's, in pki.json)
  --ttl SECONDS    lifetime, 60 up to $RA_JWT_MAX_TTL_SECONDS (default 86400: the RA
                   refuses longer-lived tokens); default 3600
  --json           print {"token": "..."}
`,
  options: {
    tenant: { type: 'string' },
    scope: { type: 'string', multiple: true },
    audience: { type: 'string' },
    ttl: { type: 'string', default: '3600' },
  },
  positionals: { min: 0, max: 0 },
  async run(values, _positionals, ctx) {
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
  },
};
