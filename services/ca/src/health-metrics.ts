import { Gauge } from 'prom-client';
import { observeCertificates, observeStoreUp, type HeldCertificate, type Metrics } from '@evpki/service';
import type { CaStore } from '@evpki/store';
import type { IssuerSet } from './issuer-set.js';
import type { CaLifecycle } from './lifecycle.js';

/**
 * The CA's expiry and health gauges (k8s/monitoring), from what it holds: the notAfter of its CA
 * certificates in service (read at each issuer reload) and of its server certificate, each held
 * issuing CA's CRL nextUpdate (as its publisher last wrote or read it), and whether the store answers.
 */
export function observeCaHealth(metrics: Metrics, store: CaStore, issuers: IssuerSet, lifecycle: Pick<CaLifecycle, 'crlNextUpdates'>, server: () => HeldCertificate): void {
  observeCertificates(metrics, () => [...issuers.certificatesInService(), server()]);
  observeStoreUp(metrics, store);
  new Gauge({
    name: 'pki_crl_next_update_seconds',
    help: 'nextUpdate (Unix seconds) of the newest CRL of each issuing CA the CA holds',
    labelNames: ['issuer'] as const,
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const [issuer, next] of lifecycle.crlNextUpdates()) this.set({ issuer }, Math.floor(next.getTime() / 1000));
    },
  });
}
