import type { Logger, Metrics } from '@evpki/service';
import type { CaStore } from '@evpki/store';
import type { CaConfig } from './config.js';
import { createCrlPublisher, type CrlPublisher } from './crl-publisher.js';
import type { IssuerSet } from './issuer-set.js';

/** How often the CA re-reads the issuers (rotation steps, keys arriving); a refused leaf reloads at once. */
const ISSUER_RELOAD_MS = 5_000;

export interface CaLifecycleDeps {
  readonly config: Pick<CaConfig, 'crlNextUpdateSeconds' | 'crlRefreshSeconds'>;
  readonly store: CaStore;
  readonly issuers: IssuerSet;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly now: () => Date;
}

/**
 * Everything the CA runs besides answering requests, started and stopped here only: the store
 * checks at start, the issuer reload timer, and one CRL publisher (with its own timer) per held
 * issuing CA, the active one and those still serving old certificates.
 */
export function createCaLifecycle(d: CaLifecycleDeps) {
  const { store, issuers, metrics, log } = d;
  const crls = new Map<string, CrlPublisher>();
  let reloadTimer: NodeJS.Timeout | undefined;

  /**
   * Reloads the issuers and starts or stops their CRL publishers. Concurrent calls (the timer, a
   * signer request for an unknown issuer, a refused leaf) share one run, so that an added issuer
   * gets exactly one publisher.
   */
  let reloading: Promise<void> | undefined;
  function reloadIssuers(): Promise<void> {
    reloading ??= applyReload().finally(() => (reloading = undefined));
    return reloading;
  }
  async function applyReload(): Promise<void> {
    const { added, dropped } = await issuers.reload();
    for (const i of dropped) {
      await crls.get(i.id)?.stop();
      crls.delete(i.id);
    }
    for (const i of added) {
      const crl = createCrlPublisher({
        store,
        issuer: i,
        now: d.now,
        log,
        nextUpdateSeconds: d.config.crlNextUpdateSeconds,
        refreshSeconds: d.config.crlRefreshSeconds,
        onError: (err) => void metrics.countStoreError('crl-publish', err),
      });
      crls.set(i.id, crl);
      await crl.start();
    }
  }

  return {
    reloadIssuers,
    /** For pki_crl_next_update_seconds: each held issuing CA's newest CRL nextUpdate known (no store read). */
    crlNextUpdates: (): [issuerId: string, nextUpdate: Date][] =>
      [...crls].flatMap(([id, crl]) => {
        const next = crl.nextUpdate();
        return next ? [[id, next] as [string, Date]] : [];
      }),
    /** Republishes the issuer's CRL (RFC 5280 5; A00.FR.702: before a revocation is answered). */
    publishCrl: async (issuerId: string): Promise<void> => {
      await crls.get(issuerId)?.publishNow();
    },
    async start(): Promise<void> {
      // Records must survive a crash before a certificate is handed out (docs/architecture.md "Data").
      await store.assertDurable();
      // Stored key hashes up to the store's schema (issue 14.2) before the first certificate.
      const migration = await store.migrate();
      if (migration.from !== migration.to) log.info({ event: 'store.migrated', from: migration.from, to: migration.to, rewritten: migration.rewritten }, 'store migrated');
      if (migration.keyCertifiedTwice.length)
        log.warn({ event: 'store.key-certified-twice', serials: migration.keyCertifiedTwice }, 'certificates share a key (issued under two encodings of it): revoke all but one');
      await reloadIssuers();
      reloadTimer = setInterval(
        () =>
          void reloadIssuers().catch((err: unknown) => {
            metrics.countStoreError('issuer-reload', err);
            log.warn({ err }, 'issuer reload failed');
          }),
        ISSUER_RELOAD_MS,
      );
      reloadTimer.unref();
    },
    async stop(): Promise<void> {
      clearInterval(reloadTimer);
      reloadTimer = undefined;
      // A reload under way may still add a publisher: it is stopped with the others.
      await reloading?.catch(() => undefined);
      for (const crl of crls.values()) await crl.stop();
    },
  };
}
export type CaLifecycle = ReturnType<typeof createCaLifecycle>;
