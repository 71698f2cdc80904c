import { validateAuditEvent, type AuditEvent, type Store, type TenantRecord } from '@evpki/store';
import { CliError } from './cli-error.js';
import type { Command, CommandContext, OptionValues } from './command.js';
import { EXIT } from './exit-codes.js';
import { openPkiStore } from './open-pki-store.js';
import {
  TENANT_LIMITS,
  applyTenantSpec,
  changedFields,
  checkCpoName,
  checkTenantId,
  formatTenant,
  formatTenantTable,
  normalizeServerDomain,
  parseRateLimit,
  tenantAuditDetails,
  type TenantSpec,
} from './tenants.js';

/**
 * `pki tenants add|list|show|disable|enable`: the tenants (CPOs) the RA serves, in the store the
 * services use (REDIS_URL: the shared Redis; else LMDB in the data directory). Every change is
 * written to the audit log (actor "cli"). The RA reads the tenant record on every request, so a
 * change applies at once, to every instance.
 */

const bad = (message: string): CliError => new CliError(message, EXIT.badInput);

const EXIT_HELP = `Exit codes: 0 done (also when nothing had to change), 2 bad input or state (a bad option, an
unknown tenant, an existing one without --update), 75 the store is unreachable (retry), 1 anything else.`;

/** Runs `fn` with the PKI's store, closed afterwards. */
async function withStore<T>(ctx: CommandContext, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = openPkiStore(ctx.dataDir, ctx.env);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** The audit event of a change, checked before anything is written (so a refused event writes nothing). */
function auditEvent(event: string, t: TenantRecord, changed?: readonly string[]): AuditEvent {
  const e: AuditEvent = { event, actor: 'cli', outcome: 'ok', tenant: t.id, details: tenantAuditDetails(t, changed) };
  try {
    validateAuditEvent(e);
  } catch (err) {
    throw bad(`the change cannot be recorded in the audit log: ${(err as Error).message}`);
  }
  return e;
}

async function audit(store: Store, e: AuditEvent): Promise<void> {
  try {
    await store.appendAudit([e], new Date().toISOString());
  } catch (err) {
    (err as Error).message = `tenant ${e.tenant} was changed (${e.event}) but its audit entry was not written: ${(err as Error).message}`;
    throw err;
  }
}

/** The tenant id positional of show/disable/enable. */
function idArgument(positionals: readonly string[]): string {
  const id = positionals[0]!;
  const problem = checkTenantId(id);
  if (problem) throw bad(problem);
  return id;
}

/** A tenant as JSON: the record, every optional field present. */
const tenantJson = (t: TenantRecord): Record<string, unknown> => ({
  id: t.id,
  cpoName: t.cpoName,
  disabled: t.disabled,
  createdAt: t.createdAt,
  serverDomains: t.serverDomains ?? [],
  allowWildcards: t.allowWildcards === true,
  allowIpSans: t.allowIpSans === true,
  rateLimits: { tenantCsrsPerMinute: t.rateLimits?.tenantCsrsPerMinute ?? null, stationCsrsPerDay: t.rateLimits?.stationCsrsPerDay ?? null },
});

/** The options of `tenants add`, checked; the flags that were given only. */
function readSpec(values: OptionValues): TenantSpec {
  const spec: { -readonly [K in keyof TenantSpec]: TenantSpec[K] } = {};
  const cpoName = values['cpo-name'] as string | undefined;
  if (cpoName !== undefined) {
    const problem = checkCpoName(cpoName);
    if (problem) throw bad(problem);
    spec.cpoName = cpoName;
  }
  const domains = (values['server-domain'] as string[] | undefined) ?? [];
  if (domains.length && values['no-server-domains']) throw bad('--server-domain and --no-server-domains exclude each other');
  if (domains.length) {
    const out: string[] = [];
    for (const raw of domains.flatMap((d) => d.split(',')).map((d) => d.trim())) {
      const n = normalizeServerDomain(raw);
      if ('error' in n) throw bad(n.error);
      if (!out.includes(n.domain)) out.push(n.domain);
    }
    if (out.length > TENANT_LIMITS.serverDomains) throw bad(`at most ${TENANT_LIMITS.serverDomains} server domains`);
    spec.serverDomains = out;
  } else if (values['no-server-domains']) spec.serverDomains = [];
  for (const [flag, key] of [
    ['allow-wildcards', 'allowWildcards'],
    ['allow-ip-sans', 'allowIpSans'],
  ] as const) {
    if (values[flag] && values[`no-${flag}`]) throw bad(`--${flag} and --no-${flag} exclude each other`);
    if (values[flag]) spec[key] = true;
    else if (values[`no-${flag}`]) spec[key] = false;
  }
  for (const [option, key] of [
    ['rate-csrs-per-minute', 'tenantCsrsPerMinute'],
    ['rate-station-csrs-per-day', 'stationCsrsPerDay'],
  ] as const) {
    const raw = values[option] as string | undefined;
    if (raw === undefined) continue;
    const r = parseRateLimit(raw, option);
    if ('error' in r) throw bad(r.error);
    spec[key] = r.value;
  }
  return spec;
}

interface AddResult {
  readonly tenant: TenantRecord;
  readonly created: boolean;
  /** Fields changed by an update (empty: nothing to do). */
  readonly changed: readonly string[];
}

/** Creates the tenant, or with `update` changes the given fields of an existing one (creating it when absent). */
async function addTenant(store: Store, id: string, spec: TenantSpec, update: boolean): Promise<AddResult> {
  const now = new Date().toISOString();
  for (let attempt = 1; attempt <= 3; attempt++) {
    if (update) {
      let event: AuditEvent | undefined;
      let changed: string[] = [];
      const r = await store.updateTenant(id, (current) => {
        const next = applyTenantSpec(id, current, spec, now);
        changed = changedFields(current, next);
        event = changed.length ? auditEvent('tenant.updated', next, changed) : undefined;
        return changed.length ? next : current;
      });
      if (r) {
        if (event) await audit(store, event);
        return { tenant: r.after, created: false, changed };
      }
    }
    if (spec.cpoName === undefined) throw bad(update ? `no tenant "${id}" yet: a new tenant needs --cpo-name` : '--cpo-name is required');
    const tenant = applyTenantSpec(id, undefined, spec, now);
    const event = auditEvent('tenant.added', tenant);
    if (await store.createTenant(tenant)) {
      await audit(store, event);
      return { tenant, created: true, changed: [] };
    }
    if (!update) throw bad(`tenant "${id}" exists already; pass --update to change it (pki tenants show ${id})`);
    // Created by someone else between our update and create: update it.
  }
  throw new CliError(`tenant "${id}" kept changing; try again`, EXIT.tempFail);
}

const addCommand: Command = {
  name: 'tenants add',
  summary: 'add a tenant (CPO), or change one with --update',
  help: `Usage: pki tenants add --id ID --cpo-name NAME [--server-domain DOMAIN ...] [--allow-wildcards]
                        [--allow-ip-sans] [--rate-csrs-per-minute N] [--rate-station-csrs-per-day N]
       pki tenants add --id ID --update [any of the options above] [--no-server-domains]
                        [--no-allow-wildcards] [--no-allow-ip-sans]

Adds a tenant: a CPO whose CSMS calls the RA with bearer tokens naming this id. Every change is
written to the audit log (tenant.added, tenant.updated). An existing id is refused (exit 2) unless
--update is given; --update changes only the fields given (keeps createdAt and the disabled flag),
and creates the tenant when it does not exist yet.

Options:
  --id ID                        tenant id: 1-63 characters a-z, 0-9, '-' (the token's "tenant" claim)
  --cpo-name NAME                the CPO name: the only O value allowed in the tenant's certificates
                                 (charge point and CSMS server); 1-64 printable characters (X.520)
  --server-domain DOMAIN         a DNS domain its CSMS server certificates may name (that name or
                                 names below it); repeat it or separate with commas. With --update
                                 the list given replaces the stored one. None: no server certificates
  --no-server-domains            (--update) remove every server domain
  --allow-wildcards              server certificates may name *.DOMAIN (--no-allow-wildcards: not)
  --allow-ip-sans                server certificates may carry IP address SANs (--no-allow-ip-sans)
  --rate-csrs-per-minute N       CSRs that passed policy, per tenant in any minute (0: no limit;
                                 "default": the RA's RA_RATE_TENANT_CSRS_PER_MINUTE)
  --rate-station-csrs-per-day N  CSRs per station in any 24 hours (0: no limit; "default": the
                                 RA's RA_RATE_STATION_CSRS_PER_DAY)
  --update                       change an existing tenant instead of refusing it
  --json                         {"tenant": {...}, "created": bool, "changed": [fields]}

${EXIT_HELP}
`,
  options: {
    id: { type: 'string' },
    'cpo-name': { type: 'string' },
    'server-domain': { type: 'string', multiple: true },
    'no-server-domains': { type: 'boolean' },
    'allow-wildcards': { type: 'boolean' },
    'no-allow-wildcards': { type: 'boolean' },
    'allow-ip-sans': { type: 'boolean' },
    'no-allow-ip-sans': { type: 'boolean' },
    'rate-csrs-per-minute': { type: 'string' },
    'rate-station-csrs-per-day': { type: 'string' },
    update: { type: 'boolean' },
  },
  positionals: { min: 0, max: 0 },
  async run(values, _positionals, ctx) {
    const id = values.id as string | undefined;
    if (id === undefined) throw bad('--id is required; see pki tenants add --help');
    const idProblem = checkTenantId(id);
    if (idProblem) throw bad(idProblem);
    const update = values.update === true;
    for (const flag of ['no-server-domains', 'no-allow-wildcards', 'no-allow-ip-sans']) if (values[flag] && !update) throw bad(`--${flag} is for --update`);
    const spec = readSpec(values);
    const r = await withStore(ctx, (store) => addTenant(store, id, spec, update));
    if (ctx.json) ctx.out(JSON.stringify({ tenant: tenantJson(r.tenant), created: r.created, changed: r.changed }) + '\n');
    else if (r.created) ctx.out(`tenant ${id} added\n${formatTenant(r.tenant)}`);
    else if (r.changed.length) ctx.out(`tenant ${id} updated (${r.changed.join(', ')})\n${formatTenant(r.tenant)}`);
    else ctx.out(`tenant ${id} unchanged: it has these values already\n`);
    return EXIT.ok;
  },
};

const listCommand: Command = {
  name: 'tenants list',
  summary: 'list the tenants: id, CPO name, disabled, server domains, rate limits',
  help: `Usage: pki tenants list [--json]

Lists every tenant by id: CPO name, whether it is disabled, its server domains (with wildcards
and IP SANs when allowed) and its rate limit overrides ("default": the RA's RA_RATE_*, "off": no
limit).

Options:
  --json   {"tenants": [{"id", "cpoName", "disabled", "createdAt", "serverDomains", "allowWildcards",
           "allowIpSans", "rateLimits": {"tenantCsrsPerMinute", "stationCsrsPerDay"} (null: default)}]}

Exit codes: 0, 75 the store is unreachable, 1 anything else.
`,
  options: {},
  positionals: { min: 0, max: 0 },
  async run(_values, _positionals, ctx) {
    const tenants = await withStore(ctx, (store) => store.listTenants());
    if (ctx.json) ctx.out(JSON.stringify({ tenants: tenants.map(tenantJson) }) + '\n');
    else if (!tenants.length) ctx.out('no tenants; add one with pki tenants add\n');
    else ctx.out(formatTenantTable(tenants));
    return EXIT.ok;
  },
};

const showCommand: Command = {
  name: 'tenants show',
  summary: 'show one tenant',
  help: `Usage: pki tenants show ID [--json]

Prints one tenant's record: CPO name, disabled, created, server domains, wildcards and IP SANs,
rate limit overrides.

Options:
  --json   {"tenant": {...}} as in pki tenants list --json

Exit codes: 0, 2 no such tenant (or a malformed id), 75 the store is unreachable, 1 anything else.
`,
  options: {},
  positionals: { min: 1, max: 1 },
  async run(_values, positionals, ctx) {
    const id = idArgument(positionals);
    const tenant = await withStore(ctx, (store) => store.getTenant(id));
    if (!tenant) throw bad(`no tenant "${id}"; see pki tenants list`);
    ctx.out(ctx.json ? JSON.stringify({ tenant: tenantJson(tenant) }) + '\n' : formatTenant(tenant));
    return EXIT.ok;
  },
};

function toggleCommand(disable: boolean): Command {
  const verb = disable ? 'disable' : 'enable';
  return {
    name: `tenants ${verb}`,
    summary: disable ? 'disable a tenant: the RA refuses its tokens (403)' : 'enable a disabled tenant again',
    help: `Usage: pki tenants ${verb} ID [--json]

${
  disable
    ? `Disables a tenant: from its next request on, every RA instance refuses the tenant's tokens with
403, and the CA refuses to sign for it. Its certificates stay valid (revoke them separately).`
    : 'Enables a disabled tenant: the RA accepts its tokens again.'
} Written to the audit log (tenant.${verb}d); nothing is written when the tenant is ${verb}d already.

Options:
  --json   {"tenant": {...}, "changed": bool}

Exit codes: 0 done (or ${verb}d already), 2 no such tenant (or a malformed id), 75 the store is
unreachable, 1 anything else.
`,
    options: {},
    positionals: { min: 1, max: 1 },
    async run(_values, positionals, ctx) {
      const id = idArgument(positionals);
      const r = await withStore(ctx, async (store) => {
        let event: AuditEvent | undefined;
        const u = await store.updateTenant(id, (t) => {
          if (t.disabled === disable) return t;
          const next = { ...t, disabled: disable };
          event = auditEvent(`tenant.${verb}d`, next, ['disabled']);
          return next;
        });
        if (!u) throw bad(`no tenant "${id}"; see pki tenants list`);
        if (event) await audit(store, event);
        return { tenant: u.after, changed: u.before.disabled !== disable };
      });
      if (ctx.json) ctx.out(JSON.stringify({ tenant: tenantJson(r.tenant), changed: r.changed }) + '\n');
      else ctx.out(r.changed ? `tenant ${id} ${verb}d\n` : `tenant ${id} was ${verb}d already; nothing changed\n`);
      return EXIT.ok;
    },
  };
}

/** `pki tenants add|list|show|disable|enable`. */
export const tenantsCommands: Command[] = [addCommand, listCommand, showCommand, toggleCommand(true), toggleCommand(false)];
