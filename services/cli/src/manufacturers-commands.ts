import { readFileSync } from 'node:fs';
import { manufacturerFromInput, manufacturerView, MANUFACTURER_NAME, type ManufacturerView } from '@evpki/issuance';
import { validateAuditEvent, type AuditEvent, type ManufacturerRecord } from '@evpki/store';
import { CliError } from './cli-error.js';
import type { Command } from './command.js';
import { EXIT } from './exit-codes.js';
import { withStore } from './open-pki-store.js';
import { checkTenantId } from './tenants.js';

/**
 * `pki manufacturers add|list|remove`: the manufacturers whose device certificates a tenant trusts
 * for a station's first enrolment (issue 21, zero-touch onboarding). The same records as the RA's
 * /v1/manufacturers; every change goes to the audit log (actor "cli").
 */

const bad = (message: string): CliError => new CliError(message, EXIT.badInput);
const EXIT_HELP = 'Exit codes: 0 done, 2 bad input or state (unknown tenant or manufacturer, a certificate refused), 75 the store is unreachable, 1 anything else.';

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

const addCommand: Command = {
  name: 'manufacturers add',
  summary: "trust a manufacturer's root for a tenant's stations' first enrolment (zero-touch onboarding)",
  help: `Usage: pki manufacturers add --tenant ID --name NAME --root FILE [options] [--json]

A station leaves the factory with a manufacturer certificate; with this, the tenant's CSMS may send
that certificate's chain with the station's first CSR (POST /v1/stations/{id}/certificates,
manufacturerCertificateChain) or check it (POST /v1/manufacturer-certificates/verify). Adding a
name that exists replaces it.

Options:
  --tenant ID             an existing tenant
  --name NAME             the manufacturer (A-Z a-z 0-9 . _ -, at most 64)
  --root FILE             PEM: the manufacturer's root CA certificate(s), self-signed; a device
                          (non-CA) certificate is refused
  --intermediate FILE     PEM: intermediate CA certificates (repeat); stations may also send them
  --crl-url URL           check every certificate of the chain against this CRL (repeat)
  --crl-dp                check the CRLs the certificates name (CRL distribution points)
  --ocsp                  ask the OCSP responder each certificate names (AIA)
  --fail-open             accept (noting "revocation unknown") when a CRL or responder cannot be
                          reached; default: refuse (fail closed)
  --serial-from FIELD     CN (default) or serialNumber: the subject attribute holding the station's
                          serial number, which the CSR's CN must equal (A00.FR.511)
  --models LIST           any (default), or the models allowed, comma-separated
  --model-from FIELD      where the model is: a subject attribute (OU, title, ...), or ext:<OID>
  --auto-register         a station not registered is registered by its first enrolment
  --json                  the manufacturer as stored

${EXIT_HELP}
`,
  options: {
    tenant: { type: 'string' },
    name: { type: 'string' },
    root: { type: 'string', multiple: true },
    intermediate: { type: 'string', multiple: true },
    'crl-url': { type: 'string', multiple: true },
    'crl-dp': { type: 'boolean' },
    ocsp: { type: 'boolean' },
    'fail-open': { type: 'boolean' },
    'serial-from': { type: 'string' },
    models: { type: 'string' },
    'model-from': { type: 'string' },
    'auto-register': { type: 'boolean' },
  },
  positionals: { min: 0, max: 0 },
  async run(values, _positionals, ctx) {
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
  },
};

const listCommand: Command = {
  name: 'manufacturers list',
  summary: "list the manufacturers a tenant trusts",
  help: `Usage: pki manufacturers list --tenant ID [--json]

${EXIT_HELP}
`,
  options: { tenant: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(values, _positionals, ctx) {
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
  },
};

const removeCommand: Command = {
  name: 'manufacturers remove',
  summary: "stop trusting a manufacturer for a tenant (stations registered through it stay)",
  help: `Usage: pki manufacturers remove --tenant ID --name NAME [--json]

Its certificates no longer enrol or verify. Stations it registered stay registered, with the
certificates they have; they enrol again by the normal flow.

${EXIT_HELP}
`,
  options: { tenant: { type: 'string' }, name: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(values, _positionals, ctx) {
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
  },
};

export const manufacturersCommands: Command[] = [addCommand, listCommand, removeCommand];
