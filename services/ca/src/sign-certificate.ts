import { ManufacturerChainRule, checkManufacturerEnrolment, issue, profileForCertificateType, verifyManufacturerChain, type IssueDeps, type IssuedCertificate, type PathValidator, type RateLimits } from '@evpki/issuance';
import { Rule, readCsr, type KeyPolicy } from '@evpki/policy';
import { AppError } from '@evpki/service';
import type { CaStore, StationRecord } from '@evpki/store';
import { OID, attributeValues, keySha256, type ParsedCsr } from '@evpki/x509';
import { issuerChainPem, type LoadedIssuer } from './issuer.js';

export interface SignRequest {
  readonly tenant: string;
  readonly stationId: string;
  readonly csr: string;
  /** OCPP CertificateSigningUse: picks the profile (libs/issuance registry). */
  readonly certificateType: string;
  readonly idempotencyKey?: string;
  /** First enrolment on a manufacturer certificate (issue 21): the tenant's manufacturer and the station's chain. */
  readonly manufacturerName?: string;
  readonly manufacturerCertificateChain?: string;
  /** The RA's finding on the chain's revocation, recorded as the RA's (the CA fetches nothing). */
  readonly manufacturerRevocation?: string;
  /** The RA's certificate-request limits, counted in the issuance write (IssueRequest.rateLimits). */
  readonly rateLimits?: RateLimits;
}

/** What a first enrolment on a manufacturer certificate adds to the CA's audit entry. */
export interface ManufacturerEnrolled {
  readonly manufacturer: string;
  readonly manufacturerCertificateSha256: string;
  /** The station was registered in the issuance write (zero-touch onboarding). */
  readonly stationRegistered: boolean;
  /** As the RA found it: good, unknown (fail-open), not-checked. */
  readonly manufacturerRevocation?: string;
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
  /** RFC 5280 path validation of manufacturer chains (@evpki/pathval, cached). */
  readonly manufacturerValidator?: PathValidator;
}

/** Parses a PEM CSR or throws the policy error naming A02.FR.03. */
export function parseCsrOrThrow(pem: string) {
  const parsed = readCsr(pem);
  if ('violation' in parsed) throw new AppError('policy', parsed.violation.message, [parsed.violation]);
  return parsed.csr;
}

/**
 * A station's certificate (OCPP SignCertificate): the profile its certificate type names, through
 * the one pipeline. With a manufacturer chain (issue 21) the CA checks it again on its own reads,
 * its path offline (the RA checked revocation), and may register the station in the issuance write.
 */
export async function signChargePointCertificate(req: SignRequest, deps: SignDeps): Promise<{ signed: SignedCertificate; manufacturer?: ManufacturerEnrolled }> {
  const found = profileForCertificateType(req.certificateType);
  if ('violation' in found) throw new AppError('policy', found.violation.message, [found.violation]);
  const csr = parseCsrOrThrow(req.csr);
  const onboarding = req.manufacturerName && req.manufacturerCertificateChain ? await manufacturerEnrolment(req, req.manufacturerName, req.manufacturerCertificateChain, csr, deps) : undefined;
  const enrolled: ManufacturerEnrolled | undefined = onboarding && {
    manufacturer: onboarding.manufacturer,
    manufacturerCertificateSha256: onboarding.certificateSha256,
    stationRegistered: onboarding.register !== undefined,
    ...(req.manufacturerRevocation ? { manufacturerRevocation: req.manufacturerRevocation } : {}),
  };
  const signed = await issue(
    found.profile,
    {
      tenant: req.tenant,
      stationId: req.stationId,
      csr,
      requestLabel: req.certificateType,
      lifetimeSeconds: deps.leafValiditySeconds,
      ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
      ...(onboarding?.register ? { register: onboarding.register } : {}),
      ...(req.rateLimits ? { rateLimits: req.rateLimits } : {}),
    },
    // The manufacturer facts go into the audit entry written with the certificate.
    { ...issueDeps(deps), ...(deps.auditOf && enrolled ? { auditOf: (s) => deps.auditOf!(s).map((e) => ({ ...e, details: { ...e.details, ...enrolled } })) } : {}) },
  );
  return enrolled ? { signed, manufacturer: { ...enrolled, stationRegistered: enrolled.stationRegistered && !signed.replayed } } : { signed };
}

/** The CA's own check of a manufacturer chain (it trusts no caller): its reads, its validator. */
async function manufacturerEnrolment(req: SignRequest, name: string, chain: string, csr: ParsedCsr, deps: SignDeps): Promise<{ manufacturer: string; certificateSha256: string; register?: StationRecord }> {
  if (req.certificateType !== 'ChargingStationCertificate') throw new AppError('policy', 'a manufacturer certificate enrols only for a ChargingStationCertificate', [{ rule: ManufacturerChainRule.chain, message: 'not a ChargingStationCertificate' }]);
  if (!deps.manufacturerValidator) throw new AppError('unavailable', 'this CA does not check manufacturer certificates');
  const [m, station] = await Promise.all([deps.store.getManufacturer(req.tenant, name), deps.store.getStation(req.tenant, req.stationId)]);
  if (!m) throw new AppError('policy', 'the manufacturer certificate chain is not trusted', [{ rule: ManufacturerChainRule.chain, message: `the tenant does not trust manufacturer ${name}` }]);
  const verdict = await verifyManufacturerChain({ chainPem: chain, manufacturers: [m], at: deps.now() }, deps.manufacturerValidator);
  if (!verdict.valid) throw new AppError('policy', 'the manufacturer certificate chain is not trusted', verdict.reasons);
  let csrKey = '';
  try {
    csrKey = keySha256(csr.spki);
  } catch {
    // keyRules refuses it in the pipeline.
  }
  const checked = checkManufacturerEnrolment(verdict.identity, { commonNames: attributeValues(csr.subject, OID.commonName), keySha256: csrKey }, { tenant: req.tenant, stationId: req.stationId, station, now: deps.now() });
  if (checked.notFound) throw new AppError('not-found', 'no such station', checked.violations.filter((v) => v.rule === Rule.registeredIdentity));
  if (checked.forbidden) throw new AppError('forbidden', 'the station was registered through another manufacturer certificate', checked.violations);
  if (checked.violations.length) throw new AppError('policy', 'the certificate request violates policy', checked.violations);
  return { manufacturer: m.name, certificateSha256: verdict.identity.certificateSha256, ...(checked.register ? { register: checked.register } : {}) };
}

/** The pipeline's dependencies for a CA request. */
export function issueDeps(deps: SignDeps): IssueDeps {
  return { store: deps.store, issuer: deps.issuer, keyPolicy: deps.keyPolicy, now: deps.now, chainOf: (id) => issuerChainPem(deps.store, id), ...(deps.auditOf ? { auditOf: deps.auditOf } : {}) };
}
