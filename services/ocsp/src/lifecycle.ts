import type { Logger } from '@evpki/service';
import type { OcspStore } from '@evpki/store';
import type { OcspMetrics } from './metrics.js';
import type { Presigner } from './presigner.js';
import type { Responder } from './responder.js';
import { loadServedIssuers, type DelegatedSigners, type ServedIssuer } from './signers.js';

/** Issuers and signers are checked every minute, every half second while a signer is missing. */
const SIGNER_CHECK_MS = 60_000;
const SIGNER_MISSING_CHECK_MS = 500;

export interface OcspLifecycleDeps {
  readonly store: OcspStore;
  readonly signers: DelegatedSigners;
  readonly responder: Responder;
  readonly presigner: Pick<Presigner, 'runOnce'>;
  readonly metrics: OcspMetrics;
  readonly log: Logger;
  readonly now: () => Date;
  /** How often the pre-signer looks for due certificates (OCSP_PRESIGN_INTERVAL_MS). */
  readonly presignIntervalMs: number;
}

/**
 * Everything the responder runs besides answering requests, started and stopped here only: the
 * issuers in service (re-read on a timer), their delegated signers (obtained and renewed on the
 * same check, from the CA) and the pre-signer's runs. Answers held in memory need no timer: the
 * responder drops them when the store's OCSP epoch moves, read on each request (responder.ts).
 */
export function createOcspLifecycle(d: OcspLifecycleDeps) {
  const { metrics, log } = d;
  let served = new Map<string, ServedIssuer>();
  let presignTimer: NodeJS.Timeout | undefined;
  let signerTimer: NodeJS.Timeout | undefined;
  let running = false;
  let presigning: Promise<unknown> = Promise.resolve();

  /** Re-reads the served issuers and obtains or renews delegated signers that are due. */
  async function reloadIssuers(): Promise<void> {
    const list = await loadServedIssuers(d.store, d.now().getTime());
    served = new Map(list.map((i) => [i.id, i]));
    d.responder.setIssuers(list);
    await d.signers.refresh(list);
  }

  /** One pre-signing run after the one under way (runs never overlap); a failure is retried on the next. */
  function presignSoon(): void {
    presigning = presigning
      .then(() => d.presigner.runOnce())
      .catch((err: unknown) => {
        metrics.countStoreError('presign', err);
        log.warn({ err }, 'pre-signing failed; will retry');
      });
  }

  function checkSignersLater(): void {
    if (!running) return;
    const ready = d.signers.ready([...served.values()]);
    signerTimer = setTimeout(
      () =>
        void reloadIssuers()
          .catch((err: unknown) => {
            metrics.countStoreError('issuer-reload', err);
            log.warn({ err }, 'issuer reload failed');
          })
          .finally(checkSignersLater),
      ready ? SIGNER_CHECK_MS : SIGNER_MISSING_CHECK_MS,
    ).unref();
  }

  return {
    served: (): ReadonlyMap<string, ServedIssuer> => served,
    reloadIssuers,
    /** Before the port opens: the issuers, and a signer for each (the CA permitting). */
    prepare: reloadIssuers,
    /** Once listening: the timers, and a first pre-signing run. */
    run(): void {
      running = true;
      presignTimer = setInterval(presignSoon, d.presignIntervalMs).unref();
      checkSignersLater();
      presignSoon();
    },
    /** Stops the timers and waits for a pre-signing run under way. */
    async stop(): Promise<void> {
      running = false;
      clearInterval(presignTimer);
      clearTimeout(signerTimer);
      presignTimer = signerTimer = undefined;
      await presigning;
    },
  };
}
export type OcspLifecycle = ReturnType<typeof createOcspLifecycle>;
