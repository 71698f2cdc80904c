import { X509Certificate } from 'node:crypto';
import type { Store } from '@evpki/store';
import type { Metrics } from './metrics.js';
import { promClient } from './prom-client.js';

/**
 * The expiry and health gauges every service exports (k8s/monitoring alerts on them). Unlike the
 * `pki_<service>_` series they carry no service prefix: the scrape's job label says which service,
 * and one alert covers them all. Each is computed at scrape time from what the service holds in
 * memory, plus one store ping and (RA, OCSP) one CA ping: no store scan.
 */

/** What a certificate is to the PKI: a root, an issuing CA (any non-root CA), a delegated OCSP signer, a service's own TLS certificate. */
export type CertificateKind = 'root' | 'issuing' | 'ocsp_signer' | 'service';

export interface HeldCertificate {
  readonly kind: CertificateKind;
  /** The issuer id it is (root, issuing) or signs for (ocsp_signer); the service certificate's name (ca-server, ra-client, ocsp-client). */
  readonly issuer: string;
  /** The issuer's hierarchy; "" for service certificates. */
  readonly hierarchy: string;
  /** A CA's state (prepared, published, active, retiring): a retiring CA nearing its end is no alarm; "" for the others. */
  readonly state?: string;
  readonly notAfter: Date;
}

/** How long a health ping at scrape time may take before the dependency counts as down. */
const PING_TIMEOUT_MS = 2_000;

/**
 * `pki_certificate_not_after_seconds{kind, issuer, hierarchy, state}`: the notAfter (Unix seconds) of each
 * certificate `held()` lists at scrape time; one that is no longer listed disappears.
 */
export function observeCertificates(metrics: Pick<Metrics, 'registry'>, held: () => Iterable<HeldCertificate>): void {
  new (promClient().Gauge)({
    name: 'pki_certificate_not_after_seconds',
    help: 'notAfter (Unix seconds) of the certificates this service holds or serves, by kind (root, issuing, ocsp_signer, service), issuer id (the service certificate name for kind=service), hierarchy and CA state',
    labelNames: ['kind', 'issuer', 'hierarchy', 'state'] as const,
    registers: [metrics.registry],
    collect() {
      this.reset();
      for (const c of held()) this.set({ kind: c.kind, issuer: c.issuer, hierarchy: c.hierarchy, state: c.state ?? '' }, Math.floor(c.notAfter.getTime() / 1000));
    },
  });
}

/** A service's own TLS certificate (PEM) as a HeldCertificate of kind service. */
export function serviceCertificate(name: string, pem: string): HeldCertificate {
  return { kind: 'service', issuer: name, hierarchy: '', notAfter: new Date(new X509Certificate(pem).validTo) };
}

/** `ping` settled within the timeout: true when it resolved truthy. */
async function answers(ping: () => Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS)));
  try {
    return await Promise.race([ping().then((v) => v !== false), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** `pki_store_up`: 1 when the store answered a ping at this scrape, else 0 (and a store error is counted). */
export function observeStoreUp(metrics: Pick<Metrics, 'registry' | 'countStoreError'>, store: Pick<Store, 'ping'>): void {
  new (promClient().Gauge)({
    name: 'pki_store_up',
    help: 'Whether the store answered a ping at this scrape (1) or not (0)',
    registers: [metrics.registry],
    async collect() {
      this.set((await answers(() => store.ping().catch((err: unknown) => (metrics.countStoreError('GET /metrics', err), false)))) ? 1 : 0);
    },
  });
}

/** `pki_ca_up` (RA, OCSP): 1 when the CA answered a mutual-TLS ping (CA_API.ping, this client's certificate accepted) at this scrape. */
export function observeCaUp(metrics: Pick<Metrics, 'registry'>, ping: () => Promise<boolean>): void {
  new (promClient().Gauge)({
    name: 'pki_ca_up',
    help: "Whether the CA answered this service's mutual-TLS ping and took its client certificate (1) or not (0), at this scrape",
    registers: [metrics.registry],
    async collect() {
      this.set((await answers(ping)) ? 1 : 0);
    },
  });
}
