import { CaClient } from '@evpki/ca-client';
import { OCSP_CLIENT_CN, createLogger, serviceCertificate, watchServiceTls, type Logger, type ServiceTls } from '@evpki/service';
import { openStore, type OcspStore } from '@evpki/store';
import type { OcspConfig } from './config.js';
import { observeOcspHealth } from './health-metrics.js';
import { createOcspLifecycle } from './lifecycle.js';
import { createOcspMetrics } from './metrics.js';
import { createOcspRequests } from './ocsp-requests.js';
import { Presigner } from './presigner.js';
import { createReplies } from './replies.js';
import { Responder } from './responder.js';
import { ocspRoutes } from './routes.js';
import { DelegatedSigners } from './signers.js';
import { createOcspTransport } from './transport.js';
import { metricsSource, workerSlot } from './worker-metrics.js';

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
  // The client certificate in use: renewed files replace it without a restart (watchServiceTls in start).
  let client = serviceCertificate('ocsp-client', secrets.caTls.cert);
  let tlsWatch: { stop(): void } | undefined;
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
  observeOcspHealth({ metrics, store, ca, signers, served: lifecycle.served, presigner, nextUpdateSeconds: config.nextUpdateSeconds, client: () => client });
  const replies = createReplies({ metrics, log, now, httpMaxAgeSeconds: config.httpMaxAgeSeconds });
  const transport = createOcspTransport({
    config,
    replies,
    routes: ocspRoutes({ ocsp: createOcspRequests(responder, replies), store, metrics, metricsSource: metricsSource(metrics.registry), worker: workerSlot(), signers, served: lifecycle.served, heldAnswers: () => responder.heldAnswers(), now, httpMaxAgeSeconds: config.httpMaxAgeSeconds }),
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
      tlsWatch = watchServiceTls(config.dataDir, 'ocsp-client', config.serviceTlsReloadMs, (renewed) => {
        ca.setTls(renewed);
        client = serviceCertificate('ocsp-client', renewed.cert);
      }, log);
      lifecycle.run();
      log.info({ port, issuers: [...lifecycle.served().keys()] }, 'OCSP responder listening');
      return { port };
    },
    async stop(): Promise<void> {
      tlsWatch?.stop();
      await lifecycle.stop();
      await transport.close();
      await ca.close();
      if (!overrides.store) await store.close();
    },
  };
}

