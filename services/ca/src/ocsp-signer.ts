import type { KeyObject } from 'node:crypto';
import { issue, ocspSigner, type IssueDeps } from '@evpki/issuance';
import { DEFAULT_KEY_POLICY, Rule } from '@evpki/policy';
import { AppError } from '@evpki/service';
import type { CaStore } from '@evpki/store';
import { issuerChainPem, type LoadedIssuer } from './issuer.js';
import { parseCsrOrThrow } from './sign-certificate.js';

export interface OcspSignerDeps {
  readonly store: CaStore;
  /** The issuer asked for (any the CA holds, active or not); undefined when the CA does not hold it. */
  readonly issuer: LoadedIssuer | undefined;
  readonly now: () => Date;
  readonly validitySeconds: number;
  /** At most this many signers per issuer in any hour, counted in the store (CA_OCSP_SIGNERS_PER_ISSUER_PER_HOUR). */
  readonly perIssuerPerHour: number;
  /** Keys certified for something else (CAs, the service certificates, the caller's own): never a signer's. */
  readonly reservedKeys: () => Promise<readonly KeyObject[]>;
  /** The audit entries of the signer's certificate, written with it (IssueDeps.auditOf). */
  readonly auditOf?: IssueDeps['auditOf'];
}

const HOUR_MS = 3_600_000;

/**
 * Certifies an OCSP responder's own ECDSA key as the delegated signer for this CA (ocsp-signer
 * profile, RFC 6960 4.2.2.2), so that the responder never holds a CA key. A signer can vouch for
 * anything of its issuer until its notAfter, so a compromised responder may get only a few,
 * short-lived ones: at most `perIssuerPerHour` per issuer in any hour, shared by every CA instance
 * through the store.
 */
export async function issueOcspSigner(issuerId: string, csrPem: string, d: OcspSignerDeps): Promise<{ certificate: string; serialNumber: string; notAfter: string }> {
  const { issuer, store } = d;
  if (!issuer || issuerId !== issuer.id) throw new AppError('not-found', `this CA does not hold the key of issuer ${issuerId}`);
  const signed = await issue(
    ocspSigner,
    { tenant: '', stationId: '', csr: parseCsrOrThrow(csrPem), requestLabel: ocspSigner.kind, lifetimeSeconds: d.validitySeconds },
    {
      store,
      issuer,
      keyPolicy: DEFAULT_KEY_POLICY,
      now: d.now,
      reservedKeys: d.reservedKeys,
      quota: {
        bucket: { key: `ocsp-signer:${issuer.id}`, limit: d.perIssuerPerHour, windowMs: HOUR_MS },
        rule: Rule.ocspSignerRate,
        message: `at most ${d.perIssuerPerHour} OCSP signer certificates per issuer per hour`,
      },
      chainOf: (id) => issuerChainPem(store, id),
      ...(d.auditOf ? { auditOf: d.auditOf } : {}),
    },
  );
  // The signer's certificate alone: the responder has its issuer's.
  const end = '-----END CERTIFICATE-----\n';
  const certificate = signed.certificateChain.slice(0, signed.certificateChain.indexOf(end) + end.length);
  return { certificate, serialNumber: signed.serialNumber, notAfter: signed.notAfter };
}
