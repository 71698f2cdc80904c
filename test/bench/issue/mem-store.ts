/**
 * In-memory Store: the CA pipeline without LMDB, to see what the store costs. Only what issuance
 * uses; revocation, OCSP and CRL methods are not needed here.
 */
import type { CertificateRecord, IdempotencyClaim, IdempotencyRecord, IssuanceCoverage, IssuanceOutcome, IssuerRecord, RateOutcome, StationRecord, Store, TenantRecord } from '@evpki/store';

export type IssuanceStore = Omit<Store, 'revokeCertificate' | 'removeStation' | 'listRevoked' | 'getOcspResponse' | 'putOcspResponses' | 'claimOcspDue' | 'nextCrlNumber' | 'putCrl' | 'getCrl' | 'ocspEpoch' | 'issuerLastExpiry' | 'getRotation' | 'commitRotation' | 'putStations' | 'requeueOcsp' | 'appendAudit' | 'listAudit' | 'auditHead' | 'auditCheckpoint' | 'pruneAudit' | 'createTenant' | 'updateTenant' | 'listTenants' | 'migrate' | 'getOAuthClient' | 'putOAuthClient' | 'listOAuthClients' | 'listStations' | 'getManufacturer' | 'putManufacturer' | 'deleteManufacturer' | 'listManufacturers' | 'findStationBySeccId' | 'findStations' | 'findCertificates' | 'tenantSummary'>;

export class MemStore implements IssuanceStore {
  private readonly tenants = new Map<string, TenantRecord>();
  private readonly stations = new Map<string, StationRecord>();
  private readonly issuers = new Map<string, IssuerRecord>();
  private readonly certs = new Map<string, CertificateRecord>();
  private readonly spki = new Set<string>();
  private readonly blocked = new Set<string>();
  private readonly idem = new Map<string, IdempotencyRecord>();
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
  async assertDurable(): Promise<void> {}
  async getTenant(id: string): Promise<TenantRecord | undefined> {
    return this.tenants.get(id);
  }
  async putTenant(t: TenantRecord): Promise<void> {
    this.tenants.set(t.id, t);
  }
  async getStation(tenant: string, stationId: string): Promise<StationRecord | undefined> {
    return this.stations.get(`${tenant}\0${stationId}`);
  }
  async putStation(s: StationRecord): Promise<{ created: boolean }> {
    const k = `${s.tenant}\0${s.stationId}`;
    const created = !this.stations.has(k);
    this.stations.set(k, s);
    return { created };
  }
  async deleteStation(tenant: string, stationId: string): Promise<boolean> {
    return this.stations.delete(`${tenant}\0${stationId}`);
  }
  async listIssuers(): Promise<IssuerRecord[]> {
    return [...this.issuers.values()];
  }
  async getIssuer(id: string): Promise<IssuerRecord | undefined> {
    return this.issuers.get(id);
  }
  async putIssuer(i: IssuerRecord): Promise<void> {
    this.issuers.set(i.id, i);
  }
  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    return this.certs.get(serial);
  }
  async listStationCertificates(tenant: string, stationId: string): Promise<CertificateRecord[]> {
    return [...this.certs.values()].filter((c) => c.tenant === tenant && c.stationId === stationId);
  }
  async isKeyCertified(h: string): Promise<boolean> {
    return this.spki.has(h);
  }
  async getCertificateByKey(h: string): Promise<CertificateRecord | undefined> {
    return [...this.certs.values()].find((c) => c.spkiSha256 === h);
  }
  async isKeyBlocked(h: string): Promise<boolean> {
    return this.blocked.has(h);
  }
  async blockKey(h: string): Promise<void> {
    this.blocked.add(h);
  }
  async getIdempotency(tenant: string, key: string): Promise<IdempotencyRecord | undefined> {
    return this.idem.get(`${tenant}\0${key}`);
  }
  /** The bench issues with no rate limits: nothing is ever counted. */
  async peekRate(): Promise<RateOutcome> {
    return { allowed: true };
  }
  async recordIssuance(cert: CertificateRecord, _coverage: IssuanceCoverage, idem?: IdempotencyClaim): Promise<IssuanceOutcome> {
    if (idem) {
      const existing = this.idem.get(`${idem.tenant}\0${idem.key}`);
      if (existing) return { ok: false, conflict: 'idempotency', existing };
    }
    if (this.certs.has(cert.serial)) return { ok: false, conflict: 'serial' };
    if (this.spki.has(cert.spkiSha256)) return { ok: false, conflict: 'key' };
    this.certs.set(cert.serial, cert);
    this.spki.add(cert.spkiSha256);
    if (idem) this.idem.set(`${idem.tenant}\0${idem.key}`, { requestHash: idem.requestHash, serial: cert.serial, createdAt: cert.issuedAt });
    return { ok: true };
  }
}
