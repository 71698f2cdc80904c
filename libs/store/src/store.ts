import type {
  CertificateRecord,
  IdempotencyClaim,
  IdempotencyRecord,
  IssuanceOutcome,
  IssuerRecord,
  StationRecord,
  TenantRecord,
} from './records.js';

/**
 * The storage contract every backend fulfils. Writes that belong together are atomic; a resolved
 * write is durable.
 */
export interface Store {
  /** Throws when the store cannot serve reads and writes. */
  ping(): Promise<void>;
  close(): Promise<void>;

  getTenant(id: string): Promise<TenantRecord | undefined>;
  putTenant(t: TenantRecord): Promise<void>;

  getStation(tenant: string, stationId: string): Promise<StationRecord | undefined>;
  /** Creates or replaces; `created` tells which. */
  putStation(s: StationRecord): Promise<{ created: boolean }>;
  deleteStation(tenant: string, stationId: string): Promise<boolean>;

  listIssuers(): Promise<IssuerRecord[]>;
  getIssuer(id: string): Promise<IssuerRecord | undefined>;
  putIssuer(i: IssuerRecord): Promise<void>;

  getCertificate(serial: string): Promise<CertificateRecord | undefined>;
  listStationCertificates(tenant: string, stationId: string): Promise<CertificateRecord[]>;
  isKeyCertified(spkiSha256: string): Promise<boolean>;
  isKeyBlocked(spkiSha256: string): Promise<boolean>;
  blockKey(spkiSha256: string): Promise<void>;
  getIdempotency(tenant: string, key: string): Promise<IdempotencyRecord | undefined>;

  /**
   * Records an issued certificate with its indexes and, when given, its idempotency record, all or
   * nothing. Refuses (and writes nothing) when the serial exists, the key was already certified,
   * or the idempotency key is already taken.
   */
  recordIssuance(cert: CertificateRecord, idempotency?: IdempotencyClaim): Promise<IssuanceOutcome>;
}
