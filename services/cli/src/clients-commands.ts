import { validateAuditEvent, type AuditEvent, type OAuthClientRecord, type Store } from '@evpki/store';
import { CliError } from './cli-error.js';
import type { Command, CommandContext } from './command.js';
import { EXIT } from './exit-codes.js';
import { withStore } from './open-pki-store.js';
import { checkTenantId } from './tenants.js';
import { CLIENT_ID, clientAuditDetails, ensureRaTokenKey, newClientId, newClientSecret, parseClientScopes } from './clients.js';

/**
 * `pki clients add|rotate-secret|disable`: OAuth2 clients of a tenant (Plug&Charge 4.4) for the
 * RA's POST /oauth/token. The secret is printed once and stored hashed (clients.ts). Every change
 * goes to the audit log (actor "cli").
 */

const bad = (message: string): CliError => new CliError(message, EXIT.badInput);
const EXIT_HELP = 'Exit codes: 0 done, 2 bad input or state (unknown tenant or client), 75 the store is unreachable, 1 anything else.';

/** Writes the client and its audit entry; the event is checked first, so a refused one writes nothing. */
async function save(store: Store, event: string, c: OAuthClientRecord): Promise<void> {
  const e: AuditEvent = { event, actor: 'cli', outcome: 'ok', tenant: c.tenant, details: clientAuditDetails(c) };
  validateAuditEvent(e);
  await store.putOAuthClient(c);
  try {
    await store.appendAudit([e], new Date().toISOString());
  } catch (err) {
    (err as Error).message = `client ${c.clientId} was changed (${event}) but its audit entry was not written: ${(err as Error).message}`;
    throw err;
  }
}

function printSecret(ctx: CommandContext, c: OAuthClientRecord, secret: string, verb: string): void {
  if (ctx.json) ctx.out(JSON.stringify({ clientId: c.clientId, clientSecret: secret, tenant: c.tenant, scopes: c.scopes }) + '\n');
  else ctx.out(`client ${verb} for tenant ${c.tenant} (scopes: ${c.scopes.join(' ')})\nclient_id:     ${c.clientId}\nclient_secret: ${secret}\nThe secret is shown only now; the PKI keeps its hash.\n`);
}

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
  async run(values, _positionals, ctx) {
    const tenant = values.tenant as string | undefined;
    if (tenant === undefined) throw bad('--tenant is required; see pki clients add --help');
    const problem = checkTenantId(tenant);
    if (problem) throw bad(problem);
    const scopes = parseClientScopes(values.scope as string[] | undefined);
    if (!Array.isArray(scopes)) throw bad(scopes.error);
    const { secret, secretSha256 } = newClientSecret();
    const now = new Date().toISOString();
    const client: OAuthClientRecord = { clientId: newClientId(), tenant, secretSha256, scopes, disabled: false, createdAt: now, updatedAt: now };
    await withStore(ctx, async (store) => {
      if (!(await store.getTenant(tenant))) throw bad(`no tenant ${tenant}: add it with pki tenants add first`);
      ensureRaTokenKey(ctx.dataDir);
      await save(store, 'oauth-client.added', client);
    });
    printSecret(ctx, client, secret, 'added');
    return EXIT.ok;
  },
};

/** The client of the positional argument, or exit 2. */
async function clientArgument(store: Store, positionals: readonly string[]): Promise<OAuthClientRecord> {
  const id = positionals[0]!;
  if (!CLIENT_ID.test(id)) throw bad(`${id} is no client_id (pkic_ and 22 characters)`);
  const c = await store.getOAuthClient(id);
  if (!c) throw bad(`no client ${id}`);
  return c;
}

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
  async run(_values, positionals, ctx) {
    const { secret, secretSha256 } = newClientSecret();
    const client = await withStore(ctx, async (store) => {
      const c = { ...(await clientArgument(store, positionals)), secretSha256, updatedAt: new Date().toISOString() };
      await save(store, 'oauth-client.secret-rotated', c);
      return c;
    });
    printSecret(ctx, client, secret, 'secret rotated');
    return EXIT.ok;
  },
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
  async run(_values, positionals, ctx) {
    const client = await withStore(ctx, async (store) => {
      const c = await clientArgument(store, positionals);
      if (c.disabled) return c;
      const next = { ...c, disabled: true, updatedAt: new Date().toISOString() };
      await save(store, 'oauth-client.disabled', next);
      return next;
    });
    if (ctx.json) ctx.out(JSON.stringify({ clientId: client.clientId, tenant: client.tenant, disabled: true }) + '\n');
    else ctx.out(`client ${client.clientId} of tenant ${client.tenant} is disabled\n`);
    return EXIT.ok;
  },
};

export const clientsCommands: Command[] = [addCommand, rotateCommand, disableCommand];
