import { Gauge } from 'prom-client';
import type { CaClient } from '@evpki/ca-client';
import { observeCaUp, observeCertificates, observeStoreUp, type HeldCertificate } from '@evpki/service';
import type { OcspStore } from '@evpki/store';
import type { OcspMetrics } from './metrics.js';
import type { Presigner } from './presigner.js';
import type { DelegatedSigners, ServedIssuer } from './signers.js';

export interface OcspHealthDeps {
  readonly metrics: OcspMetrics;
  readonly store: Pick<OcspStore, 'ping'>;
  readonly ca: Pick<CaClient, 'ping'>;
  readonly signers: Pick<DelegatedSigners, 'get'>;
  /** The issuers in service now (lifecycle.ts). */
  readonly served: () => ReadonlyMap<string, ServedIssuer>;
  readonly presigner: Pick<Presigner, 'oldestAgeSeconds'>;
  /** The life of a pre-signed answer (OCSP_NEXT_UPDATE_HOURS). */
  readonly nextUpdateSeconds: number;
  /** The responder's client certificate to the CA (the one in use: it is reloaded when renewed). */
  readonly client: () => HeldCertificate;
}

/**
 * The responder's expiry and health gauges (k8s/monitoring): the notAfter of its delegated signer for
 * each issuer it serves (not of a signer left from an issuer no longer served) and of its client
 * certificate, the age bound of its pre-signed answers, whether the store and the CA answer.
 */
export function observeOcspHealth(d: OcspHealthDeps): void {
  const { metrics } = d;
  observeCertificates(metrics, () => [
    ...[...d.served().values()].flatMap((i): HeldCertificate[] => {
      const signer = d.signers.get(i.id);
      return signer ? [{ kind: 'ocsp_signer', issuer: i.id, hierarchy: i.hierarchy, notAfter: signer.certificate.notAfter }] : [];
    }),
    d.client(),
  ]);
  observeStoreUp(metrics, d.store);
  observeCaUp(metrics, () => d.ca.ping());
  new Gauge({
    name: 'pki_ocsp_presigned_oldest_age_seconds',
    help: 'Upper bound of the age of the oldest pre-signed OCSP answer: half an answer life (OCSP_NEXT_UPDATE_HOURS / 2) plus the time since the pre-signer last left nothing due',
    registers: [metrics.registry],
    collect() {
      this.set(Math.round(d.presigner.oldestAgeSeconds(d.nextUpdateSeconds)));
    },
  });
}
