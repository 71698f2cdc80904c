import { issue, profileForCertificateType, type IssueDeps, type IssuedCertificate } from '@evpki/issuance';
import { readCsr, type KeyPolicy } from '@evpki/policy';
import { AppError } from '@evpki/service';
import type { CaStore } from '@evpki/store';
import { issuerChainPem, type LoadedIssuer } from './issuer.js';

export interface SignRequest {
  readonly tenant: string;
  readonly stationId: string;
  readonly csr: string;
  /** OCPP CertificateSigningUse: picks the profile (libs/issuance registry). */
  readonly certificateType: string;
  readonly idempotencyKey?: string;
}

/** The CA's answer: the certificate with its chain, and whether an earlier request's certificate was answered again. */
export type SignedCertificate = IssuedCertificate;

export interface SignDeps {
  readonly store: CaStore;
  readonly issuer: LoadedIssuer;
  readonly keyPolicy: KeyPolicy;
  readonly leafValiditySeconds: number;
  readonly now: () => Date;
  /** The audit entries of a new certificate, written with it (IssueDeps.auditOf). */
  readonly auditOf?: IssueDeps['auditOf'];
}

/** Parses a PEM CSR or throws the policy error naming A02.FR.03. */
export function parseCsrOrThrow(pem: string) {
  const parsed = readCsr(pem);
  if ('violation' in parsed) throw new AppError('policy', parsed.violation.message, [parsed.violation]);
  return parsed.csr;
}

/** A station's certificate (OCPP SignCertificate): the profile its certificate type names, through the one pipeline. */
export async function signChargePointCertificate(req: SignRequest, deps: SignDeps): Promise<SignedCertificate> {
  const found = profileForCertificateType(req.certificateType);
  if ('violation' in found) throw new AppError('policy', found.violation.message, [found.violation]);
  return issue(
    found.profile,
    {
      tenant: req.tenant,
      stationId: req.stationId,
      csr: parseCsrOrThrow(req.csr),
      requestLabel: req.certificateType,
      lifetimeSeconds: deps.leafValiditySeconds,
      ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
    },
    issueDeps(deps),
  );
}

/** The pipeline's dependencies for a CA request. */
export function issueDeps(deps: SignDeps): IssueDeps {
  return { store: deps.store, issuer: deps.issuer, keyPolicy: deps.keyPolicy, now: deps.now, chainOf: (id) => issuerChainPem(deps.store, id), ...(deps.auditOf ? { auditOf: deps.auditOf } : {}) };
}
