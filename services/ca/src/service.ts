import { X509Certificate } from 'node:crypto';
import { createAuditTrail, createLogger, createMetrics, serviceCertificate, watchServiceTls, type Logger, type ServiceTls } from '@evpki/service';
import type { Signer } from '@evpki/keys';
import { openStore, type CaStore } from '@evpki/store';
import type { CaConfig } from './config.js';
import { observeCaHealth } from './health-metrics.js';
import { IssuerSet } from './issuer-set.js';
import { createCaLifecycle } from './lifecycle.js';
import { caApiRoutes, caOpsRoutes } from './routes.js';
import { createCaTransport } from './transport.js';

export interface CaSecrets {
  /**
   * Opens an issuing CA's key (issuerSignerLoader: a key file decrypted into memory, or a PKCS#11
   * token); throws when it is not there (yet). Called for each issuing CA the store lists, so keys of
   * a rotation's new issuer are picked up once they are mounted.
   */
  readonly loadIssuerSigner: (issuerId: string) => Promise<Signer>;
  /**
   * The API listener's TLS identity (issue 7): its server certificate and key, and the service CA
   * that every client certificate must chain to (the RA's, the OCSP responder's).
   */
  readonly tls: ServiceTls;
}

export interface CaOverrides {
  readonly store?: CaStore;
  readonly now?: () => Date;
  readonly logger?: Logger;
}

export interface CaInit {
  readonly publicOcspBase: string;
}

/**
 * The CA: internal only, answers only the RA (and the OCSP responder, for its signer certificates)
 * over mutual TLS, and probes and scrapers on a separate plain-HTTP ops port. Composed of its routes
 * (routes.ts, the operations of @evpki/ca-client), its listeners (transport.ts) and what runs in
 * the background (lifecycle.ts: issuer reloads, CRL publishers).
 */
export function createCaService(config: CaConfig, init: CaInit, secrets: CaSecrets, overrides: CaOverrides = {}) {
  const log = overrides.logger ?? createLogger('ca');
  const metrics = createMetrics('ca');
  const store: CaStore = overrides.store ?? openStore(config.store);
  const now = overrides.now ?? (() => new Date());
  const issuers = new IssuerSet(store, secrets.loadIssuerSigner, init.publicOcspBase, log, now);
  // Issuances and revocations are in the audit log before they are answered (a failed append fails the request).
  const audit = createAuditTrail(store, { log, now, onStoreError: (err) => void metrics.countStoreError('audit-append', err) });
  const lifecycle = createCaLifecycle({ config, store, issuers, metrics, log, now });
  // The TLS material in use: renewed files replace it without a restart (watchServiceTls below).
  let tls = secrets.tls;
  let serviceKeys = [tls.cert, tls.ca].map((pem) => new X509Certificate(pem).publicKey);
  let tlsWatch: { stop(): void } | undefined;
  observeCaHealth(metrics, store, issuers, lifecycle, () => serviceCertificate('ca-server', tls.cert));
  const transport = createCaTransport({
    config,
    tls,
    api: caApiRoutes({
      config,
      store,
      now,
      metrics,
      audit,
      issuers,
      reloadIssuers: lifecycle.reloadIssuers,
      publishCrl: lifecycle.publishCrl,
      serviceKeys: () => serviceKeys,
    }),
    ops: caOpsRoutes({ metrics, store, issuers }),
    metrics,
    log,
  });

  return {
    async start(): Promise<{ port: number; opsPort: number }> {
      await lifecycle.start();
      const ports = await transport.listen();
      tlsWatch = watchServiceTls(config.dataDir, 'ca-server', config.serviceTlsReloadMs, (renewed) => {
        transport.setTls(renewed);
        serviceKeys = [renewed.cert, renewed.ca].map((pem) => new X509Certificate(pem).publicKey);
        tls = renewed;
      }, log);
      log.info({ ...ports, activeIssuer: issuers.activeIdIn(), issuers: issuers.keyStatus() }, 'CA listening');
      return ports;
    },
    async stop(): Promise<void> {
      tlsWatch?.stop();
      await transport.close();
      await lifecycle.stop();
      await audit.close();
      if (!overrides.store) await store.close();
    },
  };
}

