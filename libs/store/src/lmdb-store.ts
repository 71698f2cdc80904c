import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { expiryMark, revokedRecord } from './records.js';
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
import { countedBuckets, rateVerdict } from './rate.js';
import { STATION_REMOVAL_LIMIT, type IssuanceAlso, type RateCount, type RevocationAuditOf, type RevocationDone, type StationRemoval, type Store } from './store.js';
import { seccIdKey, tenantClaims } from '@evpki/policy';
import { assertRegistration, listsSeccKey, seccKeysOf } from './secc-index.js';
import { SeccIdConflictError, StationRemovalLimitError, StoreUnavailableError, type SeccIdConflict } from './errors.js';
import { claimChange, claimLookups, conflictError } from './tenant-index.js';
import {
  AUDIT_GENESIS,
  AUDIT_LIMITS,
  auditPage,
  linkAuditEntries,
  pruneAuditInChunks,
  validateAuditAppend,
  type AuditCheckpoint,
  type AuditEntry,
  type AuditEvent,
  type AuditHead,
  type AuditQuery,
} from './audit.js';
import { STORE_SCHEMA_VERSION, canonicalKeyHashOf, issuerAtSchema3, rotationAtSchema3, upToDate, type MigrationResult } from './schema.js';
import { DEFAULT_HIERARCHY, assertIssuerRecord, assertRotationCommit, mayRecordLeafUnder } from './hierarchies.js';
import { certificateIndexEntries, findCertificatesIn, findStationsIn, revokedIndexEntries, stationIndexEntries, summaryIn, type IndexCounter, type IndexEntry, type IndexName, type IndexSource, type TenantSummary } from './list-index.js';
import type { CertificateListFilter, CertificateListResult, ListPage, ListResult, StationListFilter } from './list-index.js';

/** Keys are lmdb arrays (ordered-binary): prefix ranges are [...prefix] .. [...prefix, END]. */
const key = (...parts: (string | number)[]): (string | number)[] => parts;
const END = '\uffff';
const OCSP_EPOCH = key('meta', 'ocsp-epoch');
/** The audit log: ['audit', seq] → entry, ['auditt', tenant, seq] → null (the tenant index), its head and checkpoint. */
const AUDIT_HEAD = key('meta', 'audit-head');
/**
 * The tenant claims index (tenant-index.ts): ['tclaim', claim key, tenant] → true; set to
 * TENANT_CLAIMS_VERSION once it holds every tenant's claims (2: operator IDs too; a store built
 * at 1 is indexed again, the puts are idempotent).
 */
const TENANT_CLAIMS_BUILT = key('meta', 'tenant-claims');
const TENANT_CLAIMS_VERSION = 2;
/** Set once the SECC-ID index (['secc', ...]) covers every station. */
const SECC_INDEX_BUILT = key('meta', 'secc-index');
const AUDIT_CHECKPOINT = key('meta', 'audit-checkpoint');

/**
 * LMDB creates its files with the process umask (the services and the CLI set 0o077; a library
 * user may not): the store directory is made 0700 and its files 0600, also those of an older
 * version. Best effort: a store another user owns (or a read-only mount) is left as it is.
 */
function restrictModes(dir: string): void {
  try {
    chmodSync(dir, 0o700);
    for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o600);
  } catch {
    // not ours to change
  }
}
/** The schema version (schema.ts); absent: 1. */
const SCHEMA = key('meta', 'schema');
/** A hierarchy's rotation record. Before schema 3 the one rotation record was at LEGACY_ROTATION. */
const rotationKey = (hierarchy: string): (string | number)[] => key('rotation', hierarchy);
/** The list indexes (list-index.ts): ['sx' | 'cx', tenant, ...index name, member] → null. */
type IndexSpace = 'sx' | 'cx';
const indexKey = (space: IndexSpace, tenant: string, index: IndexName, member: string): (string | number)[] => key(space, tenant, ...index, member);
const LEGACY_ROTATION = key('meta', 'rotation');

/**
 * The LMDB error behind lmdb-js's "Commit failed" (its `commitError`, a promise that rejects with
 * it: handled here, so that it is not an unhandled rejection), or undefined for any other error.
 */
function commitFailure(e: unknown): Promise<unknown> | undefined {
  const commitError = (e as { commitError?: unknown } | null)?.commitError;
  if (!(e instanceof Error) || !/^Commit failed\b/.test(e.message)) return undefined;
  if (!(commitError instanceof Promise)) return Promise.resolve(undefined);
  // lmdb-js rejects it as it reports the failure; bounded all the same, so a write never hangs on it.
  return Promise.race([commitError.then(() => undefined, (cause: unknown) => cause), new Promise((resolve) => setTimeout(resolve, 100).unref())]);
}

/**
 * The embedded default backend. LMDB is multi-process safe, so RA, CA and OCSP on one machine
 * share one environment. A write's promise resolves once the commit is flushed to disk.
 *
 * Every write checks first and writes after: a callback of lmdb-js's (async, batched) `transaction`
 * that throws does NOT undo the writes it made before throwing (they commit with the batch;
 * `transactionSync` would roll them back). So nothing may throw after a write in a callback.
 */
export class LmdbStore implements Store {
  private readonly db: RootDatabase;
  /** This instance's migrate(), once it succeeded (see schema()). */
  private schemaReady: Promise<unknown> | undefined;

  constructor(path: string) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    this.db = open({ path, compression: false, maxReaders: 256 });
    restrictModes(path);
  }

  /**
   * lmdb-js's write transaction (a callback, batched with the others of the moment into one commit),
   * run once more when the commit failed. LMDB commits atomically, so nothing of a failed commit was
   * written, and every callback here checks the store before it writes: running it again on the
   * store as it is then is safe. lmdb-js 3.5 now and then refuses a commit whose free-page list it
   * finds inconsistent ("freelist … had bad/duplicate entries", MDB_BAD_TXN; upstream, with writers
   * in several processes; seen once in the rotation test), and the next transaction commits. A
   * second failure is StoreUnavailableError (503 with Retry-After), with the LMDB error as its cause.
   */
  private async write<T>(callback: () => T): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction(callback);
      } catch (e) {
        const detail = commitFailure(e);
        if (!detail) throw e;
        const cause = await detail;
        if (attempt >= 2) throw new StoreUnavailableError(`the LMDB commit failed twice: ${(cause as Error | undefined)?.message ?? 'no detail'}`, { cause });
      }
    }
  }

  /** A read: probes call it every few seconds and must not write (issue 14.7). */
  async ping(): Promise<void> {
    this.db.get(OCSP_EPOCH);
  }

  async close(): Promise<void> {
    await this.schemaReady?.catch(() => undefined);
    try {
      await this.db.close();
    } catch (e) {
      // lmdb-js renews its read snapshot while closing; with none open (a store closed before its
      // first read, e.g. a CLI command refusing its input) that renewal fails with EINVAL although
      // there is nothing to release. Seen with 12 CLI processes on one data dir (cli.test).
      if (!/No transaction to renew/.test((e as Error).message)) throw e;
    }
  }

  /** Runs migrate() once per instance before the first key lookup or key-indexed write (again after a failure). */
  private schema(): Promise<unknown> {
    return (this.schemaReady ??= this.migrate().catch((e: unknown) => {
      this.schemaReady = undefined;
      throw e;
    }));
  }

  async migrate(): Promise<MigrationResult> {
    this.db.resetReadTxn();
    const seen = (this.db.get(SCHEMA) as number | undefined) ?? 1;
    if (seen >= STORE_SCHEMA_VERSION) return upToDate(seen);
    // One write transaction: other processes wait on LMDB's write lock, then find the new version.
    return this.write((): MigrationResult => {
      const from = (this.db.get(SCHEMA) as number | undefined) ?? 1;
      if (from >= STORE_SCHEMA_VERSION) return upToDate(from);
      const keys = from < 2 ? this.migrateKeyHashes() : { rewritten: 0, keyCertifiedTwice: [] };
      const hierarchies = from < 3 ? this.migrateHierarchies() : { rewrittenIssuers: 0, movedRotation: false };
      // Schema 4 built the list indexes, schema 5 added the revoked-by-notAfter one: built again (idempotent).
      const indexed = from < 5 ? this.migrateListIndexes() : { indexedStations: 0, indexedCertificates: 0 };
      this.db.putSync(SCHEMA, STORE_SCHEMA_VERSION);
      return { from, to: STORE_SCHEMA_VERSION, ...keys, ...hierarchies, ...indexed };
    });
  }

  /** Schema 2, in migrate()'s transaction: key hashes of the canonical key. */
  private migrateKeyHashes(): Pick<MigrationResult, 'rewritten' | 'keyCertifiedTwice'> {
    let rewritten = 0;
    const keyCertifiedTwice: string[] = [];
    for (const { value } of [...this.db.getRange({ start: key('cert'), end: key('cert', END) })]) {
      const cert = value as CertificateRecord;
      const h = canonicalKeyHashOf(cert);
      if (h === cert.spkiSha256) continue;
      this.db.putSync(key('cert', cert.serial), { ...cert, spkiSha256: h });
      if (this.db.get(key('spki', cert.spkiSha256)) === cert.serial) this.db.removeSync(key('spki', cert.spkiSha256));
      // A key certified twice under two encodings (the bug this fixes) keeps its first holder.
      const holder = this.db.get(key('spki', h)) as string | undefined;
      if (holder === undefined) this.db.putSync(key('spki', h), cert.serial);
      else keyCertifiedTwice.push(holder, cert.serial);
      const blocked = this.db.get(key('blocked', cert.spkiSha256)) as string | undefined;
      if (blocked !== undefined) {
        if (this.db.get(key('blocked', h)) === undefined) this.db.putSync(key('blocked', h), blocked);
        this.db.removeSync(key('blocked', cert.spkiSha256));
      }
      rewritten++;
    }
    return { rewritten, keyCertifiedTwice };
  }

  /** Schema 3, in migrate()'s transaction: issuers in a hierarchy, the rotation record the csms hierarchy's. */
  private migrateHierarchies(): Pick<MigrationResult, 'rewrittenIssuers' | 'movedRotation'> {
    let rewrittenIssuers = 0;
    for (const { key: k, value } of [...this.db.getRange({ start: key('issuer'), end: key('issuer', END) })]) {
      const next = issuerAtSchema3(value as IssuerRecord);
      if (!next) continue;
      this.db.putSync(k, next);
      rewrittenIssuers++;
    }
    const legacy = this.db.get(LEGACY_ROTATION) as RotationRecord | undefined;
    if (legacy === undefined) return { rewrittenIssuers, movedRotation: false };
    if (this.db.get(rotationKey(DEFAULT_HIERARCHY)) === undefined) this.db.putSync(rotationKey(DEFAULT_HIERARCHY), rotationAtSchema3(legacy));
    this.db.removeSync(LEGACY_ROTATION);
    return { rewrittenIssuers, movedRotation: true };
  }

  /** Schema 4, in migrate()'s transaction: the list indexes of every station and certificate (idempotent). */
  private migrateListIndexes(): Pick<MigrationResult, 'indexedStations' | 'indexedCertificates'> {
    let indexedStations = 0;
    let indexedCertificates = 0;
    for (const { value } of this.db.getRange({ start: key('station'), end: key('station', END) })) {
      const s = value as StationRecord;
      this.writeIndex('sx', s.tenant, stationIndexEntries(s));
      indexedStations++;
    }
    for (const { value } of this.db.getRange({ start: key('cert'), end: key('cert', END) })) {
      const c = value as CertificateRecord;
      this.writeIndex('cx', c.tenant, certificateIndexEntries(c));
      indexedCertificates++;
    }
    return { indexedStations, indexedCertificates };
  }

  /** In a write transaction: adds (or removes) index entries of a tenant. */
  private writeIndex(space: IndexSpace, tenant: string, entries: readonly IndexEntry[], remove = false): void {
    for (const e of entries) {
      const k = indexKey(space, tenant, e.index, e.member);
      if (remove) this.db.removeSync(k);
      else this.db.putSync(k, null);
    }
  }

  /** In a write transaction: writes a station over `before` (undefined: new), with its list and SECC-ID index entries. */
  private writeStation(before: StationRecord | undefined, s: StationRecord): void {
    if (before) {
      this.writeIndex('sx', before.tenant, stationIndexEntries(before), true);
      this.unindexSeccIds(before);
    }
    this.db.putSync(key('station', s.tenant, s.stationId), s);
    this.writeIndex('sx', s.tenant, stationIndexEntries(s));
    this.indexSeccIds(s);
  }

  /** In a write transaction: deletes a station and its list and SECC-ID index entries; false when there is none. */
  private dropStation(tenant: string, stationId: string): boolean {
    const k = key('station', tenant, stationId);
    const before = this.db.get(k) as StationRecord | undefined;
    if (before === undefined) return false;
    this.writeIndex('sx', tenant, stationIndexEntries(before), true);
    this.unindexSeccIds(before);
    this.db.removeSync(k);
    return true;
  }

  /** Reads a tenant's index from a fresh snapshot (list-index.ts readPage). */
  private indexSource<R>(space: IndexSpace, tenant: string, recordKey: (id: string) => (string | number)[]): IndexSource<R> {
    return {
      members: async (index, from, to, after, n) => {
        const out: string[] = [];
        const depth = 2 + index.length;
        for (const k of this.db.getKeys({ start: indexKey(space, tenant, index, after ?? from), end: indexKey(space, tenant, index, to), limit: n + 1 })) {
          const member = (k as string[])[depth]!;
          if (member === after) continue;
          out.push(member);
          if (out.length === n) break;
        }
        return out;
      },
      records: async (ids) => ids.map((id) => this.db.get(recordKey(id)) as R | undefined),
    };
  }

  async findStations(tenant: string, filter: StationListFilter, page: ListPage): Promise<ListResult<StationRecord>> {
    await this.schema();
    this.db.resetReadTxn();
    return findStationsIn(this.indexSource<StationRecord>('sx', tenant, (id) => key('station', tenant, id)), tenant, filter, page);
  }

  async findCertificates(tenant: string, filter: CertificateListFilter, page: ListPage): Promise<CertificateListResult> {
    await this.schema();
    this.db.resetReadTxn();
    return findCertificatesIn(this.indexSource<CertificateRecord>('cx', tenant, (serial) => key('cert', serial)), tenant, filter, page);
  }

  /** Key-range counts of a tenant's index (LMDB walks the range's keys in native code; no record is read). */
  private indexCounter(space: IndexSpace, tenant: string): IndexCounter {
    return async (ranges) => ranges.map((r) => this.db.getKeysCount({ start: indexKey(space, tenant, r.index, r.from), end: indexKey(space, tenant, r.index, r.to) }));
  }

  async tenantSummary(tenant: string, now: number): Promise<TenantSummary> {
    await this.schema();
    this.db.resetReadTxn();
    return summaryIn(this.indexCounter('sx', tenant), this.indexCounter('cx', tenant), now);
  }

  async getTenant(id: string): Promise<TenantRecord | undefined> {
    return this.db.get(key('tenant', id)) as TenantRecord | undefined;
  }
  async putTenant(t: TenantRecord): Promise<void> {
    await this.write(() => this.writeTenant(this.db.get(key('tenant', t.id)) as TenantRecord | undefined, t));
  }
  async createTenant(t: TenantRecord): Promise<boolean> {
    return this.write(() => {
      if (this.db.get(key('tenant', t.id)) !== undefined) return false;
      this.writeTenant(undefined, t);
      return true;
    });
  }
  async updateTenant(id: string, change: (current: TenantRecord) => TenantRecord): Promise<{ before: TenantRecord; after: TenantRecord } | undefined> {
    return this.write(() => {
      const before = this.db.get(key('tenant', id)) as TenantRecord | undefined;
      if (before === undefined) return undefined;
      const after = change(before);
      if (after.id !== id) throw new Error(`updateTenant: the tenant id cannot change (${id} to ${after.id})`);
      this.writeTenant(before, after);
      return { before, after };
    });
  }
  /** In a write transaction: the record and its claims index entries, or TenantConflictError, thrown before any of the tenant's writes (see the class comment). */
  private writeTenant(before: TenantRecord | undefined, after: TenantRecord): void {
    this.indexTenantClaims();
    const change = claimChange(before, after);
    for (const claim of change.added)
      for (const look of claimLookups(claim)) {
        const [start, end] = look.below ? [key('tclaim', look.key), key('tclaim', look.key + END)] : [key('tclaim', look.key), key('tclaim', look.key, END)];
        for (const k of this.db.getKeys({ start, end })) {
          const [, otherKey, owner] = k as [string, string, string];
          if (owner !== after.id) throw conflictError(claim, otherKey, owner);
        }
      }
    for (const k of change.removed) this.db.removeSync(key('tclaim', k, after.id));
    for (const k of change.keys) this.db.putSync(key('tclaim', k, after.id), true);
    this.db.putSync(key('tenant', after.id), after);
  }
  /** Builds the claims index from the tenants once (stores written before it existed), in the caller's write transaction. */
  private indexTenantClaims(): void {
    if (this.db.get(TENANT_CLAIMS_BUILT) === TENANT_CLAIMS_VERSION) return;
    for (const { value } of this.db.getRange({ start: key('tenant'), end: key('tenant', END) })) {
      const t = value as TenantRecord;
      for (const c of tenantClaims(t)) this.db.putSync(key('tclaim', c.key, t.id), true);
    }
    this.db.putSync(TENANT_CLAIMS_BUILT, TENANT_CLAIMS_VERSION);
  }
  async listTenants(): Promise<TenantRecord[]> {
    this.db.resetReadTxn();
    return [...this.db.getRange({ start: key('tenant'), end: key('tenant', END) }).map(({ value }) => value as TenantRecord)];
  }

  // OAuth2 clients: ['oauthclient', clientId] → record, ['oauthclient-t', tenant, clientId] → true.
  async getOAuthClient(clientId: string): Promise<OAuthClientRecord | undefined> {
    return this.db.get(key('oauthclient', clientId)) as OAuthClientRecord | undefined;
  }
  async putOAuthClient(c: OAuthClientRecord): Promise<void> {
    await this.write(() => {
      this.db.putSync(key('oauthclient', c.clientId), c);
      this.db.putSync(key('oauthclient-t', c.tenant, c.clientId), true);
    });
  }
  async listOAuthClients(tenant: string): Promise<OAuthClientRecord[]> {
    this.db.resetReadTxn();
    const ids = [...this.db.getRange({ start: key('oauthclient-t', tenant), end: key('oauthclient-t', tenant, END) }).map(({ key: k }) => (k as string[])[2]!)];
    return ids.map((id) => this.db.get(key('oauthclient', id)) as OAuthClientRecord | undefined).filter((c): c is OAuthClientRecord => c !== undefined && c.tenant === tenant);
  }

  async listStations(tenant: string): Promise<StationRecord[]> {
    this.db.resetReadTxn();
    return [...this.db.getRange({ start: key('station', tenant), end: key('station', tenant, END) }).map(({ value }) => value as StationRecord)];
  }
  // Manufacturers: ['mfr', tenant, name] → record.
  async getManufacturer(tenant: string, name: string): Promise<ManufacturerRecord | undefined> {
    return this.db.get(key('mfr', tenant, name)) as ManufacturerRecord | undefined;
  }
  async putManufacturer(m: ManufacturerRecord): Promise<void> {
    await this.write(() => this.db.putSync(key('mfr', m.tenant, m.name), m));
  }
  async deleteManufacturer(tenant: string, name: string): Promise<boolean> {
    return this.write(() => {
      const k = key('mfr', tenant, name);
      if (this.db.get(k) === undefined) return false;
      this.db.removeSync(k);
      return true;
    });
  }
  async listManufacturers(tenant: string): Promise<ManufacturerRecord[]> {
    this.db.resetReadTxn();
    return [...this.db.getRange({ start: key('mfr', tenant), end: key('mfr', tenant, END) }).map(({ value }) => value as ManufacturerRecord)];
  }

  async getStation(tenant: string, stationId: string): Promise<StationRecord | undefined> {
    return this.db.get(key('station', tenant, stationId)) as StationRecord | undefined;
  }
  // The SECC-ID index (secc-index.ts): ['secc', tenant, SECC-ID key, stationId] → true, kept exactly by
  // every station write (writeStation, dropStation); SECC_INDEX_BUILT once it covers the
  // stations written before it existed.
  async findStationBySeccId(tenant: string, seccId: string): Promise<StationRecord | undefined> {
    if (this.db.get(SECC_INDEX_BUILT) === undefined) await this.write(() => this.buildSeccIndex());
    const k = seccIdKey(seccId);
    this.db.resetReadTxn();
    for (const { key: entry } of this.db.getRange({ start: key('secc', tenant, k), end: key('secc', tenant, k, END) })) {
      const s = this.db.get(key('station', tenant, (entry as string[])[3]!)) as StationRecord | undefined;
      if (listsSeccKey(s, k)) return s;
    }
    return undefined;
  }
  /** In a write transaction: indexes every station once (stores written before the index existed). */
  private buildSeccIndex(): void {
    if (this.db.get(SECC_INDEX_BUILT) !== undefined) return;
    for (const { value } of this.db.getRange({ start: key('station'), end: key('station', END) })) this.indexSeccIds(value as StationRecord);
    this.db.putSync(SECC_INDEX_BUILT, 1);
  }
  /**
   * In a write transaction, before `s` is written: a SECC-ID of `s` that another station of its
   * tenant lists (PnC-4.3.secc-id-unique), from the index; undefined when there is none.
   */
  private seccConflict(s: StationRecord): SeccIdConflict | undefined {
    if (!s.seccIds?.length) return undefined;
    this.buildSeccIndex();
    for (const id of s.seccIds) {
      const k = seccIdKey(id);
      for (const entry of this.db.getKeys({ start: key('secc', s.tenant, k), end: key('secc', s.tenant, k, END) })) {
        const other = (entry as string[])[3]!;
        if (other !== s.stationId && listsSeccKey(this.db.get(key('station', s.tenant, other)) as StationRecord | undefined, k)) return { seccId: id, otherStationId: other };
      }
    }
    return undefined;
  }
  private indexSeccIds(s: StationRecord): void {
    for (const k of seccKeysOf(s)) this.db.putSync(key('secc', s.tenant, k, s.stationId), true);
  }
  private unindexSeccIds(s: StationRecord): void {
    for (const k of seccKeysOf(s)) this.db.removeSync(key('secc', s.tenant, k, s.stationId));
  }
  async putStation(s: StationRecord): Promise<{ created: boolean }> {
    await this.schema();
    return this.write(() => {
      const conflict = this.seccConflict(s);
      if (conflict) throw new SeccIdConflictError(s.tenant, s.stationId, conflict);
      const before = this.db.get(key('station', s.tenant, s.stationId)) as StationRecord | undefined;
      this.writeStation(before, s);
      return { created: before === undefined };
    });
  }
  async putStations(batch: readonly StationRecord[], opts: { readonly replace: boolean }): Promise<StationPutOutcome[]> {
    if (!batch.length) return [];
    await this.schema();
    return this.write(() =>
      batch.map((s): StationPutOutcome => {
        const before = this.db.get(key('station', s.tenant, s.stationId)) as StationRecord | undefined;
        if (before && !opts.replace) return 'kept';
        const conflict = this.seccConflict(s);
        if (conflict) return { refused: conflict };
        this.writeStation(before, s);
        return before ? 'replaced' : 'created';
      }),
    );
  }
  async deleteStation(tenant: string, stationId: string): Promise<boolean> {
    await this.schema();
    return this.write(() => this.dropStation(tenant, stationId));
  }

  async listIssuers(hierarchy?: string): Promise<IssuerRecord[]> {
    await this.schema();
    // Fresh: a rotation step committed by the CLI must be seen by the services' next reload.
    this.db.resetReadTxn();
    const all = [...this.db.getRange({ start: key('issuer'), end: key('issuer', END) }).map(({ value }) => value as IssuerRecord)];
    return hierarchy === undefined ? all : all.filter((i) => i.hierarchy === hierarchy);
  }
  async getIssuer(id: string): Promise<IssuerRecord | undefined> {
    await this.schema();
    return this.db.get(key('issuer', id)) as IssuerRecord | undefined;
  }
  async putIssuer(i: IssuerRecord): Promise<void> {
    assertIssuerRecord(i);
    await this.schema();
    await this.write(() => this.db.putSync(key('issuer', i.id), i));
  }
  async issuerLastExpiry(issuerId: string): Promise<number | undefined> {
    this.db.resetReadTxn();
    return this.db.get(key('issuer-exp', issuerId)) as number | undefined;
  }

  async getRotation(hierarchy: string = DEFAULT_HIERARCHY): Promise<RotationRecord | undefined> {
    await this.schema();
    this.db.resetReadTxn();
    return this.db.get(rotationKey(hierarchy)) as RotationRecord | undefined;
  }
  async commitRotation(issuers: readonly IssuerRecord[], rotation: RotationRecord, expectedRevision: number | undefined): Promise<boolean> {
    assertRotationCommit(issuers, rotation);
    await this.schema();
    return this.write(() => {
      const current = this.db.get(rotationKey(rotation.hierarchy)) as RotationRecord | undefined;
      if (current?.revision !== expectedRevision) return false;
      for (const i of issuers) this.db.putSync(key('issuer', i.id), i);
      this.db.putSync(rotationKey(rotation.hierarchy), rotation);
      return true;
    });
  }

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    return this.db.get(key('cert', serial)) as CertificateRecord | undefined;
  }
  async listStationCertificates(tenant: string, stationId: string): Promise<CertificateRecord[]> {
    const out: CertificateRecord[] = [];
    for (const { value } of this.db.getRange({ start: key('stationcert', tenant, stationId), end: key('stationcert', tenant, stationId, END) })) {
      const cert = this.db.get(key('cert', value as string)) as CertificateRecord | undefined;
      if (cert) out.push(cert);
    }
    return out;
  }
  async isKeyCertified(spkiSha256: string): Promise<boolean> {
    await this.schema();
    return this.db.get(key('spki', spkiSha256)) !== undefined;
  }
  async getCertificateByKey(spkiSha256: string): Promise<CertificateRecord | undefined> {
    await this.schema();
    const serial = this.db.get(key('spki', spkiSha256)) as string | undefined;
    return serial === undefined ? undefined : (this.db.get(key('cert', serial)) as CertificateRecord | undefined);
  }
  async isKeyBlocked(spkiSha256: string): Promise<boolean> {
    await this.schema();
    return this.db.get(key('blocked', spkiSha256)) !== undefined;
  }
  async blockKey(spkiSha256: string): Promise<void> {
    await this.schema();
    await this.write(() => this.db.putSync(key('blocked', spkiSha256), new Date().toISOString()));
  }
  async getIdempotency(tenant: string, k: string): Promise<IdempotencyRecord | undefined> {
    return this.db.get(key('idem', tenant, k)) as IdempotencyRecord | undefined;
  }

  async recordIssuance(cert: CertificateRecord, coverage: IssuanceCoverage, idem?: IdempotencyClaim, also: IssuanceAlso = {}): Promise<IssuanceOutcome> {
    const { audit, register } = also;
    if (audit) validateAuditAppend(audit.events, audit.at);
    assertRegistration(register);
    await this.schema();
    // Checks and writes run inside one LMDB write transaction: atomic, and serialised against
    // every other writer in every process.
    return this.write(() => this.recordInTxn(cert, coverage, idem, audit, register, also.rate));
  }

  /**
   * Bulk loads (benchmarks, imports; not part of Store): each certificate as recordIssuance would
   * record it, all in one write transaction (one commit instead of one per certificate). Outcomes
   * in the batch's order; a refused one writes nothing of its own.
   */
  async recordIssuances(batch: readonly { readonly cert: CertificateRecord; readonly coverage: IssuanceCoverage }[]): Promise<IssuanceOutcome[]> {
    await this.schema();
    return this.write(() => batch.map(({ cert, coverage }) => this.recordInTxn(cert, coverage)));
  }

  /** recordIssuance inside a write transaction. */
  private recordInTxn(cert: CertificateRecord, coverage: IssuanceCoverage, idem?: IdempotencyClaim, audit?: IssuanceAlso['audit'], register?: StationRecord, rate?: RateCount): IssuanceOutcome {
    if (idem) {
      const existing = this.db.get(key('idem', idem.tenant, idem.key)) as IdempotencyRecord | undefined;
      if (existing) return { ok: false, conflict: 'idempotency', existing };
    }
    if (this.db.get(key('cert', cert.serial)) !== undefined) return { ok: false, conflict: 'serial' };
    if (this.db.get(key('spki', cert.spkiSha256)) !== undefined) return { ok: false, conflict: 'key' };
    const leaf = coverage.underActiveIssuer;
    if (leaf && !mayRecordLeafUnder(this.db.get(key('issuer', cert.issuerId)) as IssuerRecord | undefined, coverage.hierarchy)) return { ok: false, conflict: 'issuer' };
    if (register) {
      if (register.tenant !== cert.tenant || register.stationId !== cert.stationId) throw new Error("recordIssuance: the station registered is not the certificate's");
      if (this.db.get(key('station', register.tenant, register.stationId)) !== undefined) return { ok: false, conflict: 'station' };
    }
    // The last check, as it is also the first write (expired events go either way).
    if (rate) {
      const counted = this.countRateInTxn(rate);
      if (!counted.allowed) return { ok: false, conflict: 'rate', bucket: counted.bucket, retryAfterMs: counted.retryAfterMs };
    }
    if (register) this.writeStation(undefined, register);
    this.db.putSync(key('cert', cert.serial), cert);
    this.writeIndex('cx', cert.tenant, certificateIndexEntries(cert));
    if (leaf) {
      const notAfter = expiryMark(cert.notAfter);
      if (notAfter > ((this.db.get(key('issuer-exp', cert.issuerId)) as number | undefined) ?? 0)) this.db.putSync(key('issuer-exp', cert.issuerId), notAfter);
    }
    this.db.putSync(key('spki', cert.spkiSha256), cert.serial);
    // Station index: ordered by issuance time, then serial.
    if (coverage.stationIndex) this.db.putSync(key('stationcert', cert.tenant, cert.stationId, cert.issuedAt, cert.serial), cert.serial);
    if (idem) this.db.putSync(key('idem', idem.tenant, idem.key), { requestHash: idem.requestHash, serial: cert.serial, createdAt: cert.issuedAt });
    if (coverage.presignOcsp) this.scheduleOcsp(cert.serial, 0);
    if (audit) this.appendAuditInTxn(audit.events, audit.at);
    return { ok: true };
  }

  // A revocation's audit events are built and validated before anything is written: a callback that
  // throws in an lmdb-js transaction does not undo the writes made before it.
  async revokeCertificate(serial: string, reason: RevocationReason, at: string, auditOf: RevocationAuditOf<RevocationDone>): Promise<RevocationOutcome> {
    await this.schema();
    return this.write((): RevocationOutcome => {
      const cert = this.db.get(key('cert', serial)) as CertificateRecord | undefined;
      if (!cert) return { ok: false, reason: 'not-found' };
      const updated = revokedRecord(cert, reason, at);
      const done: RevocationDone = { ok: true, record: updated ?? cert, changed: updated !== undefined };
      const events = auditOf(done);
      validateAuditAppend(events, at);
      if (updated) this.writeRevocation(cert, updated, at);
      this.appendAuditInTxn(events, at);
      return done;
    });
  }

  async removeStation(tenant: string, stationId: string, reason: RevocationReason, at: string, auditOf: RevocationAuditOf<StationRemoval>): Promise<StationRemoval> {
    await this.schema();
    return this.write((): StationRemoval => {
      const good: CertificateRecord[] = [];
      for (const { value } of this.db.getRange({ start: key('stationcert', tenant, stationId), end: key('stationcert', tenant, stationId, END) })) {
        const cert = this.db.get(key('cert', value as string)) as CertificateRecord | undefined;
        if (cert?.status === 'good') good.push(cert);
      }
      if (good.length > STATION_REMOVAL_LIMIT) throw new StationRemovalLimitError(stationId, good.length, STATION_REMOVAL_LIMIT);
      const done: StationRemoval = { deleted: this.db.get(key('station', tenant, stationId)) !== undefined, revoked: good.map((c) => revokedRecord(c, reason, at)!) };
      const events = auditOf(done);
      validateAuditAppend(events, at, AUDIT_LIMITS.eventsPerAppend + good.length);
      good.forEach((c, i) => this.writeRevocation(c, done.revoked[i]!, at));
      this.dropStation(tenant, stationId);
      this.appendAuditInTxn(events, at);
      return done;
    });
  }

  /** Inside a write transaction: `updated`, the revocation revokedRecord made of `cert` at `at`, with its indexes and OCSP invalidation. */
  private writeRevocation(cert: CertificateRecord, updated: CertificateRecord, at: string): void {
    const reason = updated.revocationReason!;
    this.db.putSync(key('cert', cert.serial), updated);
    this.writeIndex('cx', cert.tenant, revokedIndexEntries(cert));
    this.db.putSync(key('revoked', cert.issuerId, cert.serial), { serial: cert.serial, revokedAt: updated.revokedAt!, reason } satisfies RevokedEntry);
    // Keys are collected before removal: deleting under an open range cursor may skip entries.
    const stale = [...this.db.getKeys({ start: key('ocsp', cert.issuerId, cert.serial), end: key('ocsp', cert.issuerId, cert.serial, END) })];
    for (const k of stale) this.db.removeSync(k);
    this.db.putSync(OCSP_EPOCH, ((this.db.get(OCSP_EPOCH) as number | undefined) ?? 0) + 1);
    this.scheduleOcsp(cert.serial, 0);
    if (reason === 'keyCompromise') this.db.putSync(key('blocked', cert.spkiSha256), at);
  }

  /** Inside a write transaction: (re)places the certificate in the pre-signing schedule. */
  private scheduleOcsp(serial: string, due: number | undefined): void {
    const previous = this.db.get(key('ocspdueof', serial)) as number | undefined;
    if (previous !== undefined) this.db.removeSync(key('ocspdue', previous, serial));
    if (due === undefined) {
      if (previous !== undefined) this.db.removeSync(key('ocspdueof', serial));
      return;
    }
    this.db.putSync(key('ocspdue', due, serial), null);
    this.db.putSync(key('ocspdueof', serial), due);
  }

  async listRevoked(issuerId: string): Promise<RevokedEntry[]> {
    return [...this.db.getRange({ start: key('revoked', issuerId), end: key('revoked', issuerId, END) }).map(({ value }) => value as RevokedEntry)];
  }

  /**
   * lmdb-js reuses one read snapshot until a timer resets it (up to a millisecond or so, longer
   * under load); for revocation to show at once, these reads start from a fresh snapshot (~0.5 µs).
   */
  ocspEpoch(): number {
    this.db.resetReadTxn();
    return (this.db.get(OCSP_EPOCH) as number | undefined) ?? 0;
  }

  async getOcspResponse(issuerId: string, serial: string, hash: OcspHash): Promise<OcspResponseRecord | undefined> {
    this.db.resetReadTxn();
    return this.db.get(key('ocsp', issuerId, serial, hash)) as OcspResponseRecord | undefined;
  }

  async putOcspResponses(serial: string, signed: SignedStatus, responses: OcspResponseRecord[], schedule?: { nextDue: number | undefined }): Promise<boolean> {
    return this.write(() => {
      const cert = this.db.get(key('cert', serial)) as CertificateRecord | undefined;
      if (!cert || cert.status !== signed.status || cert.revokedAt !== signed.revokedAt || cert.revocationReason !== signed.revocationReason) return false;
      for (const r of responses) this.db.putSync(key('ocsp', r.issuerId, r.serial, r.hash), r);
      if (schedule) this.scheduleOcsp(serial, schedule.nextDue);
      return true;
    });
  }

  async claimOcspDue(now: number, limit: number, leaseMs: number): Promise<OcspDue[]> {
    return this.write(() => {
      const out: OcspDue[] = [];
      for (const { key: k } of this.db.getRange({ start: key('ocspdue', 0), end: key('ocspdue', now, END), limit })) {
        const [, due, serial] = k as [string, number, string];
        out.push({ serial, due });
      }
      for (const { serial } of out) this.scheduleOcsp(serial, now + leaseMs);
      return out;
    });
  }

  async requeueOcsp(now: number, opts: { readonly issuerId?: string; readonly cursor?: string; readonly limit: number }): Promise<OcspRequeueStep> {
    return this.write((): OcspRequeueStep => {
      // ocspdueof <serial> → due: the schedule by serial, so a cursor is the last serial seen.
      const limit = Math.max(1, opts.limit);
      const start = opts.cursor === undefined ? key('ocspdueof') : key('ocspdueof', opts.cursor);
      const entries = [...this.db.getRange({ start, end: key('ocspdueof', END), limit: limit + 1 })]
        .map(({ key: k, value }) => ({ serial: (k as [string, string])[1], due: value as number }))
        .filter((e) => e.serial !== opts.cursor)
        .slice(0, limit);
      let requeued = 0;
      for (const { serial, due } of entries) {
        if (opts.issuerId !== undefined && (this.db.get(key('cert', serial)) as CertificateRecord | undefined)?.issuerId !== opts.issuerId) continue;
        if (due > now) this.scheduleOcsp(serial, now);
        requeued++;
      }
      return { requeued, ...(entries.length === limit ? { cursor: entries[entries.length - 1]!.serial } : {}) };
    });
  }

  async nextCrlNumber(issuerId: string): Promise<number> {
    return this.write(() => {
      const n = ((this.db.get(key('crlnumber', issuerId)) as number | undefined) ?? 0) + 1;
      this.db.putSync(key('crlnumber', issuerId), n);
      return n;
    });
  }

  async putCrl(crl: CrlRecord): Promise<boolean> {
    return this.write(() => {
      const current = this.db.get(key('crl', crl.issuerId)) as CrlRecord | undefined;
      if (current && current.number >= crl.number) return false;
      this.db.putSync(key('crl', crl.issuerId), crl);
      return true;
    });
  }

  async getCrl(issuerId: string): Promise<CrlRecord | undefined> {
    return this.db.get(key('crl', issuerId)) as CrlRecord | undefined;
  }

  async peekRate(all: readonly RateBucket[], now: number): Promise<RateOutcome> {
    const buckets = countedBuckets(all);
    if (!buckets.length) return { allowed: true };
    // A fresh snapshot: a count committed a moment ago (another instance's) is seen.
    this.db.resetReadTxn();
    return rateVerdict(buckets, (b) => {
      const expired = this.db.getKeysCount({ start: key('rate', b.key, 0), end: key('rate', b.key, now - b.windowMs, END) });
      return this.rateCount(b.key) - expired;
    }, (b) => this.oldestRateEvent(b, now), now);
  }

  /**
   * Inside a write transaction (recordInTxn): counts one event in every bucket when each has room
   * at `now`, else counts nothing and names the fullest. Events older than the window go (each
   * once); a bucket's count is kept beside its events, so a check costs the same with 10 or
   * 100,000 events in the window (issue 17).
   */
  private countRateInTxn({ buckets: all, now, eventId }: RateCount): RateOutcome {
    const buckets = countedBuckets(all);
    const counts = new Map<string, { stored: number; now: number }>();
    for (const b of buckets) {
      const stored = this.rateCount(b.key);
      let count = stored;
      for (const k of [...this.db.getKeys({ start: key('rate', b.key, 0), end: key('rate', b.key, now - b.windowMs, END) })]) {
        this.db.removeSync(k);
        count--;
      }
      counts.set(b.key, { stored, now: count });
    }
    const verdict = rateVerdict(buckets, (b) => counts.get(b.key)!.now, (b) => this.oldestRateEvent(b, now), now);
    // Each bucket's count written once: what expired went, and this event came when all had room.
    for (const b of buckets) {
      const c = counts.get(b.key)!;
      const next = c.now + (verdict.allowed ? 1 : 0);
      if (next !== c.stored) this.setRateCount(b.key, next);
      if (verdict.allowed) this.db.putSync(key('rate', b.key, now, eventId), null);
    }
    return verdict;
  }

  /** The time of a bucket's oldest event still in the window at `now` (the bucket is not empty). */
  private oldestRateEvent(b: RateBucket, now: number): number {
    const [oldest] = this.db.getKeys({ start: key('rate', b.key, now - b.windowMs, END), end: key('rate', b.key, Number.MAX_SAFE_INTEGER), limit: 1 });
    return oldest === undefined ? now : (oldest as [string, string, number])[2];
  }

  /** A bucket's event count, expired ones included until a write drops them (counted once, for a store written before the count was kept). */
  private rateCount(bucket: string): number {
    const n = this.db.get(key('rate-n', bucket)) as number | undefined;
    return n ?? this.db.getKeysCount({ start: key('rate', bucket, 0), end: key('rate', bucket, Number.MAX_SAFE_INTEGER) });
  }

  private setRateCount(bucket: string, n: number): void {
    if (n > 0) this.db.putSync(key('rate-n', bucket), n);
    else this.db.removeSync(key('rate-n', bucket));
  }

  // ---- audit log ----

  async appendAudit(events: readonly AuditEvent[], at: string): Promise<AuditEntry[]> {
    validateAuditAppend(events, at);
    if (!events.length) return [];
    // Head read, chained and written in one write transaction: appends from every instance and
    // process are serialised by LMDB's write lock, so they form one chain.
    return this.write(() => this.appendAuditInTxn(events, at));
  }

  /** Inside a write transaction, events already validated: chained after the head and written with the new head. */
  private appendAuditInTxn(events: readonly AuditEvent[], at: string): AuditEntry[] {
    if (!events.length) return [];
    const head = (this.db.get(AUDIT_HEAD) as AuditHead | undefined) ?? AUDIT_GENESIS;
    const entries = linkAuditEntries(head, events, at);
    for (const e of entries) {
      this.db.putSync(key('audit', e.seq), e);
      if (e.tenant !== undefined) this.db.putSync(key('auditt', e.tenant, e.seq), null);
    }
    const last = entries[entries.length - 1]!;
    this.db.putSync(AUDIT_HEAD, { seq: last.seq, hash: last.hash } satisfies AuditHead);
    return entries;
  }

  /** Fresh reads (like ocspEpoch), so that the head and the entries are of one moment. */
  async listAudit(q: AuditQuery): Promise<AuditEntry[]> {
    const { afterSeq, limit } = auditPage(q);
    this.db.resetReadTxn();
    if (q.tenant === undefined)
      return [...this.db.getRange({ start: key('audit', afterSeq + 1), end: key('audit', Number.MAX_SAFE_INTEGER), limit }).map(({ value }) => value as AuditEntry)];
    const out: AuditEntry[] = [];
    for (const k of this.db.getKeys({ start: key('auditt', q.tenant, afterSeq + 1), end: key('auditt', q.tenant, Number.MAX_SAFE_INTEGER), limit })) {
      const entry = this.db.get(key('audit', (k as [string, string, number])[2])) as AuditEntry | undefined;
      if (entry?.tenant === q.tenant) out.push(entry);
    }
    return out;
  }

  async auditHead(): Promise<AuditHead> {
    this.db.resetReadTxn();
    return (this.db.get(AUDIT_HEAD) as AuditHead | undefined) ?? AUDIT_GENESIS;
  }

  async auditCheckpoint(): Promise<AuditCheckpoint> {
    this.db.resetReadTxn();
    return (this.db.get(AUDIT_CHECKPOINT) as AuditCheckpoint | undefined) ?? AUDIT_GENESIS;
  }

  async pruneAudit(through: AuditCheckpoint, since?: AuditCheckpoint): Promise<boolean> {
    return pruneAuditInChunks(
      this,
      through,
      (from, entries, to) =>
      this.write(() => {
        const cp = (this.db.get(AUDIT_CHECKPOINT) as AuditCheckpoint | undefined) ?? AUDIT_GENESIS;
        if (cp.seq !== from.seq || cp.hash !== from.hash) return false;
        for (const e of entries) {
          this.db.removeSync(key('audit', e.seq));
          if (e.tenant !== undefined) this.db.removeSync(key('auditt', e.tenant, e.seq));
        }
        this.db.putSync(AUDIT_CHECKPOINT, { seq: to.seq, hash: to.hash } satisfies AuditCheckpoint);
        return true;
      }),
      undefined,
      since,
    );
  }

  /** Every LMDB write is flushed to disk before its promise resolves. */
  async assertDurable(): Promise<void> {}
}
