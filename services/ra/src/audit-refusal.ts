import type { AppError, AuditTrail, ErrorKind } from '@evpki/service';
import type { RequestContext } from './authenticate.js';

/** The operations whose refusals are security events, and the audit event each is recorded as. */
const REFUSAL_EVENTS: Readonly<Record<string, string>> = {
  'POST /v1/stations/{stationId}/certificates': 'certificate.rejected',
  'POST /v1/server-certificates': 'server-certificate.rejected',
  'POST /v1/certificates/{serialNumber}/revoke': 'revocation.rejected',
  'PUT /v1/stations/{stationId}': 'station.rejected',
  'DELETE /v1/stations/{stationId}': 'station.rejected',
};

/** Refusals of the caller's request; not-found (probing) and outages are not rejections. */
const REFUSED_KINDS: ReadonlySet<ErrorKind> = new Set(['malformed', 'policy', 'forbidden', 'conflict', 'too-large', 'rate-limited']);

/**
 * Records an authenticated caller's rejected issuance, revocation or station change with its rule
 * IDs (the RA sees every refusal: its own early checks and the CA's re-checks relayed to it),
 * aggregated per tenant, rules and route (AuditTrail.recordRefusal).
 */
export async function auditRefusal(audit: AuditTrail, ctx: RequestContext, err: AppError): Promise<void> {
  const event = REFUSAL_EVENTS[ctx.operation.route];
  if (!event || ctx.audited || !REFUSED_KINDS.has(err.kind)) return;
  ctx.audited = true;
  const params: Readonly<Record<string, string | undefined>> = ctx.params;
  const rules = [...new Set((err.violations ?? []).map((v) => v.rule))].slice(0, 32);
  await audit.recordRefusal({
    event,
    actor: ctx.actor,
    outcome: 'refused',
    tenant: ctx.tenant.id,
    ...(rules.length ? { rules } : {}),
    details: {
      // The aggregation key's route (audit-trail.ts): a burst of refusals is one entry and a count.
      route: ctx.operation.route,
      kind: err.kind,
      reason: err.message.slice(0, 300),
      ...(params.stationId ? { stationId: params.stationId.slice(0, 48) } : {}),
      ...(params.serialNumber ? { serialNumber: params.serialNumber.slice(0, 40) } : {}),
    },
  });
}
