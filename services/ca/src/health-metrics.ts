import { Gauge } from 'prom-client';
import { observeCertificates, observeStoreUp, type HeldCertificate, type Metrics } from '@evpki/service';
import type { CaStore } from '@evpki/store';
import type { IssuerSet } from './issuer-set.js';
import type { CaLifecycle } from './lifecycle.js';

/**
 * The CA's expiry and health gauges (k8s/monitoring), from what it holds: the notAfter of its CA
 * certificates in service (read at each issuer reload) and of its server certificate, each held
 * issuing CA's CRL nextUpdate (as its publisher last wrote or read it) and each root's (from the
 * store), and whether the store answers.
 */
export function observeCaHealth(metrics: Metrics, store: CaStore, issuers: IssuerSet, lifecycle: Pick<CaLifecycle, 'crlNextUpdates'>, server: () => HeldCertificate): void {
  observeCertificates(metrics, () => [...issuers.certificatesInService(), server()]);
  observeStoreUp(metrics, store);
  new Gauge({
    name: 'pki_crl_next_update_seconds',
    help: 'nextUpdate (Unix seconds) of the newest CRL of each issuing CA the CA holds (kind=issuing), and of each root not retired, which the CLI signs (kind=root, pki crl sign --root)',
    labelNames: ['issuer', 'kind'] as const,
    registers: [metrics.registry],
    async collect() {
      this.reset();
      for (const [issuer, next] of lifecycle.crlNextUpdates()) this.set({ issuer, kind: 'issuing' }, Math.floor(next.getTime() / 1000));
      // The roots' CRLs, read from the store at each scrape (a few reads); a store that does not
      // answer leaves them out (pki_store_up says why).
      try {
        for (const root of (await store.listIssuers()).filter((i) => i.role === 'root' && i.state !== 'retired')) {
          const crl = await store.getCrl(root.id);
          if (crl) this.set({ issuer: root.id, kind: 'root' }, Math.floor(Date.parse(crl.nextUpdate) / 1000));
        }
      } catch {
        /* the store is down: the issuing CAs' values only */
      }
    },
  });
}
