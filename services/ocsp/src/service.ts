import { CaClient } from '@evpki/ca-client';
import { OCSP_CLIENT_CN, createLogger, observeCaUp, observeCertificates, observeStoreUp, serviceCertificate, type Logger, type ServiceTls } from '@evpki/service';
import { Gauge } from 'prom-client';
import { openStore, type OcspStore } from '@evpki/store';
import type { OcspConfig } from './config.js';
import { createOcspLifecycle } from './lifecycle.js';
import { createOcspMetrics } from './metrics.js';
import { createOcspRequests } from './ocsp-requests.js';
import { Presigner } from './presigner.js';
import { createReplies } from './replies.js';
import { Responder } from './responder.js';
import { ocspRoutes } from './routes.js';
import { DelegatedSigners } from './signers.js';
import { createOcspTransport } from './transport.js';

export interface OcspSecrets {
  /** The client certificate and key this responder presents to the CA (mutual TLS) to get its delegated signers certified, and the service CA it trusts. */
  readonly caTls: ServiceTls;
}

export interface OcspOverrides {
  readonly store?: OcspStore;
  readonly logger?: Logger;
  readonly now?: () => Date;
}

/** How long the CA may take to certify a delegated signer. */
const CA_TIMEOUT_MS = 10_000;

/**
 * The OCSP responder (RFC 6960 over HTTP, RFC 5019 caching). OCSP problems are OCSP statuses in
 * an HTTP 200 body, never an HTTP error. It also serves issuer certificates and CRLs. Composed of
 * its routes (routes.ts, ocsp-requests.ts), its listener and answer writing (transport.ts,
 * replies.ts), and what runs in the background (lifecycle.ts: issuers, signers, pre-signing).
 */
export function createOcspService(config: OcspConfig, secrets: OcspSecrets, overrides: OcspOverrides = {}) {
  const log = overrides.logger ?? createLogger('ocsp');
  const metrics = createOcspMetrics();
  const store: OcspStore = overrides.store ?? openStore(config.store);
  const now = overrides.now ?? (() => new Date());
  const ca = new CaClient({ baseUrl: config.caUrl, tls: secrets.caTls, as: OCSP_CLIENT_CN, timeoutMs: CA_TIMEOUT_MS, log });
  const signers = new DelegatedSigners(ca, log, now);
  const liveSignSeconds = metrics.signSeconds.labels({ kind: 'live' });
  const responder = new Responder({
    store,
    signers,
    nextUpdateSeconds: config.nextUpdateSeconds,
    nonIssued: config.nonIssued,
    now,
    log,
    onLiveSigned: (seconds) => liveSignSeconds.observe(seconds),
    onStoreError: (err) => void metrics.countStoreError('ocsp-answer', err),
  });
  const presigner = new Presigner({ store, signers, responder, issuers: () => lifecycle.served(), now, log });
  const lifecycle = createOcspLifecycle({ store, signers, responder, presigner, metrics, log, now, presignIntervalMs: config.presignIntervalMs });
  observeOcspHealth(metrics, store, ca, signers, lifecycle, presigner, config.nextUpdateSeconds, serviceCertificate('ocsp-client', secrets.caTls.cert));
  const replies = createReplies({ metrics, log, now, httpMaxAgeSeconds: config.httpMaxAgeSeconds });
  const transport = createOcspTransport({
    config,
    replies,
    routes: ocspRoutes({ ocsp: createOcspRequests(responder, replies), store, metrics, signers, served: lifecycle.served, now, httpMaxAgeSeconds: config.httpMaxAgeSeconds }),
  });

  return {
    responder,
    presigner,
    /** Re-reads the served issuers and obtains or renews delegated signers that are due (also on a timer). */
    refreshSigners: lifecycle.reloadIssuers,
    signers,
    async start(): Promise<{ port: number }> {
      await lifecycle.prepare();
      const port = await transport.listen();
      lifecycle.run();
      log.info({ port, issuers: [...lifecycle.served().keys()] }, 'OCSP responder listening');
      return { port };
    },
    async stop(): Promise<void> {
      await lifecycle.stop();
      await transport.close();
      await ca.close();
      if (!overrides.store) await store.close();
    },
  };
}

/**
 * The responder's expiry and health gauges (k8s/monitoring): its delegated signers' and its client
 * certificate's notAfter, the age bound of its pre-signed answers, whether the store and the CA answer.
 */
function observeOcspHealth(
  metrics: ReturnType<typeof createOcspMetrics>,
  store: OcspStore,
  ca: CaClient,
  signers: DelegatedSigners,
  lifecycle: ReturnType<typeof createOcspLifecycle>,
  presigner: Presigner,
  nextUpdateSeconds: number,
  client: ReturnType<typeof serviceCertificate>,
): void {
  observeCertificates(metrics, () => [
    ...signers.held().map(([issuer, s]) => ({ kind: 'ocsp_signer' as const, issuer, hierarchy: lifecycle.served().get(issuer)?.hierarchy ?? '', notAfter: s.certificate.notAfter })),
    client,
  ]);
  observeStoreUp(metrics, store);
  observeCaUp(metrics, () => ca.ping());
  new Gauge({
    name: 'pki_ocsp_presigned_oldest_age_seconds',
    help: 'Upper bound of the age of the oldest pre-signed OCSP answer: half an answer life (OCSP_NEXT_UPDATE_HOURS / 2) plus the time since the pre-signer last left nothing due',
    registers: [metrics.registry],
    collect() {
      this.set(Math.round(presigner.oldestAgeSeconds(nextUpdateSeconds)));
    },
  });
}
