import { Redis, ReplyError } from 'ioredis';
import { pack, unpack } from 'msgpackr';
import { StoreNotDurableError, StoreUnavailableError } from './errors.js';
import { REDIS_SCRIPTS } from './redis-scripts.js';
import type {
  CertificateRecord,
  CrlRecord,
  IdempotencyClaim,
  IdempotencyRecord,
  IssuanceOutcome,
  IssuerRecord,
  OcspDue,
  OcspHash,
  OcspResponseRecord,
  RateBucket,
  RateOutcome,
  RevocationOutcome,
  RevocationReason,
  RevokedEntry,
  SignedStatus,
  StationRecord,
  TenantRecord,
} from './records.js';
import type { Store } from './store.js';

export interface RedisStoreOptions {
  readonly url: string;
  readonly password?: string;
  /** A command (or waiting for a connection) slower than this fails with StoreUnavailableError. */
  readonly commandTimeoutMs: number;
  /** After issuance and revocation writes: WAIT for this many replicas, or fail the request. */
  readonly waitReplicas: number;
  readonly waitTimeoutMs: number;
}

/**
 * Key layout (every key under `evpki:`; parts are URI-encoded, so `:` separates them unambiguously):
 *   t:<tenant>  s:<tenant>:<station>  issuers (hash id → issuer)
 *   c:<serial>  hash: rec (the record as issued), st/ra/rr (status, revokedAt, reason)
 *   k:<spki> → serial   b:<spki> blocked key   sc:<tenant>:<station> zset issuedAt → serial
 *   idem:<tenant>:<key>   rv:<issuer> hash serial → CRL entry   o:<issuer>:<serial> hash alg → response
 *   ocspdue zset due → serial   ocsp-epoch counter   crlno:<issuer>   crl:<issuer> hash n, rec
 *   rl:<bucket> zset of events (sliding window)
 * Values are MessagePack (msgpackr, as in the LMDB backend); Lua scripts touch only plain fields.
 */
const PREFIX = 'evpki:';
/** A key of the layout above, e.g. redisKey('c', serial) (exported for diagnostics and benchmarks). */
export const redisKey = (...parts: string[]): string => PREFIX + parts.map(encodeURIComponent).join(':');
const k = redisKey;
const ISSUERS = k('issuers');
const OCSP_DUE = k('ocspdue');
const OCSP_EPOCH = k('ocsp-epoch');
/** Every revocation publishes here (in the same script that commits it). */
export const OCSP_INVALIDATE_CHANNEL = `${PREFIX}ocsp-invalidate`;
/** Error replies that mean "not now" rather than a bug. */
const TRANSIENT_REPLY = /^(OOM|LOADING|BUSY|READONLY|MASTERDOWN|NOREPLICAS|TRYAGAIN|CLUSTERDOWN)\b/;
/** Safety net under pub/sub: the epoch counter is compared this often. */
const EPOCH_POLL_MS = 500;

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

  constructor(private readonly o: RedisStoreOptions) {
    this.redis = new Redis(o.url, {
      ...(o.password ? { password: o.password } : {}),
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
        // The Buffer variant: replies keep their bytes (MessagePack values are binary).
        const run: ScriptRunner = (keys, args) => (this.redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[`${name}Buffer`]!(keys.length, ...keys, ...args);
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
      if (e instanceof StoreUnavailableError) throw e;
      // An error reply is a bug (a script error, a wrong type): a 500, not "try again later",
      // unless it is one of the server's passing states (full, loading, busy, read-only replica).
      if (e instanceof ReplyError && !TRANSIENT_REPLY.test((e as Error).message)) throw e;
      throw new StoreUnavailableError(`the store failed: ${e instanceof Error ? e.message.slice(0, 200) : 'unknown error'}`, { cause: e });
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
  }

  async close(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
    for (const c of [this.subscriber, this.redis]) {
      if (!c) continue;
      c.disconnect(false);
    }
  }

  // ---- tenants, stations, issuers ----

  async getTenant(id: string): Promise<TenantRecord | undefined> {
    return dec(await this.call((r) => r.getBuffer(k('t', id))));
  }
  async putTenant(t: TenantRecord): Promise<void> {
    await this.call((r) => r.set(k('t', t.id), enc(t)));
  }

  async getStation(tenant: string, stationId: string): Promise<StationRecord | undefined> {
    return dec(await this.call((r) => r.getBuffer(k('s', tenant, stationId))));
  }
  async putStation(s: StationRecord): Promise<{ created: boolean }> {
    // SET … GET: one command, so `created` is right even when two instances race.
    const previous = await this.call((r) => r.call('SET', k('s', s.tenant, s.stationId), enc(s), 'GET'));
    return { created: previous === null };
  }
  async deleteStation(tenant: string, stationId: string): Promise<boolean> {
    return (await this.call((r) => r.del(k('s', tenant, stationId)))) === 1;
  }

  async listIssuers(): Promise<IssuerRecord[]> {
    const all = await this.call((r) => r.hgetallBuffer(ISSUERS));
    return Object.keys(all).sort().map((id) => dec<IssuerRecord>(all[id])!);
  }
  async getIssuer(id: string): Promise<IssuerRecord | undefined> {
    return dec(await this.call((r) => r.hgetBuffer(ISSUERS, id)));
  }
  async putIssuer(i: IssuerRecord): Promise<void> {
    await this.call((r) => r.hset(ISSUERS, i.id, enc(i)));
  }

  // ---- certificates ----

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const fields = await this.call((r) => r.hmgetBuffer(k('c', serial), 'rec', 'st', 'ra', 'rr'));
    return certificateFrom(fields);
  }

  async listStationCertificates(tenant: string, stationId: string): Promise<CertificateRecord[]> {
    const serials = await this.call((r) => r.zrange(k('sc', tenant, stationId), 0, -1));
    if (!serials.length) return [];
    const rows = await this.call((r) => {
      const p = r.pipeline();
      for (const s of serials) p.hmgetBuffer(k('c', s), 'rec', 'st', 'ra', 'rr');
      return p.exec();
    });
    return (rows ?? []).flatMap(([err, fields]) => {
      if (err) throw new StoreUnavailableError('the store failed', { cause: err });
      const c = certificateFrom(fields as (Buffer | null)[]);
      return c ? [c] : [];
    });
  }

  async isKeyCertified(spkiSha256: string): Promise<boolean> {
    return (await this.call((r) => r.exists(k('k', spkiSha256)))) === 1;
  }
  async isKeyBlocked(spkiSha256: string): Promise<boolean> {
    return (await this.call((r) => r.exists(k('b', spkiSha256)))) === 1;
  }
  async blockKey(spkiSha256: string): Promise<void> {
    await this.call((r) => r.set(k('b', spkiSha256), new Date().toISOString()));
  }
  async getIdempotency(tenant: string, key: string): Promise<IdempotencyRecord | undefined> {
    return dec(await this.call((r) => r.getBuffer(k('idem', tenant, key))));
  }

  async recordIssuance(cert: CertificateRecord, idem?: IdempotencyClaim): Promise<IssuanceOutcome> {
    const { status: _s, revokedAt: _ra, revocationReason: _rr, ...rec } = cert;
    const chargePoint = cert.kind === 'ChargingStationCertificate';
    const idemRecord: IdempotencyRecord | undefined = idem && { requestHash: idem.requestHash, serial: cert.serial, createdAt: cert.issuedAt };
    const result = (await this.run(
      'recordIssuance',
      [k('c', cert.serial), k('k', cert.spkiSha256), idem ? k('idem', idem.tenant, idem.key) : k('idem-none'), k('sc', cert.tenant, cert.stationId), OCSP_DUE],
      [enc(rec), cert.status, cert.serial, idemRecord ? enc(idemRecord) : '', chargePoint ? '1' : '0', Date.parse(cert.issuedAt)],
    )) as [Buffer, Buffer?];
    const outcome = result[0].toString();
    if (outcome === 'idempotency') return { ok: false, conflict: 'idempotency', existing: dec<IdempotencyRecord>(result[1])! };
    if (outcome === 'serial' || outcome === 'key') return { ok: false, conflict: outcome };
    await this.replicated();
    return { ok: true };
  }

  // ---- revocation ----

  async revokeCertificate(serial: string, reason: RevocationReason, at: string): Promise<RevocationOutcome> {
    const cert = await this.getCertificate(serial);
    if (!cert) return { ok: false, reason: 'not-found' };
    const result = await this.revoke([cert], reason, at);
    if (result === 'retry') throw new Error('unreachable: retry without a station');
    await this.afterRevocation();
    return { ok: true, record: (await this.getCertificate(serial))!, changed: result.changed[0]! };
  }

  async removeStation(tenant: string, stationId: string, reason: RevocationReason, at: string): Promise<{ deleted: boolean; revoked: CertificateRecord[] }> {
    // The station's certificates are read first (their issuer and key name the keys to write);
    // the script checks that the station's index did not change meanwhile, else this reads again.
    for (let attempt = 0; attempt < 10; attempt++) {
      const certs = await this.listStationCertificates(tenant, stationId);
      const result = await this.revoke(certs, reason, at, { tenant, stationId });
      if (result === 'retry') continue;
      await this.afterRevocation();
      const changed = certs.filter((_, i) => result.changed[i]);
      const revoked = (await Promise.all(changed.map((c) => this.getCertificate(c.serial)))).filter((c): c is CertificateRecord => c !== undefined);
      return { deleted: result.deleted, revoked };
    }
    throw new StoreUnavailableError('the station kept changing during its removal; try again');
  }

  private async revoke(
    certs: readonly CertificateRecord[],
    reason: RevocationReason,
    at: string,
    station?: { tenant: string; stationId: string },
  ): Promise<'retry' | { deleted: boolean; changed: boolean[] }> {
    const keys = [OCSP_EPOCH, OCSP_DUE, station ? k('s', station.tenant, station.stationId) : k('s-none'), station ? k('sc', station.tenant, station.stationId) : k('sc-none')];
    for (const c of certs) keys.push(k('c', c.serial), k('rv', c.issuerId), k('o', c.issuerId, c.serial), k('b', c.spkiSha256));
    const result = (await this.run('revoke', keys, [reason, at, station ? '1' : '0', certs.length, OCSP_INVALIDATE_CHANNEL, ...certs.map((c) => c.serial)])) as [Buffer, number, ...number[]];
    if (result[0].toString() === 'retry') return 'retry';
    return { deleted: result[1] === 1, changed: result.slice(2).map((n) => n === 1) };
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
    sub.on('ready', () => this.localEpoch++);
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

  async getOcspResponse(issuerId: string, serial: string, hash: OcspHash): Promise<OcspResponseRecord | undefined> {
    const b = await this.call((r) => r.hgetBuffer(k('o', issuerId, serial), hash));
    const v = dec<Omit<OcspResponseRecord, 'issuerId' | 'serial' | 'hash'>>(b);
    return v && { issuerId, serial, hash, ...v };
  }

  async putOcspResponses(serial: string, signed: SignedStatus, responses: OcspResponseRecord[], schedule?: { nextDue: number | undefined }): Promise<boolean> {
    // Responses name their issuer; without responses (a schedule change only) no response key is written.
    const issuerId = responses[0]?.issuerId;
    const fields = responses.flatMap(({ issuerId: _i, serial: _s, hash, ...rest }) => [hash, enc(rest)]);
    const result = await this.run(
      'putOcspResponses',
      [k('c', serial), issuerId === undefined ? k('o-none') : k('o', issuerId, serial), OCSP_DUE],
      [signed.status, signed.revokedAt ?? '', signed.revocationReason ?? '', serial, schedule ? (schedule.nextDue === undefined ? 'none' : String(schedule.nextDue)) : 'keep', ...fields],
    );
    return result === 1;
  }

  async claimOcspDue(now: number, limit: number, leaseMs: number): Promise<OcspDue[]> {
    const flat = (await this.run('claimOcspDue', [OCSP_DUE], [now, limit, now + leaseMs])) as Buffer[];
    const out: OcspDue[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ serial: flat[i]!.toString(), due: Number(flat[i + 1]!.toString()) });
    return out;
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
      if (cert.kind === 'ChargingStationCertificate' && (await this.call((r) => r.zscore(k('sc', cert.tenant, cert.stationId), serial))) === null)
        problems.push(`${serial}: station index missing`);
      if (cert.status === 'revoked' && (await this.call((r) => r.hexists(k('rv', cert.issuerId), serial))) === 0) problems.push(`${serial}: revoked but not on its CRL list`);
    });
    await scan(`${PREFIX}idem:*`, async (key) => {
      const rec = dec<IdempotencyRecord>(await this.call((r) => r.getBuffer(key)));
      if (!rec || !(await this.getCertificate(rec.serial))) problems.push(`${key}: idempotency record names no certificate`);
    });
    return problems;
  }

  // ---- rate limits ----

  async consumeRate(all: readonly RateBucket[], now: number, eventId: string): Promise<RateOutcome> {
    const buckets = all.filter((b) => b.limit > 0);
    if (!buckets.length) return { allowed: true };
    const result = (await this.run(
      'consumeRate',
      buckets.map((b) => k('rl', b.key)),
      [now, eventId, ...buckets.flatMap((b) => [b.limit, b.windowMs])],
    )) as [number, number];
    if (result[0] < 0) return { allowed: true };
    return { allowed: false, bucket: buckets[result[0]]!.key, retryAfterMs: Math.max(1, result[1]) };
  }

  async releaseRate(buckets: readonly RateBucket[], eventId: string): Promise<void> {
    await this.call((r) => {
      const m = r.multi();
      for (const b of buckets) m.zrem(k('rl', b.key), eventId);
      return m.exec();
    });
  }
}

/** A certificate from its hash fields: the record as issued, with the current status over it. */
function certificateFrom(fields: (Buffer | null)[] | null | undefined): CertificateRecord | undefined {
  const rec = dec<Omit<CertificateRecord, 'status' | 'revokedAt' | 'revocationReason'>>(fields?.[0]);
  if (!rec) return undefined;
  const st = fields?.[1]?.toString() as CertificateRecord['status'];
  const ra = fields?.[2]?.toString();
  const rr = fields?.[3]?.toString() as RevocationReason | undefined;
  return { ...rec, status: st, ...(ra ? { revokedAt: ra } : {}), ...(rr ? { revocationReason: rr } : {}) };
}
