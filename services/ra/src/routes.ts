import type { Request, Response } from 'express';
import { csmsServer, profileForCertificateType, profileOf, verifyRequest } from '@evpki/issuance';
import { Rule, checkChargePointIdentity, checkRevocationReason, readCsr, type KeyPolicy } from '@evpki/policy';
import type { OcspRequestData } from '@evpki/ocsp';
import { AppError, type AuditTrail, type Metrics } from '@evpki/service';
import { AUDIT_LIMITS, trustAnchors, type RevocationReason, type RaStore } from '@evpki/store';
import { contextOf } from './authenticate.js';
import type { CaClient, CaSignResponse } from './ca-client.js';
import type { CertificateStatus } from './certificate-status.js';
import { consumeCsrQuota, type RateLimits } from './rate-limits.js';
import { certificateView, stationView, trustAnchorView } from './views.js';

export interface RouteDeps {
  readonly store: RaStore;
  readonly ca: CaClient;
  readonly keyPolicy: KeyPolicy;
  readonly now: () => Date;
  readonly metrics: Metrics;
  readonly certificateStatus: CertificateStatus;
  readonly rateLimits: RateLimits;
  readonly audit: AuditTrail;
}

/** 201 with the issued (or, for a known Idempotency-Key, replayed) certificate. */
function sendSigned(d: RouteDeps, res: Response, signed: CaSignResponse): void {
  d.metrics.issuances.inc({ kind: signed.certificateType, outcome: signed.replayed ? 'replayed' : 'issued' });
  res.status(201).location(`/v1/certificates/${signed.serialNumber}`);
  if (signed.replayed) res.set('Idempotent-Replayed', 'true');
  const { replayed: _replayed, ...view } = signed;
  res.json(view);
}

/** A failed signing takes back its rate-limit count (best effort: the store may be what failed). */
const refundAndThrow =
  (release: (() => Promise<void>) | undefined) =>
  async (err: unknown): Promise<never> => {
    await release?.().catch(() => undefined);
    throw err;
  };

/** A /v1 operation's handler; the path parameters are the gate's (authenticate.ts), from the same match. */
export type Handler = (req: Request, res: Response) => Promise<void>;

const param = (res: Response, name: string): string => String(contextOf(res).params[name]);

/**
 * The handler of each /v1 operation, keyed by its openapi.yaml route ("PUT /v1/stations/{stationId}"):
 * the route is declared once, in openapi.yaml, and service.ts dispatches the operation the gate
 * matched and authorized; there is no second router that could match a request differently.
 */
export function v1Handlers(d: RouteDeps): Readonly<Record<string, Handler>> {
  const r: Record<string, Handler> = {};

  r['PUT /v1/stations/{stationId}'] = async (req, res) => {
    const { tenant, actor } = contextOf(res);
    const stationId = param(res, 'stationId');
    const body = req.body as { serialNumber: string; model?: string; allowed: boolean };
    const bad = checkChargePointIdentity(body.serialNumber, 'serialNumber');
    if (bad.length) throw new AppError('policy', 'the station serial number cannot be a certificate CN', bad);
    const existing = await d.store.getStation(tenant.id, stationId);
    const now = d.now().toISOString();
    const station = {
      tenant: tenant.id,
      stationId,
      serialNumber: body.serialNumber,
      ...(body.model === undefined ? {} : { model: body.model }),
      allowed: body.allowed,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    const { created } = await d.store.putStation(station);
    await d.audit.record({
      event: created ? 'station.registered' : 'station.updated',
      actor,
      outcome: 'ok',
      tenant: tenant.id,
      details: { stationId, serialNumber: body.serialNumber, allowed: body.allowed },
    });
    res.status(created ? 201 : 200).json(stationView(station));
  };

  r['GET /v1/stations/{stationId}'] = async (req, res) => {
    const { tenant } = contextOf(res);
    const station = await d.store.getStation(tenant.id, param(res, 'stationId'));
    if (!station) throw new AppError('not-found', 'no such station');
    res.json(stationView(station));
  };

  // A00.FR.702/704: removing a charge point revokes its certificates at once (cessationOfOperation);
  // the CA deletes the station and revokes in one store write.
  r['DELETE /v1/stations/{stationId}'] = async (req, res) => {
    const { tenant, actor } = contextOf(res);
    const removed = await d.ca.removeStation({ tenant: tenant.id, stationId: param(res, 'stationId'), actor });
    if (!removed.deleted) throw new AppError('not-found', 'no such station');
    res.status(204).end();
  };

  r['POST /v1/stations/{stationId}/certificates'] = async (req, res) => {
    const { tenant, actor } = contextOf(res);
    const stationId = param(res, 'stationId');
    const body = req.body as { csr: string; certificateType: string };
    const idempotencyKey = req.get('idempotency-key');
    const found = profileForCertificateType(body.certificateType);
    if ('violation' in found) throw new AppError('policy', found.violation.message, [found.violation]);
    // A retry under a known Idempotency-Key goes straight to the CA, which replays the recorded
    // certificate (or refuses a different request); re-running policy would call the key reused.
    const earlier = idempotencyKey ? await d.store.getIdempotency(tenant.id, idempotencyKey) : undefined;
    let release: (() => Promise<void>) | undefined;
    if (!earlier) {
      // Another tenant's station answers like one that does not exist, so identifiers cannot be probed.
      const station = await d.store.getStation(tenant.id, stationId);
      if (!station) throw new AppError('not-found', 'no such station', [{ rule: Rule.registeredIdentity, message: 'station is not registered for this tenant' }]);
      const parsed = readCsr(body.csr);
      if ('violation' in parsed) throw new AppError('policy', parsed.violation.message, [parsed.violation]);
      // The CA runs the same check again on its own reads; a retry of an answered request (issue 14.13) goes on to it like a known Idempotency-Key.
      const verified = await verifyRequest(
        found.profile,
        { tenant: tenant.id, stationId, csr: parsed.csr, requestLabel: body.certificateType },
        { reads: d.store, keyPolicy: d.keyPolicy, now: d.now(), tenant, station },
      );
      const retry = verified.outcome === 'answered-before';
      if (!retry) release = await consumeCsrQuota(d.store, tenant, stationId, d.rateLimits, d.now());
    }
    const signed = await d.ca
      .sign({
        tenant: tenant.id,
        stationId,
        csr: body.csr,
        certificateType: body.certificateType,
        actor,
        ...(idempotencyKey ? { idempotencyKey } : {}),
      })
      .catch(refundAndThrow(release));
    sendSigned(d, res, signed);
  };

  // CSMS server certificates, revoked by fast expiration (A00.FR.701).
  r['POST /v1/server-certificates'] = async (req, res) => {
    const { tenant, actor } = contextOf(res);
    const body = req.body as { csr: string; validityHours?: number };
    const idempotencyKey = req.get('idempotency-key');
    const earlier = idempotencyKey ? await d.store.getIdempotency(tenant.id, idempotencyKey) : undefined;
    let release: (() => Promise<void>) | undefined;
    if (!earlier) {
      const parsed = readCsr(body.csr);
      if ('violation' in parsed) throw new AppError('policy', parsed.violation.message, [parsed.violation]);
      await verifyRequest(csmsServer, { tenant: tenant.id, stationId: '', csr: parsed.csr, requestLabel: csmsServer.kind }, { reads: d.store, keyPolicy: d.keyPolicy, now: d.now(), tenant });
      release = await consumeCsrQuota(d.store, tenant, undefined, d.rateLimits, d.now());
    }
    const signed = await d.ca
      .signServer({
        tenant: tenant.id,
        actor,
        csr: body.csr,
        ...(body.validityHours === undefined ? {} : { validityHours: body.validityHours }),
        ...(idempotencyKey ? { idempotencyKey } : {}),
      })
      .catch(refundAndThrow(release));
    sendSigned(d, res, signed);
  };
  r['GET /v1/stations/{stationId}/certificates'] = async (req, res) => {
    const { tenant } = contextOf(res);
    const stationId = param(res, 'stationId');
    if (!(await d.store.getStation(tenant.id, stationId))) throw new AppError('not-found', 'no such station');
    const now = d.now();
    const items = (await d.store.listStationCertificates(tenant.id, stationId)).slice(-1000).map((c) => certificateView(c, now));
    res.json({ items });
  };

  r['GET /v1/certificates/{serialNumber}'] = async (req, res) => {
    const { tenant } = contextOf(res);
    const serial = param(res, 'serialNumber').toLowerCase().replace(/^0+(?=.)/, '');
    const cert = await d.store.getCertificate(serial);
    // Another tenant's certificate is reported as absent, so identifiers cannot be probed.
    if (!cert || cert.tenant !== tenant.id) throw new AppError('not-found', 'no such certificate');
    res.json(certificateView(cert, d.now()));
  };

  r['POST /v1/certificates/{serialNumber}/revoke'] = async (req, res) => {
    const { tenant, actor } = contextOf(res);
    const serial = param(res, 'serialNumber').toLowerCase().replace(/^0+(?=.)/, '');
    const { reason } = req.body as { reason: RevocationReason };
    const refused = checkRevocationReason(reason);
    if (refused.length) {
      throw new AppError('policy', `cannot revoke with reason ${reason}`, refused);
    }
    // Same answer as GET for another tenant's serial; the CA checks the tenant again.
    const cert = await d.store.getCertificate(serial);
    if (!cert || cert.tenant !== tenant.id || !profileOf(cert.kind)?.status.tenantRevocable) throw new AppError('not-found', 'no such certificate');
    const revoked = await d.ca.revoke({ tenant: tenant.id, serialNumber: serial, reason, actor });
    res.json({
      serialNumber: revoked.serialNumber,
      status: revoked.status,
      revokedAt: revoked.revokedAt,
      revocationReason: revoked.revocationReason,
      changed: revoked.changed,
    });
  };

  // OCPP GetCertificateStatus on behalf of charge points (Plug&Charge 4.5): a status query, not an
  // object of the tenant, so any active tenant may ask.
  r['POST /v1/certificate-status'] = async (req, res) => {
    res.json(await d.certificateStatus.query(req.body as OcspRequestData));
  };

  r['GET /v1/trust-anchors'] = async (_req, res) => {
    res.json({ items: (await trustAnchors(d.store, d.now().getTime())).map(trustAnchorView) });
  };

  // The tenant's own audit entries only (per-tenant index); PKI-wide ones are read with `pki audit list`.
  r['GET /v1/audit'] = async (req, res) => {
    const { tenant } = contextOf(res);
    const after = req.query.after === undefined ? 0 : Number(req.query.after);
    const limit = req.query.limit === undefined ? 100 : Math.min(Number(req.query.limit), AUDIT_LIMITS.pageSize);
    const items = await d.store.listAudit({ tenant: tenant.id, afterSeq: after, limit });
    res.json({ items, next: items.length === limit ? items[items.length - 1]!.seq : null });
  };

  return r;
}
