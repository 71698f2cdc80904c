import type { Request, Response } from 'express';
import { manufacturerFromInput, manufacturerView, type ManufacturerInput } from '@evpki/issuance';
import { AppError, type AuditTrail } from '@evpki/service';
import type { ManufacturerRecord, RaStore } from '@evpki/store';
import { contextOf } from './authenticate.js';
import { verdictView, type ManufacturerTrust } from './manufacturer-trust.js';

type Handler = (req: Request, res: Response) => Promise<void>;

export interface ManufacturerRouteDeps {
  readonly store: RaStore;
  readonly trust: ManufacturerTrust;
  readonly audit: AuditTrail;
  readonly now: () => Date;
}

/** The POST /v1/manufacturers body (openapi.yaml ManufacturerInput). */
interface ManufacturerBody {
  readonly name: string;
  readonly roots: string;
  readonly intermediates?: string;
  readonly revocation?: { readonly crlUrls?: string[]; readonly crlDistributionPoints?: boolean; readonly ocsp?: boolean; readonly failMode?: 'closed' | 'open' };
  readonly mapping?: { readonly serialFrom?: string; readonly models?: 'any' | string[]; readonly modelFrom?: string };
  readonly autoRegister?: boolean;
}

const name = (res: Response): string => String(contextOf(res).params.name);

/** What the audit log keeps of a manufacturer: what decides trust, not the certificates. */
function auditDetails(m: ManufacturerRecord, view: ReturnType<typeof manufacturerView>) {
  return { manufacturer: m.name, roots: view.roots.map((r) => r.sha256Fingerprint).join(' '), intermediates: view.intermediates.length, autoRegister: m.autoRegister, failMode: m.revocation.failMode };
}

/**
 * /v1/manufacturers (the tenant's trusted manufacturers, as `pki manufacturers`) and
 * /v1/manufacturer-certificates/verify, keyed by their openapi.yaml routes. Always the caller's
 * tenant: another tenant's manufacturer is 404 and never consulted.
 */
export function manufacturerHandlers(d: ManufacturerRouteDeps): Readonly<Record<string, Handler>> {
  const r: Record<string, Handler> = {};

  r['GET /v1/manufacturers'] = async (_req, res) => {
    const { tenant } = contextOf(res);
    res.json({ items: (await d.store.listManufacturers(tenant.id)).map(manufacturerView) });
  };

  r['POST /v1/manufacturers'] = async (req, res) => {
    const { tenant, actor } = contextOf(res);
    const b = req.body as ManufacturerBody;
    const input: ManufacturerInput = {
      tenant: tenant.id,
      name: b.name,
      roots: b.roots,
      ...(b.intermediates === undefined ? {} : { intermediates: b.intermediates }),
      ...(b.revocation?.crlUrls ? { crlUrls: b.revocation.crlUrls } : {}),
      crlDistributionPoints: b.revocation?.crlDistributionPoints === true,
      ocsp: b.revocation?.ocsp === true,
      failOpen: b.revocation?.failMode === 'open',
      ...(b.mapping?.serialFrom === undefined ? {} : { serialFrom: b.mapping.serialFrom }),
      ...(b.mapping?.models === undefined ? {} : { models: b.mapping.models }),
      ...(b.mapping?.modelFrom === undefined ? {} : { modelFrom: b.mapping.modelFrom }),
      autoRegister: b.autoRegister === true,
    };
    const built = manufacturerFromInput(input, d.now());
    if ('violations' in built) throw new AppError('policy', 'the manufacturer cannot be trusted as given', built.violations);
    const before = await d.store.getManufacturer(tenant.id, b.name);
    const record = before ? { ...built.record, createdAt: before.createdAt } : built.record;
    const view = manufacturerView(record);
    await d.store.putManufacturer(record);
    await d.audit.record({ event: before ? 'manufacturer.replaced' : 'manufacturer.added', actor, outcome: 'ok', tenant: tenant.id, details: auditDetails(record, view) });
    if (!before) res.location(`/v1/manufacturers/${encodeURIComponent(record.name)}`);
    res.status(before ? 200 : 201).json(view);
  };

  r['GET /v1/manufacturers/{name}'] = async (_req, res) => {
    const { tenant } = contextOf(res);
    const m = await d.store.getManufacturer(tenant.id, name(res));
    if (!m) throw new AppError('not-found', 'no such manufacturer');
    res.json(manufacturerView(m));
  };

  r['DELETE /v1/manufacturers/{name}'] = async (_req, res) => {
    const { tenant, actor } = contextOf(res);
    if (!(await d.store.deleteManufacturer(tenant.id, name(res)))) throw new AppError('not-found', 'no such manufacturer');
    await d.audit.record({ event: 'manufacturer.removed', actor, outcome: 'ok', tenant: tenant.id, details: { manufacturer: name(res) } });
    res.status(204).end();
  };

  r['POST /v1/manufacturer-certificates/verify'] = async (req, res) => {
    const { tenant } = contextOf(res);
    const { chain } = req.body as { chain: string };
    res.json(verdictView(await d.trust.verify(tenant.id, chain)));
  };

  return r;
}
