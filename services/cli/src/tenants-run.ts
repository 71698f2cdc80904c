import { findTenantConflicts } from '@evpki/policy';
import { TenantConflictError, validateAuditEvent, type AuditEvent, type Store, type TenantRecord } from '@evpki/store';
import { CliError } from './cli-error.js';
import type { CommandContext, OptionValues } from './command.js';
import { EXIT } from './exit-codes.js';
import { withStore } from './open-pki-store.js';
import {
  TENANT_LIMITS,
  applyTenantSpec,
  changedFields,
  checkCpoName,
  checkTenantId,
  formatTenant,
  formatTenantTable,
  legacyIpSansNote,
  normalizeIpRange,
  normalizeServerDomain,
  parseOperatorId,
  parseRateLimit,
  tenantAuditDetails,
  type TenantSpec,
} from './tenants.js';

const bad = (message: string): CliError => new CliError(message, EXIT.badInput);

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
  ipRanges: t.ipRanges ?? [],
  operatorIds: t.operatorIds ?? [],
  // Written by older versions, no longer honoured (legacyIpSansNote).
  ...(t.allowIpSans ? { allowIpSans: true } : {}),
  rateLimits: { tenantCsrsPerMinute: t.rateLimits?.tenantCsrsPerMinute ?? null, stationCsrsPerDay: t.rateLimits?.stationCsrsPerDay ?? null },
});

/** The options of `tenants add`, checked; the flags that were given only. */
/**
 * A repeatable list option (each value may hold several, comma-separated) and its `--no-*` form:
 * the values normalized and deduplicated, at most `limit`; [] for `--no-*`; undefined when neither is given.
 */
function listOption(values: OptionValues, name: string, noName: string, limit: number, what: string, normalize: (raw: string) => { error: string } | { value: string }): string[] | undefined {
  const given = (values[name] as string[] | undefined) ?? [];
  if (given.length && values[noName]) throw bad(`--${name} and --${noName} exclude each other`);
  if (!given.length) return values[noName] ? [] : undefined;
  const out: string[] = [];
  for (const raw of given.flatMap((v) => v.split(',')).map((v) => v.trim())) {
    const n = normalize(raw);
    if ('error' in n) throw bad(n.error);
    if (!out.includes(n.value)) out.push(n.value);
  }
  if (out.length > limit) throw bad(`at most ${limit} ${what}`);
  return out;
}

function readSpec(values: OptionValues): TenantSpec {
  const spec: { -readonly [K in keyof TenantSpec]: TenantSpec[K] } = {};
  const cpoName = values['cpo-name'] as string | undefined;
  if (cpoName !== undefined) {
    const problem = checkCpoName(cpoName);
    if (problem) throw bad(problem);
    spec.cpoName = cpoName;
  }
  const serverDomains = listOption(values, 'server-domain', 'no-server-domains', TENANT_LIMITS.serverDomains, 'server domains', (raw) => {
    const n = normalizeServerDomain(raw);
    return 'error' in n ? n : { value: n.domain };
  });
  if (serverDomains) spec.serverDomains = serverDomains;
  const ipRanges = listOption(values, 'ip-range', 'no-ip-ranges', TENANT_LIMITS.ipRanges, 'IP ranges', (raw) => {
    const n = normalizeIpRange(raw);
    return 'error' in n ? n : { value: n.range };
  });
  if (ipRanges) spec.ipRanges = ipRanges;
  const operatorIds = listOption(values, 'operator-id', 'no-operator-ids', TENANT_LIMITS.operatorIds, 'operator IDs', (raw) => {
    const n = parseOperatorId(raw);
    return 'error' in n ? n : { value: n.id };
  });
  if (operatorIds) spec.operatorIds = operatorIds;
  if (values['allow-ip-sans'] || values['no-allow-ip-sans'])
    throw bad('--allow-ip-sans (any IP address) is gone: give the IP ranges the tenant owns with --ip-range CIDR (none: no IP SANs)');
  if (values['allow-wildcards'] && values['no-allow-wildcards']) throw bad('--allow-wildcards and --no-allow-wildcards exclude each other');
  if (values['allow-wildcards']) spec.allowWildcards = true;
  else if (values['no-allow-wildcards']) spec.allowWildcards = false;
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

/**
 * A store write refused because another tenant holds the name, domain or range: exit 2 with the
 * store's message (it names the rule, both claims and the other tenant).
 */
async function refuseConflicts<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (e) {
    if (e instanceof TenantConflictError) throw bad(`refused: ${e.message}; no two tenants may share these (their certificates chain to one root)`);
    throw e;
  }
}

/** Creates the tenant, or with `update` changes the given fields of an existing one (creating it when absent). */
async function addTenant(store: Store, id: string, spec: TenantSpec, update: boolean): Promise<AddResult> {
  const now = new Date().toISOString();
  for (let attempt = 1; attempt <= 3; attempt++) {
    if (update) {
      let event: AuditEvent | undefined;
      let changed: string[] = [];
      const r = await refuseConflicts(store.updateTenant(id, (current) => {
        const next = applyTenantSpec(id, current, spec, now);
        changed = changedFields(current, next);
        event = changed.length ? auditEvent('tenant.updated', next, changed) : undefined;
        return changed.length ? next : current;
      }));
      if (r) {
        if (event) await audit(store, event);
        return { tenant: r.after, created: false, changed };
      }
    }
    if (spec.cpoName === undefined) throw bad(update ? `no tenant "${id}" yet: a new tenant needs --cpo-name` : '--cpo-name is required');
    const tenant = applyTenantSpec(id, undefined, spec, now);
    const event = auditEvent('tenant.added', tenant);
    if (await refuseConflicts(store.createTenant(tenant))) {
      await audit(store, event);
      return { tenant, created: true, changed: [] };
    }
    if (!update) throw bad(`tenant "${id}" exists already; pass --update to change it (pki tenants show ${id})`);
    // Created by someone else between our update and create: update it.
  }
  throw new CliError(`tenant "${id}" kept changing; try again`, EXIT.tempFail);
}

/** `pki tenants add` (its options and help: tenants-commands.ts). */
export async function tenantsAdd(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const id = values.id as string | undefined;
  if (id === undefined) throw bad('--id is required; see pki tenants add --help');
  const idProblem = checkTenantId(id);
  if (idProblem) throw bad(idProblem);
  const update = values.update === true;
  for (const flag of ['no-server-domains', 'no-allow-wildcards', 'no-ip-ranges', 'no-operator-ids']) if (values[flag] && !update) throw bad(`--${flag} is for --update`);
  const spec = readSpec(values);
  const r = await withStore(ctx, (store) => addTenant(store, id, spec, update));
  if (ctx.json) ctx.out(JSON.stringify({ tenant: tenantJson(r.tenant), created: r.created, changed: r.changed }) + '\n');
  else if (r.created) ctx.out(`tenant ${id} added\n${formatTenant(r.tenant)}`);
  else if (r.changed.length) ctx.out(`tenant ${id} updated (${r.changed.join(', ')})\n${formatTenant(r.tenant)}`);
  else ctx.out(`tenant ${id} unchanged: it has these values already\n`);
  return EXIT.ok;
}

/** `pki tenants list` (its options and help: tenants-commands.ts). */
export async function tenantsList(_values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const tenants = await withStore(ctx, (store) => store.listTenants());
  const conflicts = findTenantConflicts(tenants);
  if (ctx.json) ctx.out(JSON.stringify({ tenants: tenants.map(tenantJson), conflicts }) + '\n');
  else if (!tenants.length) ctx.out('no tenants; add one with pki tenants add\n');
  else ctx.out(formatTenantTable(tenants));
  for (const note of [...conflicts.map((c) => c.message), ...tenants.map(legacyIpSansNote)]) if (note) ctx.err(`warning: ${note}\n`);
  return EXIT.ok;
}

/** `pki tenants show` (its options and help: tenants-commands.ts). */
export async function tenantsShow(_values: OptionValues, positionals: string[], ctx: CommandContext): Promise<number> {
  const id = idArgument(positionals);
  const tenant = await withStore(ctx, (store) => store.getTenant(id));
  if (!tenant) throw bad(`no tenant "${id}"; see pki tenants list`);
  ctx.out(ctx.json ? JSON.stringify({ tenant: tenantJson(tenant) }) + '\n' : formatTenant(tenant));
  return EXIT.ok;
}

/** `pki tenants disable|enable` (their options and help: tenants-commands.ts). */
export async function tenantsToggle(disable: boolean, positionals: string[], ctx: CommandContext): Promise<number> {
  const verb = disable ? 'disable' : 'enable';
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
}
