import { readFileSync } from 'node:fs';
import { manufacturerFromInput, manufacturerView, MANUFACTURER_NAME, type ManufacturerView } from '@evpki/issuance';
import { validateAuditEvent, type AuditEvent, type ManufacturerRecord } from '@evpki/store';
import { CliError } from './cli-error.js';
import type { CommandContext, OptionValues } from './command.js';
import { EXIT } from './exit-codes.js';
import { withStore } from './open-pki-store.js';
import { checkTenantId } from './tenants.js';

const bad = (message: string): CliError => new CliError(message, EXIT.badInput);

function tenantOption(values: Record<string, unknown>, command: string): string {
  const tenant = values.tenant as string | undefined;
  if (tenant === undefined) throw bad(`--tenant is required; see pki manufacturers ${command} --help`);
  const problem = checkTenantId(tenant);
  if (problem) throw bad(problem);
  return tenant;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw bad(`cannot read the ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

const list = (v: unknown): string[] => ((v as string[] | undefined) ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s.length > 0);

/** The audit details of a manufacturer change: what decides trust, never the certificates themselves. */
function auditDetails(m: ManufacturerRecord, view: ManufacturerView) {
  return {
    manufacturer: m.name,
    roots: view.roots.map((r) => r.sha256Fingerprint).join(' '),
    intermediates: view.intermediates.length,
    autoRegister: m.autoRegister,
    failMode: m.revocation.failMode,
  };
}

function printOne(out: (t: string) => void, json: boolean, view: ManufacturerView, tenant: string): void {
  if (json) return void out(JSON.stringify({ tenant, ...view }) + '\n');
  const rev = view.revocation;
  const checks = [...(rev.crlUrls ?? []).map((u) => `CRL ${u}`), ...(rev.crlDistributionPoints ? ['CRL distribution points'] : []), ...(rev.ocsp ? ['OCSP'] : [])];
  out(
    `${view.name}: ${view.roots.length} root(s), ${view.intermediates.length} intermediate(s); serial from ${view.mapping.serialFrom}; ` +
      `models ${view.mapping.models === 'any' ? 'any' : `${view.mapping.models.join(',')} (from ${view.mapping.modelFrom})`}; ` +
      `revocation ${checks.length ? `${checks.join(', ')}, fail-${rev.failMode}` : 'not checked'}; auto-register ${view.autoRegister ? 'yes' : 'no'}\n`,
  );
  for (const r of view.roots) out(`  root ${r.subject} sha256 ${r.sha256Fingerprint}\n`);
}

/** `pki manufacturers add` (its options and help: manufacturers-commands.ts). */
export async function manufacturersAdd(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const tenant = tenantOption(values, 'add');
  const name = values.name as string | undefined;
  if (name === undefined) throw bad('--name is required; see pki manufacturers add --help');
  const rootFiles = (values.root as string[] | undefined) ?? [];
  if (!rootFiles.length) throw bad('--root is required: the manufacturer root CA certificate (PEM)');
  const models = values.models as string | undefined;
  const built = manufacturerFromInput(
    {
      tenant,
      name,
      roots: rootFiles.map((f) => readText(f, '--root')).join('\n'),
      intermediates: ((values.intermediate as string[] | undefined) ?? []).map((f) => readText(f, '--intermediate')).join('\n'),
      crlUrls: list(values['crl-url']),
      crlDistributionPoints: values['crl-dp'] === true,
      ocsp: values.ocsp === true,
      failOpen: values['fail-open'] === true,
      ...(values['serial-from'] === undefined ? {} : { serialFrom: values['serial-from'] as string }),
      ...(models === undefined || models === 'any' ? {} : { models: list([models]) }),
      ...(values['model-from'] === undefined ? {} : { modelFrom: values['model-from'] as string }),
      autoRegister: values['auto-register'] === true,
    },
    new Date(),
  );
  if ('violations' in built) throw bad(built.violations.map((v) => `${v.rule}: ${v.message}`).join('\n'));
  const view = await withStore(ctx, async (store) => {
    if (!(await store.getTenant(tenant))) throw bad(`no tenant ${tenant}: add it with pki tenants add first`);
    const before = await store.getManufacturer(tenant, name);
    const record = before ? { ...built.record, createdAt: before.createdAt } : built.record;
    const view = manufacturerView(record);
    const event: AuditEvent = { event: before ? 'manufacturer.replaced' : 'manufacturer.added', actor: 'cli', outcome: 'ok', tenant, details: auditDetails(record, view) };
    validateAuditEvent(event);
    await store.putManufacturer(record);
    await store.appendAudit([event], new Date().toISOString());
    return view;
  });
  if (!ctx.json) ctx.out(`manufacturer ${name} trusted for tenant ${tenant}\n`);
  printOne(ctx.out, ctx.json, view, tenant);
  return EXIT.ok;
}

/** `pki manufacturers list` (its options and help: manufacturers-commands.ts). */
export async function manufacturersList(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const tenant = tenantOption(values, 'list');
  const all = await withStore(ctx, async (store) => {
    if (!(await store.getTenant(tenant))) throw bad(`no tenant ${tenant}`);
    return store.listManufacturers(tenant);
  });
  const views = all.map(manufacturerView);
  if (ctx.json) ctx.out(JSON.stringify({ tenant, items: views }) + '\n');
  else if (!views.length) ctx.out(`tenant ${tenant} trusts no manufacturer\n`);
  else for (const v of views) printOne(ctx.out, false, v, tenant);
  return EXIT.ok;
}

/** `pki manufacturers remove` (its options and help: manufacturers-commands.ts). */
export async function manufacturersRemove(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const tenant = tenantOption(values, 'remove');
  const name = values.name as string | undefined;
  if (name === undefined || !MANUFACTURER_NAME.test(name)) throw bad('--name NAME is required (A-Z a-z 0-9 . _ -)');
  await withStore(ctx, async (store) => {
    if (!(await store.deleteManufacturer(tenant, name))) throw bad(`tenant ${tenant} has no manufacturer ${name}`);
    await store.appendAudit([{ event: 'manufacturer.removed', actor: 'cli', outcome: 'ok', tenant, details: { manufacturer: name } }], new Date().toISOString());
  });
  if (ctx.json) ctx.out(JSON.stringify({ tenant, name, removed: true }) + '\n');
  else ctx.out(`manufacturer ${name} removed from tenant ${tenant}\n`);
  return EXIT.ok;
}
