import { SCOPES } from '@evpki/service/scopes';
import type { Command } from './command.js';

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
  run: async (values, positionals, ctx) => (await import('./token-run.js')).tokenRun(values, positionals, ctx),
};

