import type {
  CertificateRecord,
  CrlRecord,
  OcspDue,
  OcspHash,
  OcspResponseRecord,
  RevocationOutcome,
  RevocationReason,
  RevokedEntry,
  SignedStatus,
  IdempotencyClaim,
  IdempotencyRecord,
  IssuanceOutcome,
  IssuanceCoverage,
  IssuerRecord,
  StationRecord,
  StationPutOutcome,
  OcspRequeueStep,
  TenantRecord,
  OAuthClientRecord,
  ManufacturerRecord,
  RateBucket,
  RateOutcome,
  RotationRecord,
} from './records.js';
import type { AuditAppend, AuditCheckpoint, AuditEntry, AuditEvent, AuditHead, AuditQuery } from './audit.js';
import type { MigrationResult } from './schema.js';
import type { CertificateListFilter, CertificateListResult, ListPage, ListResult, StationListFilter, TenantSummary } from './list-index.js';

/**
 * The storage contract every backend fulfils. Writes that belong together are atomic; a resolved
 * write is durable.
 */
/** What recordIssuance writes with the certificate, in the same atomic write. */
export interface IssuanceAlso {
  /** Its audit entries (appended to the hash chain in the write). */
  readonly audit?: AuditAppend;
  /** The station it registers (zero-touch onboarding: refused as 'station' when it exists). It lists no SECC-ID (throws otherwise). */
  readonly register?: StationRecord;
  /**
   * Rate limits the certificate counts against (RateLimit.* rules): counted in the same write, so a
   * certificate recorded is counted and one refused or failed is not; refused as 'rate' (nothing
   * written) when a bucket is full at `now` (epoch ms). `eventId` names this issuance's event.
   */
  readonly rate?: RateCount;
}

/** One event counted in sliding-window buckets (IssuanceAlso.rate). */
export interface RateCount {
  readonly buckets: readonly RateBucket[];
  readonly now: number;
  readonly eventId: string;
}

/** What revokeCertificate did (RevocationOutcome when the certificate exists). */
export type RevocationDone = Extract<RevocationOutcome, { ok: true }>;
/** What removeStation did: whether the station was deleted, and the certificates it revoked (as stored now). */
export interface StationRemoval {
  readonly deleted: boolean;
  readonly revoked: CertificateRecord[];
}
/**
 * The most good certificates removeStation revokes in its one write (about 27 years of daily
 * renewals; expired certificates keep status good). It bounds the write: on Redis one script call
 * that blocks the server while it runs (about 0.5 s for 10,000 on a 2-core machine,
 * test/store-contract-station-removal.test.ts), and the CA's answer (its serials).
 */
export const STATION_REMOVAL_LIMIT = 10_000;

/** The audit events of a revocation, from what it does: written in the same write (Store.revokeCertificate). */
export type RevocationAuditOf<T> = (done: T) => readonly AuditEvent[];

export interface Store {
  /** Throws when the store cannot be read. Writes nothing: readiness probes call it (issue 14.7). */
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * Brings the store up to STORE_SCHEMA_VERSION (schema.ts) and records the version in the store.
   * Idempotent, and safe when several processes run it at once. Each backend runs it itself before
   * its first key lookup, key-indexed write or issuer or rotation read or write, so no caller has to.
   */
  migrate(): Promise<MigrationResult>;

  getTenant(id: string): Promise<TenantRecord | undefined>;
  /**
   * Creates or replaces. Every tenant write (putTenant, createTenant, updateTenant) throws
   * TenantConflictError, writing nothing, when the record gets a CPO name, server domain or IP range
   * it did not have that another tenant holds, or one below/inside or above/around another's
   * (TenantRecord); it checks and updates the claims index in the same atomic write.
   */
  putTenant(t: TenantRecord): Promise<void>;
  /** Creates a tenant unless one with its id exists (then writes nothing): true when created. Of concurrent creates of one id exactly one wins. */
  createTenant(t: TenantRecord): Promise<boolean>;
  /**
   * Changes one tenant in one atomic read-modify-write: `change` gets the stored record and returns
   * the new one (same id). It may be called again when another writer changed the tenant meanwhile,
   * so it must not have side effects. Undefined (nothing written) when there is no such tenant.
   */
  updateTenant(id: string, change: (current: TenantRecord) => TenantRecord): Promise<{ before: TenantRecord; after: TenantRecord } | undefined>;
  /** Every tenant, by id. */
  listTenants(): Promise<TenantRecord[]>;

  /** An OAuth2 client (Plug&Charge 4.4) by its client_id; undefined when there is none. */
  getOAuthClient(clientId: string): Promise<OAuthClientRecord | undefined>;
  /** Creates or replaces an OAuth2 client (the pki CLI: add, rotate-secret, disable). */
  putOAuthClient(c: OAuthClientRecord): Promise<void>;
  /** A tenant's OAuth2 clients, by client_id. */
  listOAuthClients(tenant: string): Promise<OAuthClientRecord[]>;

  /** A tenant's trusted manufacturer by name; undefined when there is none. */
  getManufacturer(tenant: string, name: string): Promise<ManufacturerRecord | undefined>;
  /** Creates or replaces a tenant's manufacturer. */
  putManufacturer(m: ManufacturerRecord): Promise<void>;
  /** Removes a tenant's manufacturer; false when there was none. Stations registered through it stay. */
  deleteManufacturer(tenant: string, name: string): Promise<boolean>;
  /** A tenant's manufacturers, by name (another tenant's are never listed). */
  listManufacturers(tenant: string): Promise<ManufacturerRecord[]>;

  getStation(tenant: string, stationId: string): Promise<StationRecord | undefined>;
  /**
   * A tenant's stations, by station id: a scan of the tenant's stations, for tenants of up to a few
   * thousand stations (EST finds a CSR's station with findStationBySeccId instead).
   */
  listStations(tenant: string): Promise<StationRecord[]>;
  /**
   * One page of a tenant's stations, by stationId, from the list indexes (list-index.ts): never a
   * scan of the tenant's stations. With a prefix and `allowed`, the page reads at most
   * LIST_SCAN_BUDGET index entries: it may hold fewer than `limit` items and still a `next`.
   * Throws ListPositionError for an `after` no page gave.
   */
  findStations(tenant: string, filter: StationListFilter, page: ListPage): Promise<ListResult<StationRecord>>;
  /**
   * The tenant's station whose `seccIds` hold this SECC-ID (compared as seccIdKey: without '*', any
   * case), from an index the station writes keep (EST enrolment, PnC-4.3); undefined when none.
   * Several stations listing one SECC-ID (data written before the station writes refused it,
   * PnC-4.3.secc-id-unique): the first by station id.
   */
  findStationBySeccId(tenant: string, seccId: string): Promise<StationRecord | undefined>;
  /**
   * Creates or replaces; `created` tells which. Throws SeccIdConflictError, writing nothing, when a
   * SECC-ID of the station (compared as seccIdKey) is listed by another station of its tenant
   * (PnC-4.3.secc-id-unique; checked against the SECC-ID index in the same atomic write). Other
   * tenants may list it.
   */
  putStation(s: StationRecord): Promise<{ created: boolean }>;
  deleteStation(tenant: string, stationId: string): Promise<boolean>;
  /**
   * Writes a batch of stations in one write (one LMDB transaction, one Redis MULTI): each one is
   * created when absent; an existing one is replaced only with `replace`, else kept as it is.
   * Outcomes in the batch's order. A station written (created or replaced) listing a SECC-ID another
   * station of its tenant lists, stored or written before it in the batch, is refused and not
   * written (`{ refused }`, PnC-4.3.secc-id-unique, as putStation); the others are. For bulk
   * imports: keep batches to a few thousand.
   */
  putStations(batch: readonly StationRecord[], opts: { readonly replace: boolean }): Promise<StationPutOutcome[]>;

  /** Every issuer, by id; with `hierarchy`, only that hierarchy's. */
  listIssuers(hierarchy?: string): Promise<IssuerRecord[]>;
  getIssuer(id: string): Promise<IssuerRecord | undefined>;
  /** Creates or replaces. Throws (writing nothing) on a record assertIssuerRecord refuses (hierarchies.ts). */
  putIssuer(i: IssuerRecord): Promise<void>;
  /** The latest notAfter (epoch ms, rounded up to the hour: expiryMark) of the leaf certificates an issuer has signed (not OCSP signers). */
  issuerLastExpiry(issuerId: string): Promise<number | undefined>;

  /** The rotation record of a hierarchy (default csms): its rotation in progress or its last one. */
  getRotation(hierarchy?: string): Promise<RotationRecord | undefined>;
  /**
   * One rotation step in one write: the issuer records and the rotation record of the hierarchy
   * `rotation.hierarchy`, but only while that hierarchy's stored rotation revision is
   * `expectedRevision` (undefined: none stored). False: someone else moved the rotation meanwhile,
   * nothing was written. Throws (writing nothing) when an issuer is of another hierarchy or refused
   * by assertIssuerRecord.
   */
  commitRotation(issuers: readonly IssuerRecord[], rotation: RotationRecord, expectedRevision: number | undefined): Promise<boolean>;

  getCertificate(serial: string): Promise<CertificateRecord | undefined>;
  /**
   * One page of a tenant's certificates matching every filter, from the list index certificatePlan
   * picks (list-index.ts; its `order`), never a scan of the tenant's certificates: the filters the
   * index does not apply are checked on at most LIST_SCAN_BUDGET index entries per page, so a page
   * may hold fewer than `limit` items and still a `next`. Throws ListPositionError for an `after`
   * no page gave.
   */
  findCertificates(tenant: string, filter: CertificateListFilter, page: ListPage): Promise<CertificateListResult>;
  /**
   * A tenant's numbers at `now` (epoch ms): stations, certificates by status, issued per day,
   * expiring; exact, from range counts of that tenant's list indexes only (never its records, nor
   * another tenant's index).
   */
  tenantSummary(tenant: string, now: number): Promise<TenantSummary>;
  listStationCertificates(tenant: string, stationId: string): Promise<CertificateRecord[]>;
  /** Key hashes are keySha256 (@evpki/x509) of the key, whatever bytes its CSR used. */
  isKeyCertified(spkiSha256: string): Promise<boolean>;
  /** The certificate that certified this key (there is at most one, A02.FR.02). */
  getCertificateByKey(spkiSha256: string): Promise<CertificateRecord | undefined>;
  isKeyBlocked(spkiSha256: string): Promise<boolean>;
  blockKey(spkiSha256: string): Promise<void>;
  getIdempotency(tenant: string, key: string): Promise<IdempotencyRecord | undefined>;

  /**
   * Records an issued certificate with its indexes and, when given, its idempotency record, all or
   * nothing. Refuses (and writes nothing) when the serial exists, the key was already certified,
   * or the idempotency key is already taken, or, for a leaf (charge point or server certificate),
   * when its issuer is not the active leaf-signing CA of the hierarchy of its kind ('issuer':
   * mayRecordLeafUnder, hierarchies.ts; a rotation's activation and issuance cannot interleave).
   * With `also.audit`, its events are appended to the audit chain in the same write (appendAudit's
   * rules: validated first, AuditEventError writing nothing), so that a certificate is never
   * recorded without its audit entry nor the entry without the certificate. Concurrent calls may
   * share one durable commit (group commit: one LMDB transaction, one Redis script and WAIT).
   * With `also.register`, the station (the certificate's tenant and station) is created in the same
   * write (zero-touch onboarding); 'station' when it exists by then (nothing written).
   */
  recordIssuance(cert: CertificateRecord, coverage: IssuanceCoverage, idempotency?: IdempotencyClaim, also?: IssuanceAlso): Promise<IssuanceOutcome>;

  /**
   * Revokes one certificate in one write: its status, the issuer's revocation list, its pre-signed
   * OCSP responses dropped (none can be served stale) and the certificate queued for new ones, and
   * for keyCompromise its key blocked (A00.FR.501). An already revoked certificate keeps its
   * revocation time; its reason can only be raised to keyCompromise (RFC 5280 5.3.1).
   * The events `auditOf` gives for what the write does are appended to the audit chain in the same
   * write, at `at` (appendAudit's rules: AuditEventError, nothing written), so that a revocation is
   * never stored without its audit entry. `auditOf` may be called more than once (another writer
   * changed the certificate or the chain meanwhile): no side effects. Not called for 'not-found'.
   */
  revokeCertificate(serial: string, reason: RevocationReason, at: string, auditOf: RevocationAuditOf<RevocationDone>): Promise<RevocationOutcome>;
  /**
   * Deletes a station and revokes each of its good certificates with `reason`, in one write, with
   * the audit events `auditOf` gives for it (as revokeCertificate; the append may hold
   * AUDIT_LIMITS.eventsPerAppend events plus one per certificate revoked). More than
   * STATION_REMOVAL_LIMIT good certificates: StationRemovalLimitError, nothing written.
   */
  removeStation(tenant: string, stationId: string, reason: RevocationReason, at: string, auditOf: RevocationAuditOf<StationRemoval>): Promise<StationRemoval>;
  /** The issuer's revoked certificates, for its CRL. */
  listRevoked(issuerId: string): Promise<RevokedEntry[]>;

  /** A fresh read, like ocspEpoch: what the responder serves must not predate a committed revocation. */
  getOcspResponse(issuerId: string, serial: string, hash: OcspHash): Promise<OcspResponseRecord | undefined>;
  /**
   * A number that moves whenever pre-signed OCSP responses are dropped (every revocation), read
   * synchronously on every OCSP request. A responder may keep pre-signed answers in memory while it
   * reads the same value. LMDB reads it fresh from the same write, so the first request after a
   * revocation sees it; Redis keeps it in the process, moved at once by the process's own
   * revocations and within a second by everyone else's (pub/sub, and a poll underneath).
   */
  ocspEpoch(): number;
  /**
   * Stores pre-signed responses for one certificate (the responder's pre-signer: answers to
   * requests are never written, issue 14.7), but only while the certificate still has the
   * status they were signed for (a revocation in between wins). With `schedule`, the next refresh
   * moves to `nextDue` (epoch ms; undefined: no more refreshes); without, the schedule is kept.
   * Returns false when nothing was written.
   */
  putOcspResponses(serial: string, signed: SignedStatus, responses: OcspResponseRecord[], schedule?: { nextDue: number | undefined }): Promise<boolean>;
  /**
   * Takes up to `limit` certificates whose pre-signed responses are due at or before `now`, earliest
   * first, and moves each one's due time to `now + leaseMs`, so that another responder instance
   * does not take them meanwhile; putOcspResponses with a schedule sets the real next due time.
   */
  claimOcspDue(now: number, limit: number, leaseMs: number): Promise<OcspDue[]>;
  /**
   * Makes certificates in the pre-signing schedule (those of `issuerId`, or all) due at `now` at the
   * latest, so that the responders re-sign their OCSP responses at once (e.g. after a delegated
   * signer change). One bounded step of about `limit` schedule entries: call again with the
   * returned cursor until it is undefined. Certificates that left the schedule (expired, issuer no
   * longer served) stay out. A responder signing one of them at that very moment may set its next
   * due time after this; run it again to be sure.
   */
  requeueOcsp(now: number, opts: { readonly issuerId?: string; readonly cursor?: string; readonly limit: number }): Promise<OcspRequeueStep>;

  /** Allocates the next CRL Number of an issuer (1, 2, …). */
  nextCrlNumber(issuerId: string): Promise<number>;
  /** Stores a CRL unless a CRL with a higher number is already stored; true when stored. */
  putCrl(crl: CrlRecord): Promise<boolean>;
  getCrl(issuerId: string): Promise<CrlRecord | undefined>;

  /**
   * Sliding-window rate limits, shared by every instance: whether one more event at `now` fits in
   * every bucket (a bucket with limit 0 is off), else the fullest bucket and when it has room again.
   * A read: events are counted by the write they belong to (recordIssuance's `also.rate`), so that
   * a flood over the limit is refused before any work, and the write checks again.
   */
  peekRate(buckets: readonly RateBucket[], now: number): Promise<RateOutcome>;

  /**
   * Appends events to the hash-chained audit log (audit.ts), all or nothing, with consecutive
   * seqs after the current head; resolves with the entries as stored. Throws AuditEventError
   * (writing nothing) when an event is refused: too large, or naming or looking like a secret.
   * Appends from every instance and process form one chain.
   */
  appendAudit(events: readonly AuditEvent[], at: string): Promise<AuditEntry[]>;
  /** Entries in ascending seq after `afterSeq`, at most `limit` (≤ 1000); with `tenant`, only that tenant's (an index, no scan). */
  listAudit(q: AuditQuery): Promise<AuditEntry[]>;
  /** The last entry's seq and hash; seq 0 and AUDIT_GENESIS_HASH when the log is empty. */
  auditHead(): Promise<AuditHead>;
  /** The last pruned entry's seq and hash (AUDIT_GENESIS: nothing pruned); the retained log starts after it. */
  auditCheckpoint(): Promise<AuditCheckpoint>;
  /**
   * Deletes the entries up to and including `through.seq` (and their tenant index rows) and makes
   * `through` the checkpoint: only when the entry at through.seq has through.hash (else false,
   * nothing deleted). True when `through` is the checkpoint already. With `from` (the checkpoint
   * the caller read): false when another prune moved the checkpoint from there first, so that of
   * two prunes from one checkpoint exactly one is true. See pruneAuditInChunks.
   */
  pruneAudit(through: AuditCheckpoint, from?: AuditCheckpoint): Promise<boolean>;

  /** Throws StoreNotDurableError when a resolved write could still be lost in a crash. */
  assertDurable(): Promise<void>;
}
