import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';
import type { Redis } from 'ioredis';
import { pack, unpack } from 'msgpackr';
import { SeccIdConflictError, StationRemovalLimitError, StoreNotDurableError, StoreUnavailableError, type SeccIdConflict } from './errors.js';
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
import { REDIS_SCRIPTS } from './redis-scripts.js';
import { MissingDerDictionary, decodeIssuedRecord, packListBound, packListMember, unpackListMember, derDictRefOf, derDictionaryOf, encodeIssuedRecord, findOcspEntry, frameOcspResponse, splitOcspTail, tailRefOf, type IssuedRecord } from './redis-encoding.js';
import { seccIdKey } from '@evpki/policy';
import { assertRegistration, listsSeccKey, seccKeysOf, seccMember } from './secc-index.js';
import { expiryMark, revokedRecord } from './records.js';
import { STORE_SCHEMA_VERSION, canonicalKeyHashOf, issuerAtSchema3, rotationAtSchema3, upToDate, type MigrationResult } from './schema.js';
import { DEFAULT_HIERARCHY, assertIssuerRecord, assertRotationCommit, signsLeaves } from './hierarchies.js';
import type {
  CertificateRecord,
  CrlRecord,
  IdempotencyClaim,
  IdempotencyRecord,
  IssuanceOutcome,
  IssuanceCoverage,
  IssuerRecord,
  OcspDue,
  OcspHash,
  OcspResponseRecord,
  RateBucket,
  RateOutcome,
  RotationRecord,
  RevocationOutcome,
  RevocationReason,
  RevokedEntry,
  SignedStatus,
  StationRecord,
  StationPutOutcome,
  OcspRequeueStep,
  TenantRecord,
  OAuthClientRecord,
  ManufacturerRecord,
} from './records.js';
import { STATION_REMOVAL_LIMIT, type IssuanceAlso, type RateCount, type RevocationAuditOf, type RevocationDone, type StationRemoval, type Store } from './store.js';
import { countedBuckets, rateVerdict } from './rate.js';
import { tenantClaims } from '@evpki/policy';
import { STATION_INDEXES, certificateIndexEntries, findCertificatesIn, findStationsIn, revokedIndexEntries, stationIndexEntries, summaryIn, type IndexCounter, type IndexEntry, type IndexName, type IndexSource, type TenantSummary } from './list-index.js';
import type { CertificateListFilter, CertificateListResult, ListPage, ListResult, StationListFilter } from './list-index.js';
import { claimChange, claimLookups, conflictError } from './tenant-index.js';

/**
 * ioredis, loaded on first use (a CommonJS package: the same instance as an import): every process
 * that imports @evpki/store loads this file, and only one with REDIS_URL needs the client (the pki
 * CLI's startup time).
 */
let ioredisLib: typeof IORedis | undefined;
const ioredis = (): typeof IORedis => (ioredisLib ??= createRequire(import.meta.url)('ioredis') as typeof IORedis);

export interface RedisStoreOptions {
  readonly url: string;
  /** The ACL user (REDIS_USERNAME): each service has its own (redis-acl.ts); none: `default`. */
  readonly username?: string;
  readonly password?: string;
  /** A command (or waiting for a connection) slower than this fails with StoreUnavailableError. */
  readonly commandTimeoutMs: number;
  /** After issuance and revocation writes: WAIT for this many replicas, or fail the request. */
  readonly waitReplicas: number;
  readonly waitTimeoutMs: number;
}

/**
 * Key layout (every key under `evpki:`; parts are URI-encoded, so `:` separates them unambiguously):
 *   t:<tenant>  tenants (set of tenant ids)  s:<tenant>:<station>  issuers (hash id → issuer)  issuer-st (hash id → state)
 *   issuer-leaf (hash id → hierarchy, of the leaf-signing CAs)  issuer-exp (hash id → last leaf notAfter ms)
 *   rotation:<hierarchy> (hash rev, rec; before schema 3 the one `rotation`)
 *   c:<serial>  hash: rec (the record as issued), st/ra/rr (status, revokedAt, reason)
 *   der-dict hash ref → what certificates of one issuer and profile share (redis-encoding.ts
 *     derDictionaryOf; schema 7: a record's DER is deflated against it)
 *   k:<spki> → serial   b:<spki> blocked key   sc:<tenant>:<station> zset issuedAt → serial
 *   idem:<tenant>:<key>   rv:<issuer> hash serial → CRL entry
 *   o:<issuer>:<serial> string: the pre-signed responses, one framed entry per hash (before schema 5
 *     a hash alg → response)   ocsp-tail hash ref → a delegated signer's certificates (redis-encoding.ts)
 *   ocspdue zset due → serial   ocsp-epoch counter   crlno:<issuer>   crl:<issuer> hash n, rec
 *   rl:<bucket> zset of events (sliding window)
 *   audit zset seq → entry   audit-t:<tenant> zset seq → seq   audit-head hash seq, hash
 *   tenant-claims zset "<claim key>\n<tenant>" (scores 0)   tenant-claims-built-v2
 *   audit-checkpoint hash seq, hash (the last pruned entry)
 *   oc:<clientId> OAuth2 client   oc-t:<tenant> set of its client ids
 *   mf:<tenant>:<name> trusted manufacturer   mf-t:<tenant> set of its manufacturer names
 *   secc:<tenant> zset "<SECC-ID key>\n<stationId>" (scores 0)   secc-built
 *   schema → the schema version (schema.ts; absent: 1)
 *   sx:<tenant>:<index…>, cl:<tenant>:<index…> the list indexes of stations and certificates
 *     (list-index.ts): sorted sets, all scores 0, of members ordered by bytes; a certificate index
 *     ordered by time keeps its members packed (redis-encoding.ts packListMember; schema 7: cl:
 *     replaces cx:, whose members were as list-index.ts has them)
 * Values are MessagePack (msgpackr, as in the LMDB backend); a certificate's `rec` and its pre-signed
 * responses have compact forms of their own (redis-encoding.ts, schema 5; older forms are still
 * read). Lua scripts touch only plain fields and the responses' framing.
 * Which commands and keys each method uses is listed in redis-acl.ts (the services' ACL users):
 * change both together.
 */
const PREFIX = 'evpki:';
/** Every key and channel of the PKI starts with it (the pki CLI's ACL user: redis-acl.ts). */
export const REDIS_KEY_PREFIX = PREFIX;
/** A key of the layout above, e.g. redisKey('c', serial) (exported for diagnostics and benchmarks). */
export const redisKey = (...parts: string[]): string => PREFIX + parts.map(encodeURIComponent).join(':');
const k = redisKey;
const ISSUERS = k('issuers');
/** id → state, beside the records, so that the issuance script can check it without decoding. */
const ISSUER_STATES = k('issuer-st');
/** id → latest notAfter (ms) of the leaves it signed. */
const ISSUER_EXPIRY = k('issuer-exp');
/** id → hierarchy of each leaf-signing CA (signsLeaves), so that the issuance script can check it without decoding. */
const ISSUER_LEAF = k('issuer-leaf');
const rotationKey = (hierarchy: string): string => k('rotation', hierarchy);
/** Schema 2's one rotation record (schema 3: the csms hierarchy's). */
const LEGACY_ROTATION = k('rotation');
/** The issuer-leaf value of an issuer: its hierarchy when it signs leaves. */
const leafOf = (i: IssuerRecord): string => (signsLeaves(i.role) ? i.hierarchy : '');
/** The ids of every tenant (putTenant, createTenant, updateTenant keep it), for listTenants. */
const TENANTS = k('tenants');
/** The tenant claims index (tenant-index.ts): a zset of claimMember()s, all scores 0 (ordered by bytes). */
const TENANT_CLAIMS = k('tenant-claims');
/** Set once the SECC-ID index (sx:<tenant>) covers every station. */
const SECC_INDEX_BUILT = k('secc-built');
/** A tenant's SECC-ID index (secc-index.ts): a sorted set of seccMember (scores 0). */
const seccIndexKey = (tenant: string): string => k('secc', tenant);
/**
 * Set once the claims index holds every tenant's claims. "-v2": the index of operator IDs
 * (Tenant.unique-operator-id) came later; a store built before is indexed again (ZADD: idempotent).
 */
const TENANT_CLAIMS_BUILT = k('tenant-claims-built-v2');
/** An index member: the claim key, a newline (no key holds one) and the tenant id. */
const claimMember = (key: string, tenant: string): string => `${key}\n${tenant}`;
/** Compare-and-set conflicts (another writer changed the tenant) before a tenant write gives up. */
const TENANT_CAS_ATTEMPTS = 20;
const OCSP_DUE = k('ocspdue');
const SCHEMA = k('schema');
const OCSP_EPOCH = k('ocsp-epoch');
/** Hash: tail ref → the certificates a delegated signer puts in each response (redis-encoding.ts splitOcspTail). */
const OCSP_TAILS = k('ocsp-tail');
/** Hash: ref → a certificate DER dictionary (redis-encoding.ts derDictionaryOf), written before the first record using it. */
const DER_DICTS = k('der-dict');
/** DER dictionaries held in memory (a few per issuer and profile; the oldest dropped when full). */
const MAX_DER_DICTS = 256;
const EMPTY = Buffer.alloc(0);
/** Signers' tails held in memory (one per signer certificate; emptied when full). */
const MAX_OCSP_TAILS = 64;
const AUDIT_LOG = k('audit');
const AUDIT_HEAD = k('audit-head');
const AUDIT_CHECKPOINT = k('audit-checkpoint');
/** One audit write carries at most this many events (whole appends; one larger append goes alone). */
const AUDIT_BATCH_EVENTS = 500;
/** Items (appends and issuances) in one audit write at most. */
const MAX_BATCH_ITEMS = 200;
/** Head conflicts (another instance appended first) before an audit append gives up. */
const AUDIT_CAS_ATTEMPTS = 50;
/** Every revocation publishes here (in the same script that commits it). */
export const OCSP_INVALIDATE_CHANNEL = `${PREFIX}ocsp-invalidate`;
/** Error replies that mean "not now" rather than a bug. */
const TRANSIENT_REPLY = /^(OOM|LOADING|BUSY|READONLY|MASTERDOWN|NOREPLICAS|TRYAGAIN|CLUSTERDOWN)\b/;

/** What a failed store call throws: StoreUnavailableError unless it is an error reply that is a bug. */
function failure(e: unknown): unknown {
  if (e instanceof StoreUnavailableError) return e;
  // An error reply is a bug (a script error, a wrong type): a 500, not "try again later",
  // unless it is one of the server's passing states (full, loading, busy, read-only replica).
  if (e instanceof ioredis().ReplyError && !TRANSIENT_REPLY.test((e as Error).message)) return e;
  return new StoreUnavailableError(`the store failed: ${e instanceof Error ? e.message.slice(0, 200) : 'unknown error'}`, { cause: e });
}
/** Safety net under pub/sub: the epoch counter is compared this often. */
const EPOCH_POLL_MS = 500;

/** A tenant's station list index (list-index.ts). */
const listKey = (space: 'sx', tenant: string, index: IndexName): string => k(space, tenant, ...index);
/** A tenant's certificate list index (list-index.ts): cl: since schema 7 (cx: before, with members as list-index.ts has them). */
const certListKey = (tenant: string, index: IndexName): string => k('cl', tenant, ...index);
/** Whether a certificate list index keeps its members packed (redis-encoding.ts packListMember): all but the serial index. */
const packsMembers = (index: IndexName): boolean => index[0] !== 'serial';
/** A certificate list index member as cl: keeps it. */
const certListMember = (e: IndexEntry): string | Buffer => (packsMembers(e.index) ? (packListMember(e.member) ?? e.member) : e.member);
/**
 * A tenant's certificate kinds (a sorted set of kind names, scores 0). Redis keeps no `issued`
 * index: it is the tenant's `kind` indexes together (merged by members), one sorted set member per
 * certificate less.
 */
const KINDS: IndexName = ['kinds'];
const isIssued = (index: IndexName): boolean => index[0] === 'issued';
/** A certificate's entries in the cl: indexes, as [key, member]. */
function certListEntries(c: CertificateRecord): [string, string | Buffer][] {
  return [
    ...certificateIndexEntries(c)
      .filter((e) => !isIssued(e.index))
      .map((e): [string, string | Buffer] => [certListKey(c.tenant, e.index), certListMember(e)]),
    [certListKey(c.tenant, KINDS), c.kind],
  ];
}
/** A range bound of a certificate list index as ZRANGEBYLEX and ZLEXCOUNT take it. */
function certListBound(index: IndexName, bound: string, inclusive: boolean): string | Buffer {
  if (!packsMembers(index)) return bound === '' ? '-' : `${inclusive ? '[' : '('}${bound}`;
  return packListBound(bound, inclusive);
}
/** A station's list index keys in the order the scripts number them (1-4: STATION_INDEXES). */
const stationListKeys = (tenant: string): string[] => STATION_INDEXES.map((i) => listKey('sx', tenant, i));
/** A station list index entry as the scripts take it: its index's number (1-4) and the member. */
const stationListOp = (e: IndexEntry): string => `${STATION_INDEXES.findIndex((i) => i.join(':') === e.index.join(':')) + 1}${e.member}`;
/** Compare-and-set conflicts (another writer changed a station) before a station write gives up. */
const STATION_CAS_ATTEMPTS = 20;

const enc = (v: unknown): Buffer => pack(v);
const dec = <T>(b: Buffer | null | undefined): T | undefined => (b == null || b.length === 0 ? undefined : (unpack(b) as T));

type Script = keyof typeof REDIS_SCRIPTS;
type ScriptRunner = (keys: string[], args: (string | Buffer | number)[]) => Promise<unknown>;

/**
 * The shared backend for several instances of each service. Multi-key writes are Lua scripts
 * (atomic: all keys or none). Commands never queue while disconnected and never resend after a
 * reconnect: a call fails within `commandTimeoutMs` with StoreUnavailableError, and a write that
 * failed either committed whole or not at all.
 */
export class RedisStore implements Store {
  private readonly redis: Redis;
  private subscriber: Redis | undefined;
  private poller: NodeJS.Timeout | undefined;
  private localEpoch = 0;
  private lastSeenEpoch: string | null | undefined;
  private readonly scripts: Record<Script, ScriptRunner>;
  /** Audit appends and audited issuances waiting for the writer; one batch per round trip, one writer per instance. */
  private readonly auditQueue: ChainedItem[] = [];
  private auditWriter: Promise<void> | undefined;
  /** The head after this instance's last append: a guess the append script checks (compare-and-set). */
  private auditHeadSeen: AuditHead | undefined;
  /** This instance's migrate(), once it succeeded (see schema()). */
  private schemaReady: Promise<unknown> | undefined;
  /** ocsp-tail entries read so far (by ref, latin1), see ocspTail(). */
  private readonly ocspTails = new Map<string, Buffer>();
  /** der-dict entries read or written so far (by ref, latin1). */
  private readonly derDicts = new Map<string, Buffer>();
  private readonly derDict = (ref: Buffer): Buffer | undefined => this.derDicts.get(ref.toString('latin1'));

  constructor(private readonly o: RedisStoreOptions) {
    this.redis = new (ioredis().Redis)(o.url, {
      ...(o.username ? { username: o.username } : {}),
      ...(o.password ? { password: o.password } : {}),
      // No CLIENT SETINFO: a command outside the service's ACL user (redis-acl.ts) for nothing.
      disableClientInfo: true,
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: o.commandTimeoutMs,
      connectTimeout: Math.max(1000, o.commandTimeoutMs),
      retryStrategy: (times) => Math.min(50 * times, 1000),
      // Commands issued in the same event-loop turn go out in one write (OCSP misses at scale).
      enableAutoPipelining: true,
    });
    // Errors surface per command; the connection's own error events only mean "reconnecting".
    this.redis.on('error', () => undefined);
    this.scripts = Object.fromEntries(
      Object.entries(REDIS_SCRIPTS).map(([name, lua]) => {
        this.redis.defineCommand(name, { lua });
        // The Buffer variant: replies keep their bytes (MessagePack values are binary). Keys and
        // args go as arrays (ioredis flattens them): spread into the call, a removal's ~140,000
        // would overflow the stack.
        const run: ScriptRunner = (keys, args) => (this.redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[`${name}Buffer`]!(keys.length, keys, args);
        return [name, run];
      }),
    ) as Record<Script, ScriptRunner>;
  }

  /** Waits (bounded) for a usable connection, so a call made while reconnecting fails fast or succeeds. */
  private async ready(): Promise<void> {
    if (this.redis.status === 'ready') return;
    if (this.redis.status === 'end') throw new StoreUnavailableError('the store connection is closed');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        reject(new StoreUnavailableError('the store is unreachable'));
      }, this.o.commandTimeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.redis.once('ready', onReady);
    });
  }

  /** Runs a store call, mapping connection and timeout failures to StoreUnavailableError. */
  private async call<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
    await this.ready();
    try {
      return await fn(this.redis);
    } catch (e) {
      throw failure(e);
    }
  }

  private run(script: Script, keys: string[], args: (string | Buffer | number)[]): Promise<unknown> {
    return this.call(() => this.scripts[script](keys, args));
  }

  /** Issuance and revocation writes wait for replicas when configured (REDIS_WAIT_REPLICAS). */
  private async replicated(): Promise<void> {
    if (this.o.waitReplicas === 0) return;
    const acked = await this.call((r) => r.wait(this.o.waitReplicas, this.o.waitTimeoutMs));
    if (acked < this.o.waitReplicas) throw new StoreUnavailableError(`only ${acked} of ${this.o.waitReplicas} store replica(s) acknowledged the write`);
  }

  async ping(): Promise<void> {
    await this.call((r) => r.ping());
  }

  async assertDurable(): Promise<void> {
    const info = await this.call((r) => r.info('persistence'));
    const aof = /^aof_enabled:1\r?$/m.test(info);
    if (!aof && this.o.waitReplicas === 0)
      throw new StoreNotDurableError('the Redis store has AOF off and no replica wait: an acknowledged certificate could be lost; enable appendonly (appendfsync always) or set REDIS_WAIT_REPLICAS');
    // An evicting Redis drops keys when full: a certificate record, its audit entry, a DER dictionary.
    const policy = /^maxmemory_policy:(\S+)/m.exec(await this.call((r) => r.info('memory')))?.[1];
    if (policy !== undefined && policy !== 'noeviction')
      throw new StoreNotDurableError(`the Redis store evicts keys when full (maxmemory-policy ${policy}): an acknowledged certificate could be dropped; set maxmemory-policy noeviction`);
  }

  async close(): Promise<void> {
    // Audit appends already queued are written (or fail) first.
    await this.auditWriter;
    await this.schemaReady?.catch(() => undefined);
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
    for (const c of [this.subscriber, this.redis]) {
      if (!c) continue;
      c.disconnect(false);
    }
  }

  /** Runs migrate() once per instance before the first key lookup or key-indexed write (again after a failure). */
  private schema(): Promise<unknown> {
    return (this.schemaReady ??= this.migrate().catch((e: unknown) => {
      this.schemaReady = undefined;
      throw e;
    }));
  }

  /**
   * Brings the store to STORE_SCHEMA_VERSION (migrateKeyHashes from schema 1, migrateHierarchies
   * from 2, the list indexes from 3; schema 5 rewrites nothing), each rewrite a script that writes only over the record it read, so several processes migrating at
   * once do each rewrite once. The marker is set last.
   */
  async migrate(): Promise<MigrationResult> {
    const from = Number((await this.call((r) => r.get(SCHEMA))) ?? 1);
    if (from >= STORE_SCHEMA_VERSION) return upToDate(from);
    return this.migrateFrom(from).catch((e: unknown) => {
      // A user whose view does not migrate (the RA's, redis-acl.ts): "try again later", not a bug.
      if (e instanceof ioredis().ReplyError && /^NOPERM\b/.test((e as Error).message))
        throw new StoreUnavailableError(`the store's schema is ${from}, this release needs ${STORE_SCHEMA_VERSION}, and Redis user ${this.o.username ?? 'default'} may not migrate it: the CA does when it starts`, { cause: e });
      throw e;
    });
  }

  private async migrateFrom(from: number): Promise<MigrationResult> {
    const keys = from < 2 ? await this.migrateKeyHashes() : { rewritten: 0, keyCertifiedTwice: [] };
    const hierarchies = from < 3 ? await this.migrateHierarchies() : { rewrittenIssuers: 0, movedRotation: false };
    // Schema 4 built the list indexes, schema 5 added the revoked-by-notAfter one, schema 7 packs
    // the certificates' (cl:): built again (idempotent).
    const indexed = from < 7 ? await this.migrateListIndexes() : { indexedStations: 0, indexedCertificates: 0 };
    await this.run('raiseSchema', [SCHEMA], [STORE_SCHEMA_VERSION]);
    return { from, to: STORE_SCHEMA_VERSION, ...keys, ...hierarchies, ...indexed };
  }

  /**
   * Schema 4: every station and certificate into the list indexes (ZADD: idempotent, so several
   * processes may run it at once). The services wait for the marker before they write stations or
   * certificates (schema()), so nothing changes under it but by an older release still running.
   */
  private async migrateListIndexes(): Promise<Pick<MigrationResult, 'indexedStations' | 'indexedCertificates'>> {
    let indexedStations = 0;
    let indexedCertificates = 0;
    const each = async (pattern: string, batch: (keys: string[]) => Promise<void>): Promise<void> => {
      let cursor = '0';
      do {
        const [next, keys] = await this.call((r) => r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000));
        cursor = next;
        if (keys.length) await batch(keys);
      } while (cursor !== '0');
    };
    const add = async (adds: [string, string | Buffer][]): Promise<void> => {
      if (!adds.length) return;
      await this.call((r) => {
        const p = r.pipeline();
        for (const [key, member] of adds) p.zadd(key, 0, member);
        return p.exec();
      });
    };
    await each(`${PREFIX}s:*`, async (keys) => {
      const values = await this.call((r) => r.mgetBuffer(...keys));
      const stations = values.map((v) => dec<StationRecord>(v)).filter((s): s is StationRecord => s !== undefined);
      await add(stations.flatMap((s) => stationIndexEntries(s).map((e): [string, string] => [listKey('sx', s.tenant, e.index), e.member])));
      indexedStations += stations.length;
    });
    await each(`${PREFIX}c:*`, async (keys) => {
      const rows = await this.call((r) => {
        const p = r.pipeline();
        for (const key of keys) p.hmgetBuffer(key, 'rec', 'st', 'ra', 'rr');
        return p.exec();
      });
      const certs = (await this.decoding(() => (rows ?? []).map(([, fields], i) => certificateFrom(serialOfKey(keys[i]!), fields as (Buffer | null)[], this.derDict)))).filter((c): c is CertificateRecord => c !== undefined);
      await add(certs.flatMap(certListEntries));
      indexedCertificates += certs.length;
    });
    // Schema 7: the certificate list indexes of before (cx:, members unpacked) are built again as cl:.
    await each(`${PREFIX}cx:*`, async (keys) => void (await this.call((r) => r.del(...keys))));
    return { indexedStations, indexedCertificates };
  }

  /** Schema 2: scans the certificates and rewrites each one whose key hash changed, with its key index and blocked-key entry. */
  private async migrateKeyHashes(): Promise<Pick<MigrationResult, 'rewritten' | 'keyCertifiedTwice'>> {
    let rewritten = 0;
    const keyCertifiedTwice: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.call((r) => r.scan(cursor, 'MATCH', `${PREFIX}c:*`, 'COUNT', 1000));
      cursor = next;
      for (const certKey of keys) {
        const raw = await this.call((r) => r.hgetBuffer(certKey, 'rec'));
        const rec = await this.decoding(() => decodeIssuedRecord(serialOfKey(certKey), raw, this.derDict));
        if (!raw || !rec) continue;
        const h = canonicalKeyHashOf(rec);
        if (h === rec.spkiSha256) continue;
        const scriptKeys = [certKey, k('k', rec.spkiSha256), k('k', h), k('b', rec.spkiSha256), k('b', h)];
        const [done, holder] = (await this.run('migrateKeyHash', scriptKeys, [raw, await this.encodeRecord({ ...rec, spkiSha256: h }), rec.serial])) as [number, Buffer | null];
        if (done === 1) rewritten++;
        if (done === 1 && holder) keyCertifiedTwice.push(holder.toString(), rec.serial);
      }
    } while (cursor !== '0');
    return { rewritten, keyCertifiedTwice };
  }

  /**
   * Schema 3: every issuer record in its hierarchy (issuerAtSchema3) with its issuer-leaf entry,
   * and schema 2's rotation record moved to the csms hierarchy's key.
   */
  private async migrateHierarchies(): Promise<Pick<MigrationResult, 'rewrittenIssuers' | 'movedRotation'>> {
    let rewrittenIssuers = 0;
    const all = await this.call((r) => r.hgetallBuffer(ISSUERS));
    for (const [id, raw] of Object.entries(all)) {
      const stored = dec<IssuerRecord>(raw);
      if (!stored) continue;
      const next = issuerAtSchema3(stored);
      const done = await this.run('migrateIssuer', [ISSUERS, ISSUER_LEAF], [id, raw, next ? enc(next) : '', leafOf(next ?? stored)]);
      if (done === 1 && next) rewrittenIssuers++;
    }
    for (let attempt = 0; attempt < 10; attempt++) {
      const raw = await this.call((r) => r.hgetBuffer(LEGACY_ROTATION, 'rec'));
      const legacy = dec<RotationRecord>(raw);
      if (!raw || !legacy) return { rewrittenIssuers, movedRotation: false };
      const moved = Number(await this.run('migrateRotation', [LEGACY_ROTATION, rotationKey(DEFAULT_HIERARCHY)], [raw, enc(rotationAtSchema3(legacy)), String(legacy.revision)]));
      if (moved >= 0) return { rewrittenIssuers, movedRotation: moved === 1 };
    }
    throw new StoreUnavailableError('the rotation record kept changing during the store migration; try again');
  }

  // ---- tenants, stations, issuers ----

  async getTenant(id: string): Promise<TenantRecord | undefined> {
    return dec(await this.call((r) => r.getBuffer(k('t', id))));
  }
  async putTenant(t: TenantRecord): Promise<void> {
    await this.writeTenant(t.id, () => t);
  }
  async createTenant(t: TenantRecord): Promise<boolean> {
    return (await this.writeTenant(t.id, (current) => (current ? undefined : t))).after !== undefined;
  }
  async updateTenant(id: string, change: (current: TenantRecord) => TenantRecord): Promise<{ before: TenantRecord; after: TenantRecord } | undefined> {
    const r = await this.writeTenant(id, (current) => {
      if (!current) return undefined;
      const after = change(current);
      if (after.id !== id) throw new Error(`updateTenant: the tenant id cannot change (${id} to ${after.id})`);
      return after;
    });
    return r.before && r.after ? { before: r.before, after: r.after } : undefined;
  }
  /**
   * One tenant write (tenantWrite script): `next` computes the new record from the stored one
   * (undefined: write nothing), again when another writer changed it meanwhile; the claims index is
   * checked and kept in the same script, and built first when it is not yet (stores from before it).
   */
  private async writeTenant(id: string, next: (current: TenantRecord | undefined) => TenantRecord | undefined): Promise<{ before?: TenantRecord; after?: TenantRecord }> {
    for (let attempt = 1; attempt <= TENANT_CAS_ATTEMPTS; attempt++) {
      const raw = await this.call((r) => r.getBuffer(k('t', id)));
      const before = dec<TenantRecord>(raw);
      const after = next(before);
      if (!after) return before ? { before } : {};
      const change = claimChange(before, after);
      const lookups = change.added.flatMap((claim) => claimLookups(claim).map((look) => ({ claim, ...look })));
      const reply = (await this.run(
        'tenantWrite',
        [k('t', id), TENANTS, TENANT_CLAIMS, TENANT_CLAIMS_BUILT],
        [raw ?? '', enc(after), id, lookups.length, ...lookups.flatMap((l) => [l.below ? 'p' : 'x', l.key]), change.removed.length, ...change.removed.map((c) => claimMember(c, id)), ...change.keys.map((c) => claimMember(c, id))],
      )) as Buffer[];
      const outcome = reply[0]!.toString();
      if (outcome === 'ok') return { before, after };
      if (outcome === 'unindexed') await this.indexTenantClaims();
      else if (outcome === 'conflict') {
        const member = reply[2]!.toString();
        const cut = member.lastIndexOf('\n');
        throw conflictError(lookups[Number(reply[1]!.toString()) - 1]!.claim, member.slice(0, cut), member.slice(cut + 1));
      }
    }
    throw new StoreUnavailableError(`tenant ${id} kept changing; try again`);
  }
  /** Builds the claims index from the tenants as stored (once: stores from before it), over the records read. */
  private async indexTenantClaims(): Promise<void> {
    for (let attempt = 1; attempt <= TENANT_CAS_ATTEMPTS; attempt++) {
      const ids = await this.call((r) => r.smembers(TENANTS));
      const raws = ids.length ? await this.call((r) => r.mgetBuffer(...ids.map((id) => k('t', id)))) : [];
      const members = raws.flatMap((raw) => {
        const t = dec<TenantRecord>(raw);
        return t ? tenantClaims(t).map((c) => claimMember(c.key, t.id)) : [];
      });
      const done = await this.run('tenantClaimsBuild', [TENANTS, TENANT_CLAIMS, TENANT_CLAIMS_BUILT, ...ids.map((id) => k('t', id))], [ids.length, ...raws.map((raw) => raw ?? ''), ...members]);
      if (Number(done) === 1) return;
    }
    throw new StoreUnavailableError('the tenants kept changing while their claims index was built; try again');
  }
  async listTenants(): Promise<TenantRecord[]> {
    const ids = (await this.call((r) => r.smembers(TENANTS))).sort();
    if (!ids.length) return [];
    const values = await this.call((r) => r.mgetBuffer(...ids.map((id) => k('t', id))));
    return values.map((v) => dec<TenantRecord>(v)).filter((t): t is TenantRecord => t !== undefined);
  }

  async getOAuthClient(clientId: string): Promise<OAuthClientRecord | undefined> {
    return dec(await this.call((r) => r.getBuffer(k('oc', clientId))));
  }
  async putOAuthClient(c: OAuthClientRecord): Promise<void> {
    await this.call((r) => r.multi().set(k('oc', c.clientId), enc(c)).sadd(k('oc-t', c.tenant), c.clientId).exec());
  }
  async listOAuthClients(tenant: string): Promise<OAuthClientRecord[]> {
    const ids = (await this.call((r) => r.smembers(k('oc-t', tenant)))).sort();
    if (!ids.length) return [];
    const values = await this.call((r) => r.mgetBuffer(...ids.map((id) => k('oc', id))));
    return values.map((v) => dec<OAuthClientRecord>(v)).filter((c): c is OAuthClientRecord => c !== undefined && c.tenant === tenant);
  }

  /** Every station of the tenant, from its `all` list index (no keyspace scan), by station id. */
  async listStations(tenant: string): Promise<StationRecord[]> {
    await this.schema();
    const ids = await this.call((r) => r.zrange(listKey('sx', tenant, ['all']), 0, -1));
    const out: StationRecord[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const values = await this.call((r) => r.mgetBuffer(...ids.slice(i, i + 500).map((id) => k('s', tenant, id))));
      for (const v of values) {
        const s = dec<StationRecord>(v);
        if (s && s.tenant === tenant) out.push(s);
      }
    }
    return out;
  }
  async getManufacturer(tenant: string, name: string): Promise<ManufacturerRecord | undefined> {
    return dec(await this.call((r) => r.getBuffer(k('mf', tenant, name))));
  }
  async putManufacturer(m: ManufacturerRecord): Promise<void> {
    await this.call((r) => r.multi().set(k('mf', m.tenant, m.name), enc(m)).sadd(k('mf-t', m.tenant), m.name).exec());
  }
  async deleteManufacturer(tenant: string, name: string): Promise<boolean> {
    const replies = await this.call((r) => r.multi().del(k('mf', tenant, name)).srem(k('mf-t', tenant), name).exec());
    return replies?.[0]?.[1] === 1;
  }
  async listManufacturers(tenant: string): Promise<ManufacturerRecord[]> {
    const names = (await this.call((r) => r.smembers(k('mf-t', tenant)))).sort();
    if (!names.length) return [];
    const values = await this.call((r) => r.mgetBuffer(...names.map((n) => k('mf', tenant, n))));
    return values.map((v) => dec<ManufacturerRecord>(v)).filter((m): m is ManufacturerRecord => m !== undefined && m.tenant === tenant);
  }

  /** Members of a tenant's station list index in [from, to), after `after` (ZRANGEBYLEX), for readPage. */
  private listMembers(space: 'sx', tenant: string): IndexSource<never>['members'] {
    return (index, from, to, after, n) =>
      this.call((r) => r.zrangebylex(listKey(space, tenant, index), after !== undefined ? `(${after}` : from === '' ? '-' : `[${from}`, `(${to}`, 'LIMIT', 0, n));
  }

  /** The same for a certificate list index, its members packed (but the serial index's); `issued` from the kind indexes. */
  private certListMembers(tenant: string): IndexSource<never>['members'] {
    return async (index, from, to, after, n) => {
      const lo = after !== undefined ? certListBound(index, after, false) : certListBound(index, from, true);
      const hi = certListBound(index, to, false);
      const read = (i: IndexName) => this.call((r) => r.zrangebylexBuffer(certListKey(tenant, i), lo, hi, 'LIMIT', 0, n));
      const got = isIssued(index) ? (await Promise.all((await this.tenantKinds(tenant)).map((kind) => read(['kind', kind])))).flat().sort((a, b) => Buffer.compare(a, b)).slice(0, n) : await read(index);
      return got.map((m) => (packsMembers(index) ? unpackListMember(m) : m.toString()));
    };
  }

  private tenantKinds(tenant: string): Promise<string[]> {
    return this.call((r) => r.zrange(certListKey(tenant, KINDS), 0, -1));
  }

  async findStations(tenant: string, filter: StationListFilter, page: ListPage): Promise<ListResult<StationRecord>> {
    await this.schema();
    const src: IndexSource<StationRecord> = {
      members: this.listMembers('sx', tenant),
      records: async (ids) => (ids.length ? (await this.call((r) => r.mgetBuffer(...ids.map((id) => k('s', tenant, id))))).map((v) => dec<StationRecord>(v)) : []),
    };
    return findStationsIn(src, tenant, filter, page);
  }

  async findCertificates(tenant: string, filter: CertificateListFilter, page: ListPage): Promise<CertificateListResult> {
    await this.schema();
    return findCertificatesIn({ members: this.certListMembers(tenant), records: (serials) => this.certificatesOf(serials) }, tenant, filter, page);
  }

  /** ZLEXCOUNT of ranges of a tenant's list indexes, in one pipeline (O(log n) each: no member is read). */
  private indexCounter(space: 'sx' | 'cl', tenant: string): IndexCounter {
    return async (ranges) => {
      const kinds = space === 'cl' && ranges.some((x) => isIssued(x.index)) ? await this.tenantKinds(tenant) : [];
      // Each range's ZLEXCOUNTs (an `issued` range: one per kind, summed).
      const counted: number[] = [];
      const rows = await this.call((r) => {
        const p = r.pipeline();
        ranges.forEach((x, i) => {
          if (space === 'sx') return void (p.zlexcount(listKey(space, tenant, x.index), x.from === '' ? '-' : `[${x.from}`, `(${x.to}`), counted.push(i));
          for (const index of isIssued(x.index) ? kinds.map((kind) => ['kind', kind]) : [x.index]) {
            p.zlexcount(certListKey(tenant, index), certListBound(x.index, x.from, true), certListBound(x.index, x.to, false));
            counted.push(i);
          }
        });
        return p.exec();
      });
      const out = ranges.map(() => 0);
      counted.forEach((i, row) => {
        const [err, n] = rows?.[row] ?? [new Error('no reply')];
        if (err) throw new StoreUnavailableError('the store failed', { cause: err });
        out[i]! += Number(n);
      });
      return out;
    };
  }

  async tenantSummary(tenant: string, now: number): Promise<TenantSummary> {
    await this.schema();
    return summaryIn(this.indexCounter('sx', tenant), this.indexCounter('cl', tenant), now);
  }

  /** Records of these serials (one pipeline), undefined where there is none. */
  private async certificatesOf(serials: readonly string[]): Promise<(CertificateRecord | undefined)[]> {
    if (!serials.length) return [];
    const rows = await this.call((r) => {
      const p = r.pipeline();
      for (const serial of serials) p.hmgetBuffer(k('c', serial), 'rec', 'st', 'ra', 'rr');
      return p.exec();
    });
    return this.decoding(() =>
      (rows ?? []).map(([err, fields], i) => {
        if (err) throw new StoreUnavailableError('the store failed', { cause: err });
        return certificateFrom(serials[i]!, fields as (Buffer | null)[], this.derDict);
      }),
    );
  }

  /**
   * Writes (rec) or deletes (rec undefined) stations with their list index entries, compare-and-set
   * on the records as read (writeStations script); each station at most once per call. A station
   * listing a SECC-ID another station of its tenant lists is refused (PnC-4.3.secc-id-unique) and
   * the others written; an index entry found stale on the way (left by an older removal) is dropped.
   */
  private async writeStations(items: readonly { tenant: string; stationId: string; rec?: StationRecord }[], replace: boolean): Promise<(string | { refused: SeccIdConflict })[]> {
    await this.schema();
    // The uniqueness check reads the SECC-ID index: it must cover the stations written before it.
    if (items.some((i) => i.rec?.seccIds?.length) && !(await this.call((r) => r.exists(SECC_INDEX_BUILT)))) await this.buildSeccIndex();
    const out: (string | { refused: SeccIdConflict })[] = [];
    let pending = items.map((item, n) => ({ item, n }));
    for (let attempt = 0; attempt < STATION_CAS_ATTEMPTS; attempt++) {
      const keys = pending.map(({ item: i }) => k('s', i.tenant, i.stationId));
      const raws = await this.call((r) => r.mgetBuffer(...keys));
      const scriptKeys: string[] = [];
      const args: (string | Buffer)[] = [replace ? '1' : '0'];
      pending.forEach(({ item }, n) => {
        const raw = raws[n] ?? null;
        const before = dec<StationRecord>(raw);
        const ops = [
          ...(before ? stationIndexEntries(before).map((e) => `-${stationListOp(e)}`) : []),
          ...(before ? seccKeysOf(before).map((key) => `-5${seccMember(key, before.stationId)}`) : []),
          ...(item.rec ? stationIndexEntries(item.rec).map((e) => `+${stationListOp(e)}`) : []),
          ...(item.rec ? seccKeysOf(item.rec).map((key) => `+5${seccMember(key, item.rec!.stationId)}`) : []),
        ];
        scriptKeys.push(keys[n]!, ...stationListKeys(item.tenant), seccIndexKey(item.tenant));
        args.push(raw ?? '', item.rec ? enc(item.rec) : '', String(ops.length), ...ops);
      });
      const result = ((await this.run('writeStations', scriptKeys, args)) as Buffer[]).map((b) => b.toString());
      if (result[0] === 'changed') continue;
      if (result[0] !== 'secc') {
        result.forEach((o, i) => (out[pending[i]!.n] = o));
        return out;
      }
      // Nothing written: refuse the stations whose SECC-ID another station lists, drop stale entries, write again.
      const refused = new Set<number>();
      for (let r = 1; r < result.length; r += 3) {
        const i = Number(result[r]);
        const [key, other] = [result[r + 1]!, result[r + 2]!];
        const { item, n } = pending[i]!;
        if (await this.seccHeldBy(item.tenant, key, other, pending.map((p) => p.item))) {
          out[n] = { refused: { seccId: item.rec!.seccIds!.find((id) => seccIdKey(id) === key) ?? key, otherStationId: other } };
          refused.add(i);
        }
      }
      pending = pending.filter((_, i) => !refused.has(i));
      if (!pending.length) return out;
    }
    throw new StoreUnavailableError('the stations kept changing during the write; try again');
  }

  /**
   * Whether station `other` of the tenant lists the SECC-ID `key`: as written by this call, or as
   * stored. When it does not, its index entry is stale and is dropped (only while the station is as read).
   */
  private async seccHeldBy(tenant: string, key: string, other: string, batch: readonly { tenant: string; stationId: string; rec?: StationRecord }[]): Promise<boolean> {
    if (batch.some((b) => b.tenant === tenant && b.stationId === other && listsSeccKey(b.rec, key))) return true;
    const raw = await this.call((r) => r.getBuffer(k('s', tenant, other)));
    if (listsSeccKey(dec<StationRecord>(raw), key)) return true;
    await this.run('dropSeccEntry', [seccIndexKey(tenant), k('s', tenant, other)], [seccMember(key, other), raw ?? '']);
    return false;
  }

  async getStation(tenant: string, stationId: string): Promise<StationRecord | undefined> {
    return dec(await this.call((r) => r.getBuffer(k('s', tenant, stationId))));
  }
  // The SECC-ID index (secc-index.ts): secc:<tenant> a zset of "<SECC-ID key>\n<stationId>" (scores 0),
  // kept by the station writes' script (writeStations) and a station removal (revoke); a removal
  // before that left its entries, which a lookup ignores (it checks the station again) and a station
  // write drops when it meets them; secc-built once it covers the stations written before it existed.
  async findStationBySeccId(tenant: string, seccId: string): Promise<StationRecord | undefined> {
    if (!(await this.call((r) => r.exists(SECC_INDEX_BUILT)))) await this.buildSeccIndex();
    const key = seccIdKey(seccId);
    const from = `[${seccMember(key, '')}`;
    const members = await this.call((r) => r.zrangebylex(seccIndexKey(tenant), from, Buffer.concat([Buffer.from(from), Buffer.from([0xff])])));
    for (const m of members) {
      const s = await this.getStation(tenant, m.slice(m.indexOf('\n') + 1));
      if (listsSeccKey(s, key)) return s;
    }
    return undefined;
  }
  /** Indexes every station (stores from before the index); writes meanwhile index themselves. */
  private async buildSeccIndex(): Promise<void> {
    let cursor = '0';
    do {
      const [next, batch] = await this.call((r) => r.scan(cursor, 'MATCH', `${k('s')}:*`, 'COUNT', 1000));
      cursor = next;
      const values = batch.length ? await this.call((r) => r.mgetBuffer(...batch)) : [];
      const stations = values.map((v) => dec<StationRecord>(v)).filter((s): s is StationRecord => s !== undefined && seccKeysOf(s).length > 0);
      if (stations.length)
        await this.call((r) => {
          const m = r.multi();
          for (const s of stations) m.zadd(seccIndexKey(s.tenant), ...seccKeysOf(s).flatMap((key) => [0, seccMember(key, s.stationId)]));
          return m.exec();
        });
    } while (cursor !== '0');
    await this.call((r) => r.set(SECC_INDEX_BUILT, '1'));
  }
  async putStation(s: StationRecord): Promise<{ created: boolean }> {
    const [outcome] = await this.writeStations([{ tenant: s.tenant, stationId: s.stationId, rec: s }], true);
    if (typeof outcome === 'object') throw new SeccIdConflictError(s.tenant, s.stationId, outcome.refused);
    return { created: outcome === 'created' };
  }
  async putStations(batch: readonly StationRecord[], opts: { readonly replace: boolean }): Promise<StationPutOutcome[]> {
    // One script per run of distinct stations (a station twice in a batch goes into the next run).
    const out: StationPutOutcome[] = [];
    let run: StationRecord[] = [];
    const seen = new Set<string>();
    const flush = async (): Promise<void> => {
      if (!run.length) return;
      out.push(...((await this.writeStations(run.map((s) => ({ tenant: s.tenant, stationId: s.stationId, rec: s })), opts.replace)) as StationPutOutcome[]));
      run = [];
      seen.clear();
    };
    for (const s of batch) {
      const id = `${s.tenant}\n${s.stationId}`;
      if (seen.has(id)) await flush();
      seen.add(id);
      run.push(s);
    }
    await flush();
    return out;
  }
  async deleteStation(tenant: string, stationId: string): Promise<boolean> {
    return (await this.writeStations([{ tenant, stationId }], true))[0] === 'deleted';
  }

  async listIssuers(hierarchy?: string): Promise<IssuerRecord[]> {
    await this.schema();
    const all = await this.call((r) => r.hgetallBuffer(ISSUERS));
    const issuers = Object.keys(all).sort().map((id) => dec<IssuerRecord>(all[id])!);
    return hierarchy === undefined ? issuers : issuers.filter((i) => i.hierarchy === hierarchy);
  }
  async getIssuer(id: string): Promise<IssuerRecord | undefined> {
    await this.schema();
    return dec(await this.call((r) => r.hgetBuffer(ISSUERS, id)));
  }
  async putIssuer(i: IssuerRecord): Promise<void> {
    assertIssuerRecord(i);
    await this.schema();
    await this.call((r) => {
      const m = r.multi().hset(ISSUERS, i.id, enc(i)).hset(ISSUER_STATES, i.id, i.state);
      return (leafOf(i) ? m.hset(ISSUER_LEAF, i.id, leafOf(i)) : m.hdel(ISSUER_LEAF, i.id)).exec();
    });
  }
  async issuerLastExpiry(issuerId: string): Promise<number | undefined> {
    const v = await this.call((r) => r.hget(ISSUER_EXPIRY, issuerId));
    return v === null ? undefined : Number(v);
  }

  async getRotation(hierarchy: string = DEFAULT_HIERARCHY): Promise<RotationRecord | undefined> {
    await this.schema();
    return dec(await this.call((r) => r.hgetBuffer(rotationKey(hierarchy), 'rec')));
  }
  async commitRotation(issuers: readonly IssuerRecord[], rotation: RotationRecord, expectedRevision: number | undefined): Promise<boolean> {
    assertRotationCommit(issuers, rotation);
    await this.schema();
    const args = [expectedRevision === undefined ? '' : String(expectedRevision), enc(rotation), String(rotation.revision), ...issuers.flatMap((i) => [i.id, enc(i), i.state, leafOf(i)])];
    const ok = (await this.run('commitRotation', [rotationKey(rotation.hierarchy), ISSUERS, ISSUER_STATES, ISSUER_LEAF], args)) === 1;
    if (ok) await this.replicated();
    return ok;
  }

  // ---- certificates ----

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const fields = await this.call((r) => r.hmgetBuffer(k('c', serial), 'rec', 'st', 'ra', 'rr'));
    return this.decoding(() => certificateFrom(serial, fields, this.derDict));
  }

  /** Runs a decoding of records again after reading each DER dictionary it lacks (der-dict, once per instance). */
  private async decoding<T>(decode: () => T): Promise<T> {
    const loaded = new Set<string>();
    for (;;) {
      try {
        return decode();
      } catch (e) {
        if (!(e instanceof MissingDerDictionary)) throw e;
        const id = e.ref.toString('latin1');
        // Held, or read by this call and dropped again (more dictionaries than are held): give up.
        if (this.derDicts.has(id) || loaded.has(id)) throw e;
        loaded.add(id);
        const dictionary = await this.call((r) => r.hgetBuffer(DER_DICTS, e.ref));
        if (!dictionary) throw new Error(`certificate record: DER dictionary ${e.ref.toString('hex')} missing from the store`);
        this.holdDerDict(id, dictionary);
      }
    }
  }

  private holdDerDict(id: string, dictionary: Buffer): void {
    if (this.derDicts.size >= MAX_DER_DICTS) this.derDicts.delete(this.derDicts.keys().next().value!);
    this.derDicts.set(id, dictionary);
  }

  /**
   * A record's `rec` field, its DER deflated against the dictionary of its issuer and profile,
   * which is written to der-dict first (once per instance; the same bytes under the same ref, so
   * writers never disagree), so that a record is never stored before its dictionary.
   */
  private async encodeRecord(rec: IssuedRecord): Promise<Buffer> {
    const dictionary = derDictionaryOf(rec.der);
    if (!dictionary) return encodeIssuedRecord(rec);
    const ref = derDictRefOf(dictionary);
    const id = ref.toString('latin1');
    if (!this.derDicts.has(id)) {
      await this.call((r) => r.hset(DER_DICTS, ref, dictionary));
      this.holdDerDict(id, dictionary);
    }
    return encodeIssuedRecord(rec, { ref, dictionary });
  }

  async listStationCertificates(tenant: string, stationId: string): Promise<CertificateRecord[]> {
    const serials = await this.call((r) => r.zrange(k('sc', tenant, stationId), 0, -1));
    return (await this.certificatesOf(serials)).filter((c): c is CertificateRecord => c !== undefined);
  }

  async isKeyCertified(spkiSha256: string): Promise<boolean> {
    await this.schema();
    return (await this.call((r) => r.exists(k('k', spkiSha256)))) === 1;
  }
  async getCertificateByKey(spkiSha256: string): Promise<CertificateRecord | undefined> {
    await this.schema();
    const serial = await this.call((r) => r.get(k('k', spkiSha256)));
    return serial === null ? undefined : this.getCertificate(serial);
  }
  async isKeyBlocked(spkiSha256: string): Promise<boolean> {
    await this.schema();
    return (await this.call((r) => r.exists(k('b', spkiSha256)))) === 1;
  }
  async blockKey(spkiSha256: string): Promise<void> {
    await this.schema();
    await this.call((r) => r.set(k('b', spkiSha256), new Date().toISOString()));
  }
  async getIdempotency(tenant: string, key: string): Promise<IdempotencyRecord | undefined> {
    return dec(await this.call((r) => r.getBuffer(k('idem', tenant, key))));
  }

  /**
   * With `also.audit` or `also.rate`: queued for the audit writer (appendAudit), which writes the
   * issuances and appends queued meanwhile in one script (chainedWrite) and one WAIT: certificate,
   * audit entry and rate count are one write, and concurrent issuances share it. Without: one
   * script of its own.
   */
  async recordIssuance(cert: CertificateRecord, coverage: IssuanceCoverage, idem?: IdempotencyClaim, also: IssuanceAlso = {}): Promise<IssuanceOutcome> {
    const { audit, register } = also;
    if (audit) validateAuditAppend(audit.events, audit.at);
    assertRegistration(register);
    if (register && (register.tenant !== cert.tenant || register.stationId !== cert.stationId)) throw new Error("recordIssuance: the station registered is not the certificate's");
    await this.schema();
    const { status: _s, revokedAt: _ra, revocationReason: _rr, ...issued } = cert;
    const rate = also.rate && { ...also.rate, buckets: countedBuckets(also.rate.buckets) };
    const issuance: ChainedIssuance = { cert, rec: await this.encodeRecord(issued satisfies IssuedRecord), coverage, ...(idem ? { idem } : {}), ...(register ? { register } : {}), ...(rate?.buckets.length ? { rate } : {}) };
    // Audited or counted: the writer's script (chainedWrite), shared with the issuances queued meanwhile.
    if (audit || issuance.rate)
      return new Promise<IssuanceOutcome>((resolve, reject) => {
        this.auditQueue.push({ issuance, events: audit?.events ?? [], at: audit?.at ?? cert.issuedAt, resolve: (r) => resolve(r as IssuanceOutcome), reject });
        this.auditWriter ??= this.drainAudit();
      });
    const lists = issuanceLists(issuance);
    const result = (await this.run(
      'recordIssuance',
      [...issuanceKeys(issuance), OCSP_DUE, ISSUER_STATES, ISSUER_EXPIRY, ISSUER_LEAF, ...lists.map(([key]) => key)],
      [...issuanceArgs(issuance), ...lists.map(([, member]) => member)],
    )) as [Buffer, Buffer?];
    const outcome = result[0].toString();
    if (outcome === 'idempotency') return { ok: false, conflict: 'idempotency', existing: dec<IdempotencyRecord>(result[1])! };
    if (outcome === 'serial' || outcome === 'key' || outcome === 'issuer' || outcome === 'station') return { ok: false, conflict: outcome };
    await this.replicated();
    return { ok: true };
  }

  // ---- revocation ----

  async revokeCertificate(serial: string, reason: RevocationReason, at: string, auditOf: RevocationAuditOf<RevocationDone>): Promise<RevocationOutcome> {
    await this.schema();
    // What the write does is known from the certificate as read (the script checks it still is), so
    // that its audit entries can be chained before it (Lua has no SHA-256).
    for (let attempt = 0; attempt < AUDIT_CAS_ATTEMPTS; attempt++) {
      const cert = await this.getCertificate(serial);
      if (!cert) return { ok: false, reason: 'not-found' };
      const updated = revokedRecord(cert, reason, at);
      const done: RevocationDone = { ok: true, record: updated ?? cert, changed: updated !== undefined };
      if (!(await this.revoke([cert], reason, at, auditOf(done)))) continue;
      await this.afterRevocation();
      return done;
    }
    throw new StoreUnavailableError('the certificate or the audit log kept changing during its revocation; try again');
  }

  async removeStation(tenant: string, stationId: string, reason: RevocationReason, at: string, auditOf: RevocationAuditOf<StationRemoval>): Promise<StationRemoval> {
    await this.schema();
    // The station's certificates are read first (their issuer and key name the keys to write);
    // the script checks that the station, its index and its good certificates did not change
    // meanwhile, else this reads again. Only the good ones go to the script: the index only grows
    // (certificates are never deleted), so an unchanged size is an unchanged set, and a revoked
    // certificate stays revoked.
    for (let attempt = 0; attempt < AUDIT_CAS_ATTEMPTS; attempt++) {
      const serials = await this.call((r) => r.zrange(k('sc', tenant, stationId), 0, -1));
      const good = (await this.certificatesOf(serials)).filter((c): c is CertificateRecord => c?.status === 'good');
      if (good.length > STATION_REMOVAL_LIMIT) throw new StationRemovalLimitError(stationId, good.length, STATION_REMOVAL_LIMIT);
      const raw = await this.call((r) => r.getBuffer(k('s', tenant, stationId)));
      const done: StationRemoval = { deleted: raw !== null, revoked: good.map((c) => revokedRecord(c, reason, at)!) };
      if (!(await this.revoke(good, reason, at, auditOf(done), { tenant, stationId, raw, indexSize: serials.length }))) continue;
      await this.afterRevocation();
      return done;
    }
    throw new StoreUnavailableError('the station or the audit log kept changing during its removal; try again');
  }

  /**
   * The revoke script with the write's audit entries chained after the head last seen: false when
   * nothing was written because a certificate, the station or the audit head is no longer as read.
   * A removal's `indexSize`: how many certificates its station index listed when read.
   */
  private async revoke(
    certs: readonly CertificateRecord[],
    reason: RevocationReason,
    at: string,
    events: readonly AuditEvent[],
    station?: { tenant: string; stationId: string; raw: Buffer | null; indexSize: number },
  ): Promise<boolean> {
    validateAuditAppend(events, at, AUDIT_LIMITS.eventsPerAppend + certs.length);
    const head = events.length ? (this.auditHeadSeen ?? (await this.auditHead())) : undefined;
    const entries = head ? linkAuditEntries(head, events, at) : [];
    const last = entries[entries.length - 1];
    const audit = auditEntryArgs(entries);
    const keys = [AUDIT_HEAD, AUDIT_LOG, OCSP_EPOCH, OCSP_DUE, station ? k('s', station.tenant, station.stationId) : k('s-none'), station ? k('sc', station.tenant, station.stationId) : k('sc-none')];
    // Per certificate: its keys, then its three revoked list index keys (revokedIndexEntries), whose members follow the serials.
    for (const c of certs) keys.push(k('c', c.serial), k('rv', c.issuerId), k('o', c.issuerId, c.serial), k('b', c.spkiSha256), ...revokedIndexEntries(c).map((e) => certListKey(c.tenant, e.index)));
    const args: (string | Buffer | number)[] = [
      head ? String(head.seq) : '',
      head?.hash ?? '',
      last ? String(last.seq) : '',
      last?.hash ?? '',
      reason,
      at,
      station ? String(station.indexSize) : '',
      certs.length,
      OCSP_INVALIDATE_CHANNEL,
      ...certs.map((c) => c.serial),
      ...certs.flatMap((c) => revokedIndexEntries(c).map(certListMember)),
      ...certs.map((c) => `${c.status}|${c.revokedAt ?? ''}|${c.revocationReason ?? ''}`),
      entries.length,
      ...audit.args,
    ];
    if (station) {
      // The station's list index entries go with it (the script checks the record is still the one read).
      const before = dec<StationRecord>(station.raw);
      keys.push(...stationListKeys(station.tenant), seccIndexKey(station.tenant));
      args.push(station.raw ?? '', ...(before ? [...stationIndexEntries(before).map(stationListOp), ...seccKeysOf(before).map((key) => `5${seccMember(key, before.stationId)}`)] : []));
    }
    keys.push(...audit.tenantKeys);
    const result = (await this.run('revoke', keys, args)) as Buffer[];
    const outcome = result[0]!.toString();
    if (outcome === 'conflict') {
      const seq = Number(result[1]!.toString());
      this.auditHeadSeen = seq === 0 ? AUDIT_GENESIS : { seq, hash: result[2]!.toString() };
      return false;
    }
    if (outcome === 'retry') return false;
    if (last) this.auditHeadSeen = { seq: last.seq, hash: last.hash };
    return true;
  }

  /** The revoking process sees its own revocation at once; others through pub/sub or the poll. */
  private async afterRevocation(): Promise<void> {
    this.localEpoch++;
    await this.replicated();
  }

  async listRevoked(issuerId: string): Promise<RevokedEntry[]> {
    const all = await this.call((r) => r.hgetallBuffer(k('rv', issuerId)));
    return Object.keys(all).sort().map((s) => dec<RevokedEntry>(all[s])!);
  }

  // ---- OCSP ----

  /**
   * Local and synchronous: a counter this instance bumps on its own revocations, on every
   * invalidation message (published by the revocation script itself), when the subscription
   * (re)connects (messages may have been missed), and when the periodic read of the store's
   * counter finds it moved. While the store is down it stays put, so answers held in memory are
   * still served (a revocation cannot commit meanwhile).
   */
  ocspEpoch(): number {
    if (!this.subscriber) this.subscribe();
    return this.localEpoch;
  }

  private subscribe(): void {
    const sub = this.redis.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, maxRetriesPerRequest: null, autoResendUnfulfilledCommands: true });
    this.subscriber = sub;
    sub.on('error', () => undefined);
    // A reconnect may have missed invalidations: drop what is remembered. The first connection
    // drops it only if the epoch moved while it was being made (under load that can take long, and
    // answers remembered meanwhile are still right: faults.test "held answer").
    const atStart = this.redis.get(OCSP_EPOCH).catch(() => undefined);
    let connected = false;
    sub.on('ready', () => {
      if (connected) return void this.localEpoch++;
      connected = true;
      void Promise.all([atStart, this.redis.get(OCSP_EPOCH)]).then(
        ([before, now]) => {
          if (before === undefined || before !== now) this.localEpoch++;
        },
        () => this.localEpoch++,
      );
    });
    sub.on('message', () => this.localEpoch++);
    void sub.subscribe(OCSP_INVALIDATE_CHANNEL).catch(() => undefined);
    this.poller = setInterval(() => {
      if (this.redis.status !== 'ready') return;
      this.redis.get(OCSP_EPOCH).then(
        (v) => {
          if (this.lastSeenEpoch !== undefined && v !== this.lastSeenEpoch) this.localEpoch++;
          this.lastSeenEpoch = v;
        },
        () => undefined,
      );
    }, EPOCH_POLL_MS);
    this.poller.unref();
  }

  /**
   * One GET: o:<issuer>:<serial> holds every hash's response (redis-encoding.ts), each without the
   * signer's certificate, which is put back from ocsp-tail (read once per signer, then held here).
   * A store written before schema 5 holds a hash of MessagePack records there instead (WRONGTYPE).
   */
  async getOcspResponse(issuerId: string, serial: string, hash: OcspHash): Promise<OcspResponseRecord | undefined> {
    const key = k('o', issuerId, serial);
    let value: Buffer | null;
    try {
      // The read of nearly every OCSP request at scale: a plain GET written at once. Through
      // auto-pipelining, a pipeline built for each (they rarely share an event-loop turn) costs
      // more CPU than the command itself, and a turn of latency.
      value = this.redis.status === 'ready' ? await this.getNow(key) : await this.call((r) => r.getBuffer(key));
    } catch (e) {
      if (!(e instanceof ioredis().ReplyError && /^WRONGTYPE\b/.test((e as Error).message))) throw failure(e);
      const v = dec<Omit<OcspResponseRecord, 'issuerId' | 'serial' | 'hash'>>(await this.call((r) => r.hgetBuffer(key, hash)));
      return v && { issuerId, serial, hash, ...v };
    }
    const entry = value && findOcspEntry(value, hash);
    if (!entry) return undefined;
    // Its own allocation, not a slice of the reply or of Node's shared 8 KB pool: a responder keeps
    // some answers for long (its cache), and a slice held there would pin the whole chunk it is in.
    const tail = entry.ref ? (this.heldTail(entry.ref) ?? (await this.ocspTail(entry.ref))) : EMPTY;
    const der = Buffer.allocUnsafeSlow(entry.body.length + tail.length);
    entry.body.copy(der, 0);
    tail.copy(der, entry.body.length);
    const certId = Array.isArray(entry.certId) ? der.subarray(entry.certId[0], entry.certId[0] + entry.certId[1]) : entry.certId;
    return { issuerId, serial, hash, certId, der, thisUpdate: entry.thisUpdate, nextUpdate: entry.nextUpdate, etag: entry.etag, ...(entry.tenant === undefined ? {} : { tenant: entry.tenant }) };
  }

  /** GET `key` as a Buffer, sent now (not auto-pipelined). */
  private getNow(key: string): Promise<Buffer | null> {
    const c = new (ioredis().Command)('get', [key], { replyEncoding: null });
    void this.redis.sendCommand(c);
    return c.promise as Promise<Buffer | null>;
  }

  /** The tail named `ref` when held (no await: a turn of the event loop less per read). */
  private heldTail(ref: Buffer): Buffer | undefined {
    const last = this.lastTail;
    if (last && ref.equals(last[0])) return last[1];
    const held = this.ocspTails.get(ref.toString('latin1'));
    if (held) this.lastTail = [Buffer.from(ref), held]; // a copy: not a view pinning the reply
    return held;
  }
  private lastTail: [Buffer, Buffer] | undefined;

  /** A signer's certificates tail (ocsp-tail), held in memory after the first read: a few per issuer ever. */
  private async ocspTail(ref: Buffer): Promise<Buffer> {
    const id = ref.toString('latin1');
    const held = this.ocspTails.get(id);
    if (held) return held;
    const tail = await this.call((r) => r.hgetBuffer(OCSP_TAILS, ref));
    if (!tail) throw new Error(`pre-signed OCSP response: signer certificates ${ref.toString('hex')} missing from the store`);
    if (this.ocspTails.size >= MAX_OCSP_TAILS) this.ocspTails.clear();
    this.ocspTails.set(id, tail);
    return tail;
  }

  async putOcspResponses(serial: string, signed: SignedStatus, responses: OcspResponseRecord[], schedule?: { nextDue: number | undefined }): Promise<boolean> {
    // Responses name their issuer; without responses (a schedule change only) no response key is written.
    const issuerId = responses[0]?.issuerId;
    // The signer's certificates, once per signer in ocsp-tail (responses signed together share them).
    const tails = new Map<string, Buffer>();
    const entries = responses.map((r) => {
      const split = splitOcspTail(r.der);
      if (!split) return frameOcspResponse(r, undefined);
      const ref = tailRefOf(split.tail);
      tails.set(ref.toString('latin1'), split.tail);
      return frameOcspResponse(r, { body: split.body, ref });
    });
    const result = await this.run(
      'putOcspResponses',
      [k('c', serial), issuerId === undefined ? k('o-none') : k('o', issuerId, serial), OCSP_DUE, OCSP_TAILS],
      [
        signed.status,
        signed.revokedAt ?? '',
        signed.revocationReason ?? '',
        serial,
        schedule ? (schedule.nextDue === undefined ? 'none' : String(schedule.nextDue)) : 'keep',
        tails.size,
        ...[...tails].flatMap(([id, tail]) => [Buffer.from(id, 'latin1'), tail]),
        ...entries,
      ],
    );
    return result === 1;
  }

  async claimOcspDue(now: number, limit: number, leaseMs: number): Promise<OcspDue[]> {
    const flat = (await this.run('claimOcspDue', [OCSP_DUE], [now, limit, now + leaseMs])) as Buffer[];
    const out: OcspDue[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ serial: flat[i]!.toString(), due: Number(flat[i + 1]!.toString()) });
    return out;
  }

  async requeueOcsp(now: number, opts: { readonly issuerId?: string; readonly cursor?: string; readonly limit: number }): Promise<OcspRequeueStep> {
    // ZSCAN: bounded steps over the schedule; an entry there for the whole scan is seen at least once.
    const [next, flat] = await this.call((r) => r.zscan(OCSP_DUE, opts.cursor ?? '0', 'COUNT', Math.max(1, opts.limit)));
    let serials: string[] = [];
    for (let i = 0; i < flat.length; i += 2) serials.push(flat[i]!);
    if (opts.issuerId !== undefined && serials.length) {
      const recs = await this.call((r) => {
        const p = r.pipeline();
        for (const s of serials) p.hgetBuffer(k('c', s), 'rec');
        return p.exec();
      });
      const all = serials;
      serials = await this.decoding(() =>
        all.filter((_, i) => {
          const [err, rec] = recs?.[i] ?? [new Error('no reply')];
          if (err) throw new StoreUnavailableError('the store failed', { cause: err });
          return decodeIssuedRecord(all[i]!, rec as Buffer | null, this.derDict)?.issuerId === opts.issuerId;
        }),
      );
    }
    // XX: only what is still scheduled; LT: a due time only moves earlier (a claim's lease included).
    if (serials.length) await this.call((r) => r.zadd(OCSP_DUE, 'XX', 'LT', ...serials.flatMap((s) => [now, s])));
    return { requeued: serials.length, ...(next === '0' ? {} : { cursor: next }) };
  }

  // ---- CRLs ----

  async nextCrlNumber(issuerId: string): Promise<number> {
    return this.call((r) => r.incr(k('crlno', issuerId)));
  }
  async putCrl(crl: CrlRecord): Promise<boolean> {
    return (await this.run('putCrl', [k('crl', crl.issuerId)], [crl.number, enc(crl)])) === 1;
  }
  async getCrl(issuerId: string): Promise<CrlRecord | undefined> {
    return dec(await this.call((r) => r.hgetBuffer(k('crl', issuerId), 'rec')));
  }

  /**
   * Scans every certificate and idempotency record and lists what does not hold together (a
   * certificate without its key index or station index, an idempotency record naming no
   * certificate). Empty when every write was whole. For operators after an incident, and tests.
   */
  async verifyIntegrity(): Promise<string[]> {
    const problems: string[] = [];
    const scan = async (pattern: string, each: (key: string) => Promise<void>): Promise<void> => {
      let cursor = '0';
      do {
        const [next, keys] = await this.call((r) => r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000));
        cursor = next;
        for (const key of keys) await each(key);
      } while (cursor !== '0');
    };
    await scan(`${PREFIX}c:*`, async (key) => {
      const serial = decodeURIComponent(key.slice(`${PREFIX}c:`.length));
      const cert = await this.getCertificate(serial);
      if (!cert || !cert.status) return void problems.push(`${serial}: certificate record incomplete`);
      if ((await this.call((r) => r.get(k('k', cert.spkiSha256)))) !== serial) problems.push(`${serial}: key index missing`);
      if (cert.stationId && (await this.call((r) => r.zscore(k('sc', cert.tenant, cert.stationId), serial))) === null)
        problems.push(`${serial}: station index missing`);
      if (cert.status === 'revoked' && (await this.call((r) => r.hexists(k('rv', cert.issuerId), serial))) === 0) problems.push(`${serial}: revoked but not on its CRL list`);
    });
    await scan(`${PREFIX}idem:*`, async (key) => {
      const rec = dec<IdempotencyRecord>(await this.call((r) => r.getBuffer(key)));
      if (!rec || !(await this.getCertificate(rec.serial))) problems.push(`${key}: idempotency record names no certificate`);
    });
    return problems;
  }

  // ---- audit log ----

  /**
   * Queues the append for this instance's single audit writer, which writes whatever is queued as
   * one batch per round trip: the chain is computed here (Lua has no SHA-256) after the head this
   * instance last saw, and a script writes entries, tenant indexes and head only if the head is
   * still that (else it answers the current head, and the batch is chained again).
   */
  async appendAudit(events: readonly AuditEvent[], at: string): Promise<AuditEntry[]> {
    validateAuditAppend(events, at);
    if (!events.length) return [];
    return new Promise<AuditEntry[]>((resolve, reject) => {
      this.auditQueue.push({ events, at, resolve: (r) => resolve(r as AuditEntry[]), reject });
      this.auditWriter ??= this.drainAudit();
    });
  }

  /** Never rejects; clears auditWriter in the same turn as it finds the queue empty. */
  private async drainAudit(): Promise<void> {
    try {
      // Appends made in the same turn (a Promise.all, a burst of requests) join the first batch.
      await Promise.resolve();
      while (this.auditQueue.length) {
        let n = 0;
        let take = 0;
        while (take < this.auditQueue.length && (take === 0 || n + this.auditQueue[take]!.events.length <= AUDIT_BATCH_EVENTS)) n += this.auditQueue[take++]!.events.length;
        const batch = this.auditQueue.splice(0, Math.min(take, MAX_BATCH_ITEMS));
        try {
          if (batch.some((b) => b.issuance)) await this.writeChained(batch);
          else {
            const written = await this.writeAudit(batch);
            batch.forEach((b, i) => b.resolve(written[i]!));
          }
        } catch (e) {
          this.auditHeadSeen = undefined;
          for (const b of batch) b.reject(e);
        }
      }
    } finally {
      this.auditWriter = undefined;
    }
  }

  private async writeAudit(batch: readonly { events: readonly AuditEvent[]; at: string }[]): Promise<AuditEntry[][]> {
    let head = this.auditHeadSeen ?? (await this.auditHead());
    for (let attempt = 0; attempt < AUDIT_CAS_ATTEMPTS; attempt++) {
      const written: AuditEntry[][] = [];
      let last = head;
      for (const b of batch) {
        const entries = linkAuditEntries(last, b.events, b.at);
        written.push(entries);
        last = entries[entries.length - 1]!;
      }
      const { tenantKeys, args } = auditEntryArgs(written.flat());
      const result = (await this.run('appendAudit', [AUDIT_HEAD, AUDIT_LOG, ...tenantKeys], [String(head.seq), head.hash, String(last.seq), last.hash, ...args])) as Buffer[];
      if (result[0]!.toString() === 'ok') {
        this.auditHeadSeen = { seq: last.seq, hash: last.hash };
        await this.replicated();
        return written;
      }
      const seq = Number(result[1]!.toString());
      head = seq === 0 ? AUDIT_GENESIS : { seq, hash: result[2]!.toString() };
    }
    throw new StoreUnavailableError('the audit log kept moving under this append; try again');
  }

  /**
   * A batch with issuances (chainedWrite): chained after the head last seen, written only over it;
   * refused issuances are answered (their conflict) or, when they collide with an earlier one of
   * the batch, queued again for the next batch; the rest is chained again and written. Resolves
   * every item it answered, rejects none (the caller rejects the batch when this throws).
   */
  private async writeChained(batch: readonly ChainedItem[]): Promise<void> {
    const later: ChainedItem[] = [];
    await this.writeChainedOnce(batch, later);
    // Queued again only once this batch is written: when the write fails, they are rejected with it.
    this.auditQueue.unshift(...later);
  }

  private async writeChainedOnce(batch: readonly ChainedItem[], later: ChainedItem[]): Promise<void> {
    let items = [...batch];
    let head = this.auditHeadSeen ?? (await this.auditHead());
    for (let attempt = 0; attempt < AUDIT_CAS_ATTEMPTS; attempt++) {
      const chained = items.map((item) => {
        const entries = linkAuditEntries(head, item.events, item.at);
        if (entries.length) head = entries[entries.length - 1]!;
        return entries;
      });
      const from = chained.find((e) => e.length)?.[0];
      const expected = from ? { seq: from.seq - 1, hash: from.prevHash } : head;
      const issuances = items.flatMap((item) => (item.issuance ? [item.issuance] : []));
      const written = issuances.map(chainedIssuance);
      const { tenantKeys, args: entryArgs } = auditEntryArgs(chained.flat());
      const result = (await this.run(
        'chainedWrite',
        [AUDIT_HEAD, AUDIT_LOG, OCSP_DUE, ISSUER_STATES, ISSUER_EXPIRY, ISSUER_LEAF, ...written.flatMap((w) => w.keys), ...tenantKeys],
        [String(expected.seq), expected.hash, String(head.seq), head.hash, issuances.length, ...written.flatMap((w) => w.args), ...entryArgs],
      )) as Buffer[];
      const outcome = result[0]!.toString();
      if (outcome === 'ok') {
        this.auditHeadSeen = head;
        await this.replicated();
        items.forEach((item, i) => item.resolve(item.issuance ? ({ ok: true } satisfies IssuanceOutcome) : chained[i]!));
        return;
      }
      if (outcome === 'conflict') {
        const seq = Number(result[1]!.toString());
        head = seq === 0 ? AUDIT_GENESIS : { seq, hash: result[2]!.toString() };
        continue;
      }
      // 'refused': answered now, or after the batch (a collision inside it); the others go again.
      const withIssuance = items.filter((item) => item.issuance);
      const out = new Set<ChainedItem>();
      for (let r = 1; r < result.length; r += 3) {
        const item = withIssuance[Number(result[r]!.toString())]!;
        const why = result[r + 1]!.toString();
        out.add(item);
        if (why === 'later') later.push(item);
        else if (why === 'rate') {
          const [bucket, after] = result[r + 2]!.toString().split(':');
          item.resolve({ ok: false, conflict: 'rate', bucket: item.issuance!.rate!.buckets[Number(bucket)]!.key, retryAfterMs: Number(after) } satisfies IssuanceOutcome);
        } else if (why === 'idempotency') item.resolve({ ok: false, conflict: 'idempotency', existing: dec<IdempotencyRecord>(result[r + 2])! } satisfies IssuanceOutcome);
        else item.resolve({ ok: false, conflict: why as 'serial' | 'key' | 'issuer' | 'station' } satisfies IssuanceOutcome);
      }
      items = items.filter((item) => !out.has(item));
      head = expected;
      if (!items.length) return;
    }
    throw new StoreUnavailableError('the audit log kept moving under this write; try again');
  }

  async listAudit(q: AuditQuery): Promise<AuditEntry[]> {
    const { afterSeq, limit } = auditPage(q);
    const flat =
      q.tenant === undefined
        ? await this.call((r) => r.zrangebyscoreBuffer(AUDIT_LOG, `(${afterSeq}`, '+inf', 'WITHSCORES', 'LIMIT', 0, limit))
        : ((await this.run('listAuditTenant', [AUDIT_LOG, k('audit-t', q.tenant)], [afterSeq, limit])) as Buffer[]);
    const out: AuditEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const entry = auditEntryFrom(flat[i]!, Number(flat[i + 1]!.toString()));
      if (q.tenant === undefined || entry.tenant === q.tenant) out.push(entry);
    }
    return out;
  }

  async auditHead(): Promise<AuditHead> {
    const [seq, hash] = await this.call((r) => r.hmget(AUDIT_HEAD, 'seq', 'hash'));
    return seq == null ? AUDIT_GENESIS : { seq: Number(seq), hash: hash ?? '' };
  }

  async auditCheckpoint(): Promise<AuditCheckpoint> {
    const [seq, hash] = await this.call((r) => r.hmget(AUDIT_CHECKPOINT, 'seq', 'hash'));
    return seq == null ? AUDIT_GENESIS : { seq: Number(seq), hash: hash ?? '' };
  }

  async pruneAudit(through: AuditCheckpoint, since?: AuditCheckpoint): Promise<boolean> {
    return pruneAuditInChunks(
      this,
      through,
      async (from, entries, to) => {
        const tenantKeys = [...new Set(entries.flatMap((e) => (e.tenant === undefined ? [] : [k('audit-t', e.tenant)])))];
        const done = (await this.run('pruneAudit', [AUDIT_CHECKPOINT, AUDIT_LOG, ...tenantKeys], [from.seq, from.hash, to.seq, to.hash])) as number;
        if (done) await this.replicated();
        return done === 1;
      },
      undefined,
      since,
    );
  }

  // ---- rate limits ----

  async peekRate(all: readonly RateBucket[], now: number): Promise<RateOutcome> {
    const buckets = countedBuckets(all);
    if (!buckets.length) return { allowed: true };
    // Per bucket, its events in the window and the oldest of them: one round trip.
    const replies = await this.call((r) => {
      const p = r.pipeline();
      for (const b of buckets) {
        p.zcount(k('rl', b.key), `(${now - b.windowMs}`, '+inf');
        p.zrangebyscore(k('rl', b.key), `(${now - b.windowMs}`, '+inf', 'WITHSCORES', 'LIMIT', 0, 1);
      }
      return p.exec();
    });
    const reply = (i: number): unknown => {
      const [err, value] = replies?.[i] ?? [new Error('no reply')];
      if (err) throw failure(err);
      return value;
    };
    return rateVerdict(buckets, (b) => Number(reply(2 * buckets.indexOf(b))), (b) => Number((reply(2 * buckets.indexOf(b) + 1) as string[])[1] ?? now), now);
  }
}

/**
 * Audit entries as the scripts append them: per entry, the entry and the index (from 1) of its
 * tenant's audit index key in `tenantKeys` (0: no tenant).
 */
function auditEntryArgs(entries: readonly AuditEntry[]): { tenantKeys: string[]; args: (string | Buffer | number)[] } {
  const tenantKeys: string[] = [];
  const tenantIndex = new Map<string, number>();
  const args: (string | Buffer | number)[] = [];
  for (const e of entries) {
    let t = 0;
    if (e.tenant !== undefined) {
      t = tenantIndex.get(e.tenant) ?? tenantKeys.push(k('audit-t', e.tenant));
      tenantIndex.set(e.tenant, t);
    }
    args.push(enc(e), t);
  }
  return { tenantKeys, args };
}

/** What the audit writer takes: an append, or an issuance with its audit events (recordIssuance with `audit`). */
interface ChainedItem {
  readonly events: readonly AuditEvent[];
  readonly at: string;
  readonly issuance?: ChainedIssuance;
  resolve(r: AuditEntry[] | IssuanceOutcome): void;
  reject(e: unknown): void;
}

/** One issuance as the recordIssuance and chainedWrite scripts write it. */
interface ChainedIssuance {
  readonly cert: CertificateRecord;
  /** The certificate's `rec` field (RedisStore.encodeRecord). */
  readonly rec: Buffer;
  readonly coverage: IssuanceCoverage;
  readonly idem?: IdempotencyClaim;
  readonly register?: StationRecord;
  /** Its rate count, the buckets that count only (limit > 0). */
  readonly rate?: RateCount;
}

/** An issuance's own keys (ISSUANCE_KEYS of them): cert, key index, idempotency record, station index, station registered. */
function issuanceKeys({ cert, idem, register }: ChainedIssuance): string[] {
  return [k('c', cert.serial), k('k', cert.spkiSha256), idem ? k('idem', idem.tenant, idem.key) : k('idem-none'), k('sc', cert.tenant, cert.stationId), register ? k('s', register.tenant, register.stationId) : k('s-none')];
}

/**
 * The list index entries an issuance joins (list-index.ts), as [key, member]: the certificate's,
 * and a station registered with it: its list and SECC-ID entries.
 */
function issuanceLists({ cert, register }: ChainedIssuance): [string, string | Buffer][] {
  return [
    ...certListEntries(cert),
    ...(register ? stationIndexEntries(register).map((e): [string, string] => [listKey('sx', register.tenant, e.index), e.member]) : []),
    ...(register ? seccKeysOf(register).map((key): [string, string] => [seccIndexKey(register.tenant), seccMember(key, register.stationId)]) : []),
  ];
}

/**
 * An issuance's keys and ARGV in chainedWrite: recordIssuance's own, then L and its L list index
 * members, then its rate count: R buckets (their keys), the time and event id, each one's limit and window.
 */
function chainedIssuance(i: ChainedIssuance): { keys: string[]; args: (string | Buffer | number)[] } {
  const lists = issuanceLists(i);
  const buckets = i.rate?.buckets ?? [];
  return {
    keys: [...issuanceKeys(i), ...lists.map(([key]) => key), ...buckets.map((b) => k('rl', b.key))],
    args: [...issuanceArgs(i), lists.length, ...lists.map(([, member]) => member), buckets.length, i.rate?.now ?? 0, i.rate?.eventId ?? '', ...buckets.flatMap((b) => [b.limit, b.windowMs])],
  };
}

/** An issuance's ARGV (redis-scripts.ts recordIssuance). */
function issuanceArgs({ cert, rec, coverage, idem, register }: ChainedIssuance): (string | Buffer | number)[] {
  const idemRecord: IdempotencyRecord | undefined = idem && { requestHash: idem.requestHash, serial: cert.serial, createdAt: cert.issuedAt };
  return [
    rec,
    cert.status,
    cert.serial,
    idemRecord ? enc(idemRecord) : '',
    coverage.stationIndex ? '1' : '0',
    Date.parse(cert.issuedAt),
    cert.issuerId,
    coverage.underActiveIssuer ? '1' : '0',
    expiryMark(cert.notAfter),
    coverage.hierarchy,
    coverage.presignOcsp ? '1' : '0',
    register ? enc(register) : '',
  ];
}

/** The serial of a certificate key (c:<serial>). */
const serialOfKey = (key: string): string => decodeURIComponent(key.slice(`${PREFIX}c:`.length));

/** A certificate from its hash fields: the record as issued, with the current status over it. */
function certificateFrom(serial: string, fields: (Buffer | null)[] | null | undefined, dictionary: (ref: Buffer) => Buffer | undefined): CertificateRecord | undefined {
  const rec = decodeIssuedRecord(serial, fields?.[0], dictionary);
  if (!rec) return undefined;
  const st = fields?.[1]?.toString() as CertificateRecord['status'];
  const ra = fields?.[2]?.toString();
  const rr = fields?.[3]?.toString() as RevocationReason | undefined;
  return { ...rec, status: st, ...(ra ? { revokedAt: ra } : {}), ...(rr ? { revocationReason: rr } : {}) };
}

/**
 * An audit entry from its stored bytes. Bytes that do not decode (only a tampered log has them)
 * still give an entry, at the seq of their score, that fails verification as changed.
 */
function auditEntryFrom(b: Buffer, score: number): AuditEntry {
  try {
    const e = dec<AuditEntry>(b);
    if (e && typeof e === 'object') return e;
  } catch {
    // falls through
  }
  return { seq: score, at: '', prevHash: '', hash: '', event: 'undecodable', actor: '', outcome: 'failed' };
}
