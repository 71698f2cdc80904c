import { createHash } from 'node:crypto';
import {
  IssuerIndex,
  MalformedOcspRequest,
  NOT_ISSUED_STATUS,
  ocspErrorResponse,
  parseOcspRequest,
  type OcspErrorStatus,
  type OcspResponseSigner,
  type OcspRequest,
  type SingleResponse,
  type SingleStatus,
} from '@evpki/ocsp';
import type { Logger } from '@evpki/service';
import { StoreUnavailableError, type CertificateRecord, type SignedStatus, type OcspStore } from '@evpki/store';
import { answeredStatus, statusOfSingles, type AnsweredStatus } from './metrics.js';
import { RingCache } from './ring-cache.js';
import type { DelegatedSigners, ServedIssuer } from './signers.js';

/** What the HTTP layer sends: the DER body and, for responses a cache may keep, their validity. */
export interface Answer {
  readonly body: Buffer;
  readonly outcome: 'presigned' | 'signed' | OcspErrorStatus;
  /** For a signed answer: the certificate status it gives (for the metrics). */
  readonly status?: AnsweredStatus;
  /**
   * For a signed answer: the tenant of its certificates when they are all of one tenant (for the
   * metrics, answers by tenant); absent for a serial not issued by this issuer, and for errors.
   */
  readonly tenant?: string;
  readonly cache?: { readonly thisUpdate: number; readonly nextUpdate: number; readonly etag: string };
  /**
   * Held in memory, to be served again (remembered, or signed live without a nonce): replies.ts
   * keeps what it writes for it. An answer read from the store for one request is not.
   */
  readonly held?: true;
}

export interface ResponderOptions {
  readonly store: OcspStore;
  readonly signers: DelegatedSigners;
  readonly nextUpdateSeconds: number;
  readonly nonIssued: 'revoked' | 'unknown';
  readonly now: () => Date;
  readonly log: Logger;
  /** A store call slower than this is answered `tryLater`: never a hang. */
  readonly storeTimeoutMs?: number;
  /** Seconds one live-signed answer took (certificate read and signing). */
  readonly onLiveSigned?: (seconds: number) => void;
  /** A failure answered `tryLater` (a store timeout arrives as StoreUnavailableError). */
  readonly onStoreError?: (err: unknown) => void;
}

export const etagOf = (der: Buffer): string => `"${createHash('sha256').update(der).digest('base64url').slice(0, 27)}"`;

const error = (status: OcspErrorStatus): Answer => ({ body: ocspErrorResponse(status), outcome: status });

/**
 * Pre-signed answers kept in memory (about 1.2 KB each with the key: ~12 MB at most); the oldest
 * goes first. Bounded so that the responder's memory does not grow with the fleet (issue 17: RSS
 * flat from 1,000 to 1,000,000 certificates): with far more certificates than this, a cache holds
 * few of the next requests whatever its size, and the store answers the rest. (5,000 was tried:
 * bench-scale's RSS at 20,000 certificates moved within its run-to-run spread, 157-178 MB against
 * 164-180, so the hits were kept.)
 */
const MAX_REMEMBERED = 10_000;
/** Live-signed answers kept in memory (CertIDs not pre-signed: other hashes or encodings; ~12 MB at most). */
const MAX_LIVE = 10_000;
/**
 * The doorkeeper's slots (128 KiB): a first request is remembered for roughly the next this many
 * requests. A few times the cache: an answer asked for less often than that would not earn its
 * place, and over a fleet far bigger than the cache few pass (at 1M certificates, ~3% of misses).
 */
const SEEN_ONCE_SLOTS = 1 << 15;
/** Certificates' issuer and status kept for live signing (~0.2 KB each: ~10 MB at most). */
const MAX_CERTS = 50_000;
const CERT_READ_TTL_MS = 1000;

/**
 * A pre-signed answer is served from memory until half of its life, when the pre-signer replaces
 * it in the store with a fresher one (presigner.ts); after that, from the store again. While the
 * store cannot be read, it is served until its nextUpdate.
 */
const rememberable = (a: Answer, now: number): boolean => a.cache !== undefined && now < a.cache.thisUpdate + (a.cache.nextUpdate - a.cache.thisUpdate) / 2;
const stillValid = (a: Answer, now: number): boolean => a.cache !== undefined && now < a.cache.nextUpdate;

/**
 * What memory keeps of a pre-signed answer: its body and validity, not the store record it was
 * read as (issuer id, serial, hash, a CertID view: ~0.3 KB more per held answer).
 */
const held = (a: Answer): Answer => {
  const { thisUpdate, nextUpdate, etag } = a.cache!;
  return { body: a.body, outcome: a.outcome, status: a.status, tenant: a.tenant, cache: { thisUpdate, nextUpdate, etag }, held: true };
};

class StoreTimeout extends Error {}

const NOT_READ = Symbol('not read');

/**
 * RFC 6960 answers. A single CertID without a nonce is served from its pre-signed response when
 * the store has one for exactly these CertID bytes; everything else is signed now, and without a
 * nonce kept in memory (never in the store) for the next asker. Pre-signed answers are also kept
 * in memory. All answers in memory are dropped whenever the store's OCSP epoch moves: a revocation
 * changes the epoch in the same write that drops its pre-signed responses, so the next request
 * after it reads the store again.
 */
export class Responder {
  private index = new IssuerIndex<ServedIssuer>();
  /**
   * Pre-signed answers by the exact request (POST body bytes, or GET path as sent), valid while
   * the store's OCSP epoch is the one they were read under: a revocation changes the epoch in the
   * same write that drops the pre-signed responses, so the next request goes to the store again.
   */
  private readonly remembered = new RingCache<Answer>(MAX_REMEMBERED);
  private rememberedEpoch = NaN;
  /**
   * Answers signed live for requests without a nonce, by their CertIDs (bytes as sent, which the
   * answer echoes; the rest of the request does not change it), under the same epoch rule. Memory
   * only: anonymous requests never write to the store (issue 14.7), and each encoding of a CertID
   * is signed once per half-life, however its requests are wrapped or alternated.
   */
  private readonly live = new RingCache<Answer>(MAX_LIVE);
  private liveEpoch = NaN;
  /**
   * Admission: an answer is offered to `remembered` on the second request for it while this fixed
   * table (no garbage) still holds the first one's fingerprint, and it only takes the place of an
   * answer that was not served from memory lately (RingCache.offer). With far more
   * certificates than memory (1M), most answers are asked for once in a long while: remembering
   * each would evict another on every miss and churn the heap (major GCs in the p99) for hits that
   * never come; and under uniform requests any full cache has the same hit rate, so the answers
   * that earn hits stay rather than being replaced by ones that might.
   */
  private readonly seenOnce = new Uint32Array(SEEN_ONCE_SLOTS);
  /**
   * Certificates read for answers signed live (every request with a nonce is signed anew), by
   * serial, under the same epoch rule (their status only changes by a revocation, which moves the
   * epoch), and for CERT_READ_TTL_MS at most: a live answer still says what the store said a moment
   * ago, and one asked while the store is down is tryLater. Only certificates found are kept (a
   * serial may be issued later without moving the epoch).
   */
  private readonly certs = new RingCache<KnownCertificate>(MAX_CERTS);
  private certsEpoch = NaN;
  /** Store reads in flight and the timer that times them out (bounded). */
  private readonly inFlight = new Set<PendingRead>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly o: ResponderOptions) {}

  setIssuers(issuers: readonly ServedIssuer[]): void {
    const index = new IssuerIndex<ServedIssuer>();
    for (const i of issuers) index.add(i.cert, i);
    this.index = index;
    this.remembered.clear(); // e.g. a retired issuer: its answers go
    this.live.clear();
    this.certs.clear();
  }

  /**
   * The pre-signed answer for exactly this request, from memory, or undefined (then call answer).
   * Synchronous: one small store read (the OCSP epoch).
   */
  recall(requestKey: string): Answer | undefined {
    const epoch = this.epoch();
    if (epoch === undefined) return undefined;
    if (epoch !== this.rememberedEpoch) {
      this.remembered.clear();
      this.rememberedEpoch = epoch;
      return undefined;
    }
    const a = this.remembered.get(requestKey);
    if (!a) return undefined;
    const now = this.o.now().getTime();
    if (!stillValid(a, now)) this.remembered.delete(requestKey);
    return rememberable(a, now) ? a : undefined;
  }

  /**
   * Like answer(); a pre-signed answer is also remembered under `requestKey` (see recall). When
   * the store cannot be read, a remembered answer still within its nextUpdate beats `tryLater`.
   */
  async answerAndRemember(der: Buffer, requestKey: string): Promise<Answer> {
    const epoch = this.epoch();
    const a = await this.answer(der);
    if (a.outcome === 'tryLater') {
      const held = this.remembered.get(requestKey);
      if (held && stillValid(held, this.o.now().getTime()) && this.epoch() === this.rememberedEpoch) return held;
      return a;
    }
    // Remembered only when no revocation committed between the epoch read and the store read.
    if (a.outcome === 'presigned' && epoch !== undefined && epoch === this.rememberedEpoch && this.epoch() === epoch) {
      const now = this.o.now().getTime();
      if (!rememberable(a, now)) return a;
      // Held already (past its half-life): the fresher answer replaces it in place.
      if (this.remembered.has(requestKey)) this.remembered.set(requestKey, held(a));
      else if (this.secondSight(requestKey)) {
        const kept = held(a);
        if (this.remembered.offer(requestKey, kept, (h) => !rememberable(h, now))) return kept;
      }
    }
    return a;
  }

  /**
   * How many answers this responder could give from memory alone now: held (pre-signed or signed
   * live without a nonce) under the store's current OCSP epoch and still within their nextUpdate.
   * /readyz counts them: with the store down, the responder still serves these (routes.ts).
   */
  heldAnswers(): number {
    const epoch = this.epoch();
    if (epoch === undefined) return 0;
    const now = this.o.now().getTime();
    let n = 0;
    for (const [cache, cacheEpoch] of [[this.remembered, this.rememberedEpoch], [this.live, this.liveEpoch]] as const)
      if (cacheEpoch === epoch) for (const a of cache.values()) if (stillValid(a, now)) n++;
    return n;
  }

  /** True when `key` was seen recently (then forgotten here); else notes it and returns false. */
  private secondSight(key: string): boolean {
    let h = 0x811c9dc5; // FNV-1a
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    const fingerprint = (h | 1) >>> 0;
    const slot = (h >>> 0) % SEEN_ONCE_SLOTS;
    if (this.seenOnce[slot] === fingerprint) {
      this.seenOnce[slot] = 0;
      return true;
    }
    this.seenOnce[slot] = fingerprint;
    return false;
  }

  /**
   * The store's OCSP epoch; undefined when the store has none or cannot be read (then nothing is
   * remembered). Read once per synchronous run of JS (an LMDB read transaction each): a request
   * answered live asks it three times before its first await. Forgotten in a microtask, queued
   * before any continuation of an await that follows, so a read after a store read is fresh.
   */
  private epoch(): number | undefined {
    if (this.epochRead !== NOT_READ) return this.epochRead;
    try {
      this.epochRead = this.o.store.ocspEpoch();
    } catch {
      this.epochRead = undefined;
    }
    queueMicrotask(this.forgetEpoch);
    return this.epochRead;
  }
  private epochRead: number | undefined | typeof NOT_READ = NOT_READ;
  private readonly forgetEpoch = (): void => {
    this.epochRead = NOT_READ;
  };

  async answer(der: Buffer): Promise<Answer> {
    let req: OcspRequest;
    try {
      req = parseOcspRequest(der);
    } catch (e) {
      if (e instanceof MalformedOcspRequest) return error('malformedRequest');
      throw e;
    }
    // One response has one signer, and each signer speaks for one issuer only.
    const issuer = this.index.match(req.certIds[0]!);
    if (!issuer || req.certIds.some((c) => this.index.match(c) !== issuer)) return error('unauthorized');
    try {
      return await this.answerFor(issuer, req);
    } catch (err) {
      this.o.log.warn({ err: err instanceof StoreTimeout ? 'store timeout' : err }, 'OCSP store read failed; answering tryLater');
      this.o.onStoreError?.(err instanceof StoreTimeout ? new StoreUnavailableError('the store did not answer in time') : err);
      // Like a remembered pre-signed answer: one signed live still within its nextUpdate beats tryLater.
      const held = req.nonceExtension ? undefined : this.live.get(liveKeyOf(req));
      if (held && stillValid(held, this.o.now().getTime()) && this.epoch() === this.liveEpoch) return held;
      return error('tryLater');
    }
  }

  private async answerFor(issuer: ServedIssuer, req: OcspRequest): Promise<Answer> {
    const now = this.o.now();
    const single = req.certIds.length === 1 && !req.nonceExtension ? req.certIds[0]! : undefined;
    if (single) {
      const pre = await this.bounded(this.o.store.getOcspResponse(issuer.id, single.serialHex, single.hash));
      if (pre && pre.nextUpdate > now.getTime() && pre.certId.equals(single.der)) {
        // Pre-signed before responses recorded their tenant: the certificate says (until it is re-signed).
        const tenant = pre.tenant ?? (await this.bounded(this.o.store.getCertificate(single.serialHex)))?.tenant;
        // One literal of one shape (no spreads): built on every store read at scale.
        return { body: pre.der, outcome: 'presigned', cache: pre, status: answeredStatus(pre.der), tenant };
      }
    }
    // Not pre-signed (another hash or encoding, several CertIDs): signed once, then from memory.
    const epoch = this.epoch();
    const liveKey = req.nonceExtension ? undefined : liveKeyOf(req);
    const held = liveKey === undefined ? undefined : this.liveCache(epoch)?.get(liveKey);
    if (held && rememberable(held, now.getTime())) return held;
    const signer = this.o.signers.get(issuer.id);
    if (!signer || signer.certificate.notAfter <= now) return error('tryLater');
    const started = process.hrtime.bigint();
    const { answer, allIssued } = await this.signLive(issuer, req, signer, now, epoch);
    this.o.onLiveSigned?.(Number(process.hrtime.bigint() - started) / 1e9);
    // Kept only for certificates we issued (a serial never issued is not worth the memory), and
    // only when no revocation committed between the epoch read and the status read.
    if (liveKey !== undefined && allIssued && epoch !== undefined && this.epoch() === epoch) this.liveCache(epoch)?.set(liveKey, answer);
    return answer;
  }

  /** The live-signed answers valid under `epoch` (emptied when it moved); undefined when the epoch cannot be read. */
  private liveCache(epoch: number | undefined): RingCache<Answer> | undefined {
    if (epoch === undefined) return undefined;
    if (epoch !== this.liveEpoch) {
      this.live.clear();
      this.liveEpoch = epoch;
    }
    return this.live;
  }

  /** Reads the certificates' status and signs the answer now. */
  private async signLive(issuer: ServedIssuer, req: OcspRequest, signer: OcspResponseSigner, now: Date, epoch: number | undefined): Promise<{ answer: Answer; allIssued: boolean }> {
    const certs = await this.certificates(req.certIds.map((c) => c.serialHex), epoch);
    const nextUpdate = this.nextUpdate(now, signer.certificate.notAfter);
    let extendedRevoke = false;
    const singles: SingleResponse[] = req.certIds.map((c, i) => {
      const cert = certs[i];
      const issued = cert !== undefined && cert.issuerId === issuer.id;
      if (!issued && this.o.nonIssued === 'revoked') extendedRevoke = true;
      return { certId: c.der, status: issued ? cert.status : this.nonIssuedStatus(), thisUpdate: now, nextUpdate };
    });
    const body = signer.sign(singles, { producedAt: now, extendedRevoke, ...(req.nonceExtension ? { nonceExtension: req.nonceExtension } : {}) });
    const status = statusOfSingles(singles.map((s) => s.status.kind));
    const allIssued = certs.every((c) => c !== undefined && c.issuerId === issuer.id);
    // One tenant when every certificate asked for is one this issuer issued to it; else none.
    const tenant = allIssued && certs.every((c) => c!.tenant === certs[0]!.tenant) ? { tenant: certs[0]!.tenant } : {};
    if (req.nonceExtension) return { answer: { body, outcome: 'signed', status, ...tenant }, allIssued };
    const cache = { thisUpdate: now.getTime(), nextUpdate: nextUpdate.getTime(), etag: etagOf(body) };
    return { answer: { body, outcome: 'signed', cache, status, ...tenant, held: true }, allIssued };
  }

  /** The issuer and status of the certificates with these serials (undefined: not in the store), from memory when read under this epoch. */
  private async certificates(serials: readonly string[], epoch: number | undefined): Promise<(KnownCertificate | undefined)[]> {
    const read = (held: readonly (KnownCertificate | undefined)[]): Promise<(KnownCertificate | undefined)[]> =>
      this.bounded(Promise.all(serials.map(async (s, i) => held[i] ?? known(await this.o.store.getCertificate(s)))));
    if (epoch === undefined) return read([]);
    if (epoch !== this.certsEpoch) {
      this.certs.clear();
      this.certsEpoch = epoch;
    }
    const t = Date.now();
    const held = serials.map((s) => {
      const c = this.certs.get(s);
      return c && t - c.readAt < CERT_READ_TTL_MS ? c : undefined;
    });
    if (held.every((c) => c !== undefined)) return held;
    const certs = await read(held);
    // Kept only when no revocation committed meanwhile (the epoch read again after the store read).
    if (this.epoch() === epoch && this.certsEpoch === epoch) certs.forEach((c, i) => c && this.certs.set(serials[i]!, c));
    return certs;
  }

  nextUpdate(now: Date, signerNotAfter: Date): Date {
    const wanted = now.getTime() + this.o.nextUpdateSeconds * 1000;
    return new Date(Math.min(wanted, signerNotAfter.getTime()));
  }

  private nonIssuedStatus(): SingleStatus {
    return this.o.nonIssued === 'revoked' ? NOT_ISSUED_STATUS : { kind: 'unknown' };
  }

  /**
   * `p`, or a StoreTimeout once it took storeTimeoutMs (up to a quarter more). No timer per read:
   * one sweep over the reads in flight, while there are any (a timer and a race per store read
   * cost every cache miss allocations and a timer-list update, at a million certificates nearly
   * every request).
   */
  private bounded<T>(p: Promise<T>): Promise<T> {
    const ms = this.o.storeTimeoutMs ?? 2000;
    return new Promise<T>((resolve, reject) => {
      const read: PendingRead = { deadline: performance.now() + ms, reject };
      this.inFlight.add(read);
      this.sweeper ??= setInterval(() => this.sweep(), Math.max(10, ms / 4)).unref();
      p.then(
        (v) => {
          this.inFlight.delete(read);
          resolve(v);
        },
        (e: Error) => {
          this.inFlight.delete(read);
          reject(e);
        },
      );
    });
  }

  /** Fails the reads past their deadline; stops when none is in flight. */
  private sweep(): void {
    const now = performance.now();
    for (const read of this.inFlight)
      if (read.deadline <= now) {
        this.inFlight.delete(read);
        read.reject(new StoreTimeout());
      }
    if (this.inFlight.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

/** A store read in flight (Responder.bounded). */
interface PendingRead {
  readonly deadline: number;
  readonly reject: (e: Error) => void;
}

/** What live signing needs of a certificate record. */
interface KnownCertificate {
  readonly issuerId: string;
  /** Whose certificate it is: answers are counted per tenant (pki_ocsp_responses_total). */
  readonly tenant: string;
  readonly status: SingleStatus;
  /** Date.now() when it was read from the store. */
  readonly readAt: number;
}
const known = (cert: CertificateRecord | undefined): KnownCertificate | undefined => (cert ? { issuerId: cert.issuerId, tenant: cert.tenant, status: statusOf(cert), readAt: Date.now() } : undefined);

/** What a live-signed answer is kept under: its CertIDs as sent (the answer echoes them). */
const liveKeyOf = (req: OcspRequest): string => req.certIds.map((c) => c.der.toString('latin1')).join('');


export function statusOf(cert: CertificateRecord): SingleStatus {
  return cert.status === 'revoked'
    ? { kind: 'revoked', revokedAt: new Date(cert.revokedAt!), ...(cert.revocationReason ? { reason: cert.revocationReason } : {}) }
    : { kind: 'good' };
}

export function signedStatusOf(cert: CertificateRecord): SignedStatus {
  return {
    status: cert.status,
    ...(cert.revokedAt ? { revokedAt: cert.revokedAt } : {}),
    ...(cert.revocationReason ? { revocationReason: cert.revocationReason } : {}),
  };
}
