import { CliError } from './cli-error.js';
import type { Command } from './command.js';
import { EXIT } from './exit-codes.js';
import { mintToken } from './token.js';

export const tokenCommand: Command = {
  name: 'token',
  summary: 'print a bearer token for the RA (dev PKI only)',
  help: `Usage: pki token --tenant ID [--ttl SECONDS] [--json]

Prints a bearer token for the RA, signed with the dev PKI's JWT key (pki init --dev only).

Options:
  --tenant ID      the tenant the token acts for (required)
  --ttl SECONDS    lifetime, 60..86400 (default 3600)
  --json           print {"token": "..."}
`,
  options: {
    tenant: { type: 'string' },
    ttl: { type: 'string', default: '3600' },
  },
  positionals: { min: 0, max: 0 },
  async run(values, _positionals, ctx) {
    const tenant = values.tenant as string | undefined;
    if (!tenant) throw new CliError('--tenant is required', EXIT.badInput);
    const ttl = Number(values.ttl);
    if (!Number.isInteger(ttl) || ttl < 60 || ttl > 86400) throw new CliError('--ttl must be 60..86400 seconds', EXIT.badInput);
    const token = await mintToken({ dataDir: ctx.dataDir, tenant, ttlSeconds: ttl });
    ctx.out(ctx.json ? JSON.stringify({ token }) + '\n' : token + '\n');
    return EXIT.ok;
  },
};
