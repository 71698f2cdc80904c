import { validateAuditEvent, type AuditEvent, type OAuthClientRecord, type Store } from '@evpki/store';
import { CliError } from './cli-error.js';
import type { CommandContext, OptionValues } from './command.js';
import { EXIT } from './exit-codes.js';
import { withStore } from './open-pki-store.js';
import { checkTenantId } from './tenants.js';
import { CLIENT_ID, clientAuditDetails, ensureRaTokenKey, newClientId, newClientSecret, parseClientScopes } from './clients.js';

const bad = (message: string): CliError => new CliError(message, EXIT.badInput);

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

/** The client of the positional argument, or exit 2. */
async function clientArgument(store: Store, positionals: readonly string[]): Promise<OAuthClientRecord> {
  const id = positionals[0]!;
  if (!CLIENT_ID.test(id)) throw bad(`${id} is no client_id (pkic_ and 22 characters)`);
  const c = await store.getOAuthClient(id);
  if (!c) throw bad(`no client ${id}`);
  return c;
}

/** `pki clients add` (its options and help: clients-commands.ts). */
export async function clientsAdd(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
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
}

/** `pki clients rotate-secret` (its options and help: clients-commands.ts). */
export async function clientsRotateSecret(_values: OptionValues, positionals: string[], ctx: CommandContext): Promise<number> {
  const { secret, secretSha256 } = newClientSecret();
  const client = await withStore(ctx, async (store) => {
    const c = { ...(await clientArgument(store, positionals)), secretSha256, updatedAt: new Date().toISOString() };
    await save(store, 'oauth-client.secret-rotated', c);
    return c;
  });
  printSecret(ctx, client, secret, 'secret rotated');
  return EXIT.ok;
}

/** `pki clients disable` (its options and help: clients-commands.ts). */
export async function clientsDisable(_values: OptionValues, positionals: string[], ctx: CommandContext): Promise<number> {
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
}
