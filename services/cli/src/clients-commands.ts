import type { Command } from './command.js';

/**
 * `pki clients add|rotate-secret|disable`: OAuth2 clients of a tenant (Plug&Charge 4.4) for the
 * RA's POST /oauth/token. The secret is printed once and stored hashed (clients.ts). Every change
 * goes to the audit log (actor "cli").
 * Options and help here; each command's implementation (clients-run.ts) is imported when it runs.
 */

const EXIT_HELP = 'Exit codes: 0 done, 2 bad input or state (unknown tenant or client), 75 the store is unreachable, 1 anything else.';

const addCommand: Command = {
  name: 'clients add',
  summary: 'add an OAuth2 client of a tenant (POST /oauth/token); prints its id and secret once',
  help: `Usage: pki clients add --tenant ID [--scope SCOPE]... [--json]

Adds an OAuth2 client (Plug&Charge 4.4, client credentials grant) for the tenant's CSMS: it gets
RA bearer tokens at POST /oauth/token with client_id and client_secret. The secret is printed
once; the store keeps only its SHA-256. Writes the RA's token key into the data directory when
there is none (secrets/ra-token.key.pem: give it to every RA instance).

Options:
  --tenant ID     an existing tenant
  --scope SCOPE   a scope its tokens carry (repeat, or separate with commas); default:
                  stations:write certificates:sign status:read
  --json          {"clientId", "clientSecret", "tenant", "scopes"}

${EXIT_HELP}
`,
  options: { tenant: { type: 'string' }, scope: { type: 'string', multiple: true } },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./clients-run.js')).clientsAdd(values, positionals, ctx),
};

const rotateCommand: Command = {
  name: 'clients rotate-secret',
  summary: "give an OAuth2 client a new secret (the old one stops working at once); prints it once",
  help: `Usage: pki clients rotate-secret CLIENT_ID [--json]

Replaces the client's secret: the old one is refused from now on (tokens already issued stay
valid until they expire, at most 5 minutes). The new secret is printed once.

${EXIT_HELP}
`,
  options: {},
  positionals: { min: 1, max: 1 },
  run: async (values, positionals, ctx) => (await import('./clients-run.js')).clientsRotateSecret(values, positionals, ctx),
};

const disableCommand: Command = {
  name: 'clients disable',
  summary: 'disable an OAuth2 client: POST /oauth/token refuses it',
  help: `Usage: pki clients disable CLIENT_ID [--json]

The RA refuses the client's token requests from now on (invalid_client), and the tokens it was
already given (the RA reads the client on every request). To stop the whole tenant: pki tenants disable.

${EXIT_HELP}
`,
  options: {},
  positionals: { min: 1, max: 1 },
  run: async (values, positionals, ctx) => (await import('./clients-run.js')).clientsDisable(values, positionals, ctx),
};

export const clientsCommands: Command[] = [addCommand, rotateCommand, disableCommand];
