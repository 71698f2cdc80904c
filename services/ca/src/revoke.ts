import { profileOf } from '@evpki/issuance';
import { checkRevocationReason } from '@evpki/policy';
import { AppError, type Logger } from '@evpki/service';
import { StationRemovalLimitError, type RevocationReason, type CaStore, type StationRemoval } from '@evpki/store';

export interface RevokeDeps {
  readonly store: CaStore;
  readonly now: () => Date;
  readonly log: Logger;
  /** Republishes the issuer's CRL; resolves once the CRL includes everything revoked before the call. */
  readonly publishCrl: (issuerId: string) => Promise<void>;
}

export interface RevokedView {
  readonly serialNumber: string;
  readonly status: 'revoked';
  readonly revokedAt: string;
  readonly revocationReason: RevocationReason;
  readonly changed: boolean;
}

/** Revokes one of a tenant's certificates; another tenant's serial is "not found". Its audit entry is written with it (one store write). */
export async function revokeCertificate(tenant: string, serial: string, reason: string, actor: string, d: RevokeDeps): Promise<RevokedView> {
  const refused = checkRevocationReason(reason);
  if (refused.length) throw new AppError('policy', `cannot revoke with reason ${reason}`, refused);
  const cert = await d.store.getCertificate(serial);
  if (!cert || cert.tenant !== tenant || !profileOf(cert.kind)?.status.tenantRevocable) throw new AppError('not-found', 'no such certificate');
  const outcome = await d.store.revokeCertificate(serial, reason as RevocationReason, d.now().toISOString(), ({ record: r, changed }) => [
    {
      event: 'certificate.revoked',
      actor,
      outcome: 'ok',
      tenant,
      details: { serialNumber: serial, stationId: r.stationId ?? null, reason: r.revocationReason!, changed },
    },
  ]);
  if (!outcome.ok) throw new AppError('not-found', 'no such certificate');
  const r = outcome.record;
  if (outcome.changed) {
    d.log.info({ event: 'certificate.revoked', tenant, stationId: r.stationId, serial, reason: r.revocationReason }, 'certificate revoked');
    await d.publishCrl(r.issuerId);
  }
  return { serialNumber: r.serial, status: 'revoked', revokedAt: r.revokedAt!, revocationReason: r.revocationReason!, changed: outcome.changed };
}

/**
 * Removes a station and revokes its certificates with cessationOfOperation, with their audit
 * entries, in one store write. Certificates of a station whose record is gone already (deleted
 * outside the CA) are still revoked, and each revocation is audited all the same.
 */
export async function removeStation(tenant: string, stationId: string, actor: string, d: RevokeDeps): Promise<{ deleted: boolean; revoked: string[] }> {
  const { deleted, revoked } = await removeOrRefuse(d.store, tenant, stationId, d.now().toISOString(), ({ deleted, revoked }) => [
    ...(deleted ? [{ event: 'station.removed', actor, outcome: 'ok' as const, tenant, details: { stationId, revoked: revoked.length } }] : []),
    ...revoked.map((r) => ({
      event: 'certificate.revoked',
      actor,
      outcome: 'ok' as const,
      tenant,
      details: { serialNumber: r.serial, stationId, reason: r.revocationReason!, changed: true },
    })),
  ]);
  for (const r of revoked) d.log.info({ event: 'certificate.revoked', tenant, stationId, serial: r.serial, reason: r.revocationReason }, 'certificate revoked');
  for (const issuerId of new Set(revoked.map((r) => r.issuerId))) await d.publishCrl(issuerId);
  if (deleted) d.log.info({ event: 'station.removed', tenant, stationId, revoked: revoked.length }, 'station removed');
  return { deleted, revoked: revoked.map((r) => r.serial) };
}

/** store.removeStation; a station with more good certificates than one removal revokes answers 409 naming the rule (Station.removal-limit) and what to do. */
async function removeOrRefuse(store: CaStore, tenant: string, stationId: string, at: string, auditOf: Parameters<CaStore['removeStation']>[4]): Promise<StationRemoval> {
  try {
    return await store.removeStation(tenant, stationId, 'cessationOfOperation', at, auditOf);
  } catch (e) {
    if (!(e instanceof StationRemovalLimitError)) throw e;
    throw new AppError('conflict', `station ${stationId} has ${e.good} good certificates, more than one removal revokes (${e.limit}); nothing was changed`, [
      { rule: e.rule, message: `revoke ${e.good - e.limit} or more of its certificates first (POST /v1/certificates/{serialNumber}/revoke), then remove the station again` },
    ]);
  }
}
