import type { Request, Response } from 'express';
import type { CaClient } from '@evpki/ca-client';
import { profileOf } from '@evpki/issuance';
import { checkChargePointIdentity, checkRevocationReason, seccIdViolations } from '@evpki/policy';
import type { OcspRequestData } from '@evpki/ocsp';
import { AppError, type AuditTrail } from '@evpki/service';
import { AUDIT_LIMITS, SeccIdConflictError, trustAnchors, type RevocationReason, type RaStore, type StationRecord } from '@evpki/store';
import { contextOf, requestOf } from './authenticate.js';
import type { CertificateStatus } from './certificate-status.js';
import type { Enrolled, Enrolment } from './enrol.js';
import { certificateSignedOf, signCertificateOf, type PncDataTransfer } from './pnc-data-transfer.js';
import { certificateView, opcpRootView, stationView, trustAnchorView } from './views.js';
import { listHandlers } from './lists.js';
import type { OcspAnswers } from './ocsp-answers.js';
import { summaryHandlers } from './summary.js';

export interface RouteDeps {
  readonly store: RaStore;
  readonly ca: Pick<CaClient, 'revoke' | 'removeStation'>;
  readonly enrolment: Enrolment;
  readonly now: () => Date;
  readonly certificateStatus: CertificateStatus;
  readonly audit: AuditTrail;
  /** The tenant's OCSP answers from our responders' metrics (GET /v1/summary). */
  readonly ocspAnswers: { forTenant(tenant: string): Promise<OcspAnswers> };
}

/** 201 with the issued (or, for a known Idempotency-Key, replayed) certificate. */
function sendSigned(res: Response, signed: Enrolled, wrap: (view: Omit<Enrolled, 'replayed'>) => unknown = (view) => view): void {
  res.status(201).location(`/v1/certificates/${signed.serialNumber}`);
  if (signed.replayed) res.set('Idempotent-Replayed', 'true');
  const { replayed: _replayed, ...view } = signed;
  res.json(wrap(view));
}

/** A /v1 operation's handler; the path parameters are the gate's (authenticate.ts), from the same match. */
export type Handler = (req: Request, res: Response) => Promise<void>;

const param = (res: Response, name: string): string => String(contextOf(res).params[name]);

/**
 * The handler of each /v1 operation, keyed by its openapi.yaml route ("PUT /v1/stations/{stationId}"):
 * the route is declared once, in openapi.yaml, and service.ts dispatches the operation the gate
 * matched and authorized; there is no second router that could match a request differently.
 */
/** An audit detail value within AUDIT_LIMITS.detailValueChars (32 SECC-IDs can be longer). */
const clipDetail = (v: string): string => (v.length > AUDIT_LIMITS.detailValueChars ? `${v.slice(0, AUDIT_LIMITS.detailValueChars - 3)}...` : v);

export function v1Handlers(d: RouteDeps): Readonly<Record<string, Handler>> {
  const r: Record<string, Handler> = {};

  r['PUT /v1/stations/{stationId}'] = async (req, res) => {
    const { tenant, actor } = contextOf(res);
    const stationId = param(res, 'stationId');
    const body = req.body as { serialNumber: string; model?: string; allowed: boolean; seccIds?: string[] };
    const bad = checkChargePointIdentity(body.serialNumber, 'serialNumber');
    if (bad.length) throw new AppError('policy', 'the station serial number cannot be a certificate CN', bad);
    const seccIds = body.seccIds ?? [];
    const badIds = seccIdViolations(seccIds);
    if (badIds.length) throw new AppError('policy', 'the station SECC-IDs are not valid', badIds);
    const existing = await d.store.getStation(tenant.id, stationId);
    const now = d.now().toISOString();
    const station = {
      tenant: tenant.id,
      stationId,
      serialNumber: body.serialNumber,
      ...(body.model === undefined ? {} : { model: body.model }),
      allowed: body.allowed,
      ...(seccIds.length ? { seccIds } : {}),
      // How it was onboarded stays: only that manufacturer identity may enrol it with a manufacturer chain.
      ...(existing?.manufacturer ? { manufacturer: existing.manufacturer } : {}),
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    const { created } = await putStationOrConflict(d.store, station);
    await d.audit.record({
      event: created ? 'station.registered' : 'station.updated',
      actor,
      outcome: 'ok',
      tenant: tenant.id,
      details: { stationId, serialNumber: body.serialNumber, allowed: body.allowed, ...(seccIds.length ? { seccIds: clipDetail(seccIds.join(' ')) } : {}) },
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
  // the CA deletes the station and revokes in one store write. A station whose record is already
  // gone but whose certificates were still good is done too (204): only nothing to do is 404.
  r['DELETE /v1/stations/{stationId}'] = async (req, res) => {
    const { tenant, actor } = contextOf(res);
    const removed = await d.ca.removeStation({ tenant: tenant.id, stationId: param(res, 'stationId'), actor }, requestOf(res).id);
    if (!removed.deleted && removed.revoked.length === 0) throw new AppError('not-found', 'no such station');
    requestOf(res).log.info({ event: 'station.removed', tenant: tenant.id, stationId: param(res, 'stationId'), revoked: removed.revoked.length }, 'station removed, its certificates revoked');
    res.status(204).end();
  };

  // The enrolment core (enrol.ts) does the work; this adapter maps HTTP to it and back.
  r['POST /v1/stations/{stationId}/certificates'] = async (req, res) => {
    const body = req.body as { csr: string; certificateType: string; manufacturerCertificateChain?: string };
    const idempotencyKey = req.get('idempotency-key');
    const enrolment = {
      stationId: param(res, 'stationId'),
      csr: body.csr,
      certificateType: body.certificateType,
      ...(idempotencyKey ? { idempotencyKey } : {}),
      ...(body.manufacturerCertificateChain === undefined ? {} : { manufacturerCertificateChain: body.manufacturerCertificateChain }),
    };
    const signed = await d.enrolment.station(contextOf(res), enrolment);
    requestOf(res).log.info({ event: 'certificate.issued', tenant: contextOf(res).tenant.id, stationId: enrolment.stationId, certificateType: signed.certificateType, serial: signed.serialNumber, replayed: signed.replayed }, 'certificate issued');
    sendSigned(res, signed);
  };

  // The same enrolment, wrapped as OCPP 1.6 DataTransfer (pnc-data-transfer.ts).
  r['POST /v1/stations/{stationId}/data-transfer'] = async (req, res) => {
    const { csr, certificateType } = signCertificateOf(req.body as PncDataTransfer);
    const idempotencyKey = req.get('idempotency-key');
    const enrolment = { stationId: param(res, 'stationId'), csr, certificateType, ...(idempotencyKey ? { idempotencyKey } : {}) };
    const signed = await d.enrolment.station(contextOf(res), enrolment);
    requestOf(res).log.info({ event: 'certificate.issued', tenant: contextOf(res).tenant.id, stationId: enrolment.stationId, certificateType: signed.certificateType, serial: signed.serialNumber, replayed: signed.replayed }, 'certificate issued (DataTransfer)');
    sendSigned(res, signed, (certificate) => ({ certificate, certificateSigned: certificateSignedOf(certificate) }));
  };

  // CSMS server certificates, revoked by fast expiration (A00.FR.701).
  r['POST /v1/server-certificates'] = async (req, res) => {
    const body = req.body as { csr: string; validityHours?: number };
    const idempotencyKey = req.get('idempotency-key');
    const enrolment = { csr: body.csr, ...(body.validityHours === undefined ? {} : { validityHours: body.validityHours }), ...(idempotencyKey ? { idempotencyKey } : {}) };
    const signed = await d.enrolment.server(contextOf(res), enrolment);
    requestOf(res).log.info({ event: 'certificate.issued', tenant: contextOf(res).tenant.id, certificateType: signed.certificateType, serial: signed.serialNumber, replayed: signed.replayed }, 'CSMS server certificate issued');
    sendSigned(res, signed);
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
    const revoked = await d.ca.revoke({ tenant: tenant.id, serialNumber: serial, reason, actor }, requestOf(res).id);
    requestOf(res).log.info({ event: 'certificate.revoked', tenant: tenant.id, serial: revoked.serialNumber, reason: revoked.revocationReason, changed: revoked.changed }, 'certificate revoked');
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
    res.json(await d.certificateStatus.query(req.body as OcspRequestData, requestOf(res).log));
  };

  // ?hierarchy= picks the hierarchy (default csms; v2g: the V2G root of the SECC certificates).
  r['GET /v1/trust-anchors'] = async (req, res) => {
    const hierarchy = typeof req.query.hierarchy === 'string' ? req.query.hierarchy : undefined;
    res.json({ items: (await trustAnchors(d.store, d.now().getTime(), hierarchy)).map(trustAnchorView) });
  };

  // OPCP / Hubject root certificate pool shape (GET /v1/root/rootCerts[?rootType=]): this PKI's V2G
  // root(s); it holds no MO or OEM roots, so those types answer an empty collection.
  r['GET /v1/root/rootCerts'] = async (req, res) => {
    const type = typeof req.query.rootType === 'string' ? req.query.rootType.toUpperCase() : 'V2G';
    const roots = type === 'V2G' ? await trustAnchors(d.store, d.now().getTime(), 'v2g') : [];
    res.json({ RootCertificateCollection: { rootCertificates: roots.map(opcpRootView) } });
  };

  // The tenant's own audit entries only (per-tenant index); PKI-wide ones are read with `pki audit list`.
  r['GET /v1/audit'] = async (req, res) => {
    const { tenant } = contextOf(res);
    const after = req.query.after === undefined ? 0 : Number(req.query.after);
    const limit = req.query.limit === undefined ? 100 : Math.min(Number(req.query.limit), AUDIT_LIMITS.pageSize);
    const items = await d.store.listAudit({ tenant: tenant.id, afterSeq: after, limit });
    res.json({ items, next: items.length === limit ? items[items.length - 1]!.seq : null });
  };

  // The operator's lists and the CA hierarchy (lists.ts).
  Object.assign(r, listHandlers({ store: d.store, now: d.now }), summaryHandlers({ store: d.store, now: d.now, ocspAnswers: d.ocspAnswers }));
  return r;
}

/** putStation; a SECC-ID another station of the tenant lists answers 409 naming the rule (PnC-4.3.secc-id-unique) and the SECC-ID. */
async function putStationOrConflict(store: Pick<RaStore, 'putStation'>, station: StationRecord): Promise<{ created: boolean }> {
  try {
    return await store.putStation(station);
  } catch (e) {
    if (!(e instanceof SeccIdConflictError)) throw e;
    throw new AppError('conflict', `the station lists a SECC-ID another station of the tenant lists: ${e.conflict.seccId}`, [
      { rule: e.rule, message: `SECC-ID ${e.conflict.seccId} is already listed by station ${e.conflict.otherStationId}; a SECC-ID belongs to one station of a tenant` },
    ]);
  }
}
