import type { Logger } from '@evpki/service';
import type { CrlRecord, CaStore } from '@evpki/store';
import { signCrl } from '@evpki/issuance';
import type { LoadedIssuer } from './issuer.js';

export interface CrlPublisherOptions {
  readonly store: CaStore;
  readonly issuer: LoadedIssuer;
  readonly now: () => Date;
  readonly log: Logger;
  /** nextUpdate − thisUpdate of each CRL (RFC 5280 5.1.2.5), clamped to the issuer's notAfter. */
  readonly nextUpdateSeconds: number;
  /** Reissue when the stored CRL is this old, or its nextUpdate is this close. */
  readonly refreshSeconds: number;
  /** How often the timer looks at the stored CRL; default min(refreshSeconds, 3600). */
  readonly checkIntervalSeconds?: number;
  /** A scheduled publication failed (the store-errors metric); it is logged and retried at the next check. */
  readonly onError?: (err: unknown) => void;
}

export interface CrlPublisher {
  /**
   * Generates, signs and stores a new CRL. Coalescing: a call made while a generation runs waits
   * for the next generation, which starts after it, so a revocation committed before the call is
   * always in the CRL it resolves with. At most one generation runs and at most one is queued.
   */
  publishNow(): Promise<CrlRecord>;
  /** Publishes at once when the stored CRL is missing or due (errors reject), then checks on a timer. */
  start(): Promise<void>;
  /** Stops the timer and waits for a generation already running or queued. */
  stop(): Promise<void>;
  /** One timer check: publishes when due; true when it published. Exposed for tests and tooling. */
  checkNow(): Promise<boolean>;
  /** The nextUpdate of the newest CRL this publisher wrote or read from the store (pki_crl_next_update_seconds), undefined before the first. */
  nextUpdate(): Date | undefined;
}

/** The issuing CA's CRL (RFC 5280 section 5): regenerated on each revocation and on a schedule. */
export function createCrlPublisher(o: CrlPublisherOptions): CrlPublisher {
  const { store, issuer, log } = o;
  if (!(o.refreshSeconds > 0 && o.refreshSeconds < o.nextUpdateSeconds)) throw new Error('CRL refresh interval must be positive and shorter than the nextUpdate interval');
  const checkMs = (o.checkIntervalSeconds ?? Math.min(o.refreshSeconds, 3600)) * 1000;
  let running: Promise<CrlRecord> | undefined;
  let queued: Promise<CrlRecord> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let checking = false;
  let known: CrlRecord | undefined;
  /** Remembers the newest CRL seen (by number: another CA instance may have published a later one). */
  const saw = (r: CrlRecord | undefined): void => {
    if (r && (!known || r.number > known.number)) known = r;
  };

  async function generate(): Promise<CrlRecord> {
    // The number is taken before the list is read: a CRL with a higher number (from any process)
    // therefore lists every revocation committed before this generation started.
    const number = await store.nextCrlNumber(issuer.id);
    const revoked = await store.listRevoked(issuer.id);
    const crl = await signCrl(issuer, issuer.signer, {
      number,
      now: o.now(),
      lifetimeSeconds: o.nextUpdateSeconds,
      entries: revoked.map((r) => ({ serial: r.serial, revokedAt: new Date(r.revokedAt), reason: r.reason })),
    });
    const { der } = crl;
    const [thisUpdate, nextUpdate] = [crl.thisUpdate, crl.nextUpdate];
    const record: CrlRecord = { issuerId: issuer.id, number, der, thisUpdate: thisUpdate.toISOString(), nextUpdate: nextUpdate.toISOString() };
    if (await store.putCrl(record)) {
      saw(record);
      log.info({ issuerId: issuer.id, crlNumber: number, entries: revoked.length, nextUpdate: record.nextUpdate }, 'CRL published');
      return record;
    }
    // A newer CRL got there first (another process); by the ordering above it is at least as complete.
    const current = await store.getCrl(issuer.id);
    if (!current) throw new Error(`CRL ${number} of ${issuer.id} was refused but none is stored`);
    saw(current);
    log.info({ issuerId: issuer.id, crlNumber: number, stored: current.number }, 'CRL superseded by a newer one');
    return current;
  }

  function run(): Promise<CrlRecord> {
    const p = generate().finally(() => {
      if (running === p) running = undefined;
    });
    running = p;
    return p;
  }

  function publishNow(): Promise<CrlRecord> {
    // A queued generation has not started yet, so it starts after this call: share it.
    if (queued) return queued;
    if (!running) return run();
    const q = running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      queued = undefined;
      return run();
    });
    queued = q;
    return q;
  }

  async function isDue(): Promise<boolean> {
    const current = await store.getCrl(issuer.id);
    if (!current) return true;
    saw(current);
    const now = o.now().getTime();
    const refreshMs = o.refreshSeconds * 1000;
    return now - Date.parse(current.thisUpdate) >= refreshMs || Date.parse(current.nextUpdate) - now <= refreshMs;
  }

  async function checkNow(): Promise<boolean> {
    if (!(await isDue())) return false;
    await publishNow();
    return true;
  }

  async function tick(): Promise<void> {
    if (checking) return;
    checking = true;
    try {
      await checkNow();
    } catch (err) {
      o.onError?.(err);
      log.error({ err, issuerId: issuer.id }, 'scheduled CRL publication failed');
    } finally {
      checking = false;
    }
  }

  return {
    publishNow,
    checkNow,
    nextUpdate: () => (known ? new Date(known.nextUpdate) : undefined),
    async start() {
      await checkNow();
      if (timer) return;
      timer = setInterval(() => void tick(), checkMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await Promise.allSettled([running, queued]);
    },
  };
}
