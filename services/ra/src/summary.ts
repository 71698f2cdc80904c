import type { Request, Response } from 'express';
import type { RaStore } from '@evpki/store';
import { contextOf } from './authenticate.js';
import type { OcspAnswers } from './ocsp-answers.js';

export interface SummaryDeps {
  readonly store: RaStore;
  readonly now: () => Date;
  readonly ocspAnswers: { forTenant(tenant: string): Promise<OcspAnswers> };
}

/**
 * GET /v1/summary: the operator's dashboard numbers for the caller's tenant only. Stations and
 * certificates are exact counts of the tenant's list indexes (Store.tenantSummary: range counts,
 * never a scan of records); OCSP answers come from our responders' metrics, filtered to the tenant,
 * and are marked unavailable (not a 500) when a responder cannot be read.
 */
export function summaryHandlers(d: SummaryDeps): Record<string, (req: Request, res: Response) => Promise<void>> {
  return {
    'GET /v1/summary': async (_req, res) => {
      const { tenant } = contextOf(res);
      const at = d.now();
      const [counts, ocspAnswers] = await Promise.all([d.store.tenantSummary(tenant.id, at.getTime()), d.ocspAnswers.forTenant(tenant.id)]);
      res.json({ tenant: tenant.id, at: at.toISOString(), ...counts, ocspAnswers });
    },
  };
}
