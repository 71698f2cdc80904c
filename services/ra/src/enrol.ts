import type { CaClient, CaSignResponse, ManufacturerRevocationStatus } from '@evpki/ca-client';
import { ManufacturerChainRule, checkManufacturerEnrolment, checkRoom, csmsServer, csrQuotas, profileForCertificateType, verifyRequest, type RateLimits } from '@evpki/issuance';
import { Rule, readCsr, type KeyPolicy } from '@evpki/policy';
import { AppError, type Metrics } from '@evpki/service';
import type { RaStore, StationRecord, TenantRecord } from '@evpki/store';
import { OID, attributeValues, keySha256, type ParsedCsr } from '@evpki/x509';
import type { ManufacturerTrust } from './manufacturer-trust.js';

/** Who asks, as the adapter authenticated them (REST: the bearer token and its tenant; EST: its own). */
export interface Principal {
  /** The caller's tenant: known and enabled (the adapter refused the request otherwise). */
  readonly tenant: TenantRecord;
  /** Who acts, as the audit log names them. */
  readonly actor: string;
  /** The request being served: the CA's log lines of the call carry its id too. */
  readonly requestId?: string;
}

/** A charge point's CSR (OCPP SignCertificate), already read from the adapter's request. */
export interface StationEnrolment {
  readonly stationId: string;
  /** PEM PKCS#10. */
  readonly csr: string;
  readonly certificateType: string;
  /** A retry with the same key is answered with the same certificate (the CA replays it). */
  readonly idempotencyKey?: string;
  /**
   * First enrolment on the manufacturer's certificate (issue 21): the chain the station presented
   * in its TLS handshake, PEM, leaf first.
   */
  readonly manufacturerCertificateChain?: string;
}

/** A CSMS server's CSR (A00.FR.701: short-lived, renewed continually). */
export interface ServerEnrolment {
  readonly csr: string;
  readonly validityHours?: number;
  readonly idempotencyKey?: string;
}

/** The issued certificate (chain PEM, serial, validity), or, `replayed`, the one an identical earlier request got. */
export type Enrolled = CaSignResponse;

export interface EnrolmentDeps {
  readonly store: RaStore;
  readonly ca: Pick<CaClient, 'sign' | 'signServer'>;
  readonly keyPolicy: KeyPolicy;
  readonly now: () => Date;
  /** RA_RATE_*: read here before the CA is called, and sent with each request: the CA counts it in the issuance write. */
  readonly rateLimits: RateLimits;
  readonly metrics: Metrics;
  /** Manufacturer chains (issue 21); without it, a request with one is refused. */
  readonly manufacturers?: ManufacturerTrust;
}

/** The only station certificate a manufacturer certificate enrols for (its CN is the station's serial number). */
const MANUFACTURER_ENROLS = 'ChargingStationCertificate';

/** A02.FR.03: a CSR that cannot be read is refused before any other check. */
function readCsrOrThrow(pem: string): ParsedCsr {
  const parsed = readCsr(pem);
  if ('violation' in parsed) throw new AppError('policy', parsed.violation.message, [parsed.violation]);
  return parsed.csr;
}

/**
 * The RA's enrolment core, the same for every door (REST now, EST simpleenroll later): for an
 * authenticated principal and a request already read, load the station, check the policy and the
 * rate limits early (a read), have the CA sign (it re-checks everything, and counts the rate limits
 * in the issuance write: a request that fails or is replayed uses none), count the issuance, and
 * return the certificate. A refusal rejects with an AppError whose kind says what happened
 * (policy 422, forbidden 403, not-found 404, rate-limited 429, unavailable 503, or the CA's own,
 * relayed) and whose violations name the rules; the adapter maps it to its protocol.
 */
export function createEnrolment(d: EnrolmentDeps) {
  return {
    async station(p: Principal, r: StationEnrolment): Promise<Enrolled> {
      const { tenant } = p;
      const found = profileForCertificateType(r.certificateType);
      if ('violation' in found) throw new AppError('policy', found.violation.message, [found.violation]);
      // A retry under a known Idempotency-Key goes straight to the CA, which replays the recorded
      // certificate (or refuses a different request); re-running policy would call the key reused.
      const earlier = r.idempotencyKey ? await d.store.getIdempotency(tenant.id, r.idempotencyKey) : undefined;
      let manufacturerName: string | undefined;
      let manufacturerRevocation: ManufacturerRevocationStatus | undefined;
      if (r.manufacturerCertificateChain !== undefined && r.certificateType !== MANUFACTURER_ENROLS) {
        throw new AppError('policy', 'a manufacturer certificate enrols only for a ChargingStationCertificate', [{ rule: ManufacturerChainRule.chain, message: `manufacturerCertificateChain is accepted with certificateType ${MANUFACTURER_ENROLS} only` }]);
      }
      if (!earlier) {
        // Another tenant's station answers like one that does not exist, so identifiers cannot be probed.
        let station: StationRecord | undefined = await d.store.getStation(tenant.id, r.stationId);
        const csr = r.manufacturerCertificateChain === undefined ? undefined : readCsrOrThrow(r.csr);
        if (r.manufacturerCertificateChain !== undefined && csr) {
          const onboarding = await manufacturerEnrolment(tenant, r.stationId, r.manufacturerCertificateChain, csr, station);
          manufacturerName = onboarding.manufacturer;
          manufacturerRevocation = onboarding.revocation;
          station ??= onboarding.register;
        }
        if (!station) throw new AppError('not-found', 'no such station', [{ rule: Rule.registeredIdentity, message: 'station is not registered for this tenant' }]);
        // The CA runs the same check again on its own reads (it trusts no caller); a retry of an
        // answered request (issue 14.13) goes on to it like a known Idempotency-Key.
        const verified = await verifyRequest(
          found.profile,
          { tenant: tenant.id, stationId: r.stationId, csr: csr ?? readCsrOrThrow(r.csr), requestLabel: r.certificateType },
          { reads: d.store, keyPolicy: d.keyPolicy, now: d.now(), tenant, station, signatureVerifiedByCa: true },
        );
        // Over a limit: refused here, so that a flood never reaches the CA (which checks and counts again).
        if (verified.outcome === 'accepted') await checkRoom(d.store, csrQuotas(tenant, r.stationId, d.rateLimits), d.now().getTime());
      }
      const signed = await d.ca.sign(
        {
          tenant: tenant.id,
          stationId: r.stationId,
          csr: r.csr,
          certificateType: r.certificateType,
          actor: p.actor,
          rateLimits: d.rateLimits,
          ...(r.idempotencyKey ? { idempotencyKey: r.idempotencyKey } : {}),
          ...(manufacturerName && r.manufacturerCertificateChain ? { manufacturerName, manufacturerCertificateChain: r.manufacturerCertificateChain, ...(manufacturerRevocation ? { manufacturerRevocation } : {}) } : {}),
        },
        p.requestId,
      );
      return issued(signed);
    },

    /** CSMS server certificates, revoked by fast expiration (A00.FR.701). */
    async server(p: Principal, r: ServerEnrolment): Promise<Enrolled> {
      const { tenant } = p;
      const earlier = r.idempotencyKey ? await d.store.getIdempotency(tenant.id, r.idempotencyKey) : undefined;
      if (!earlier) {
        await verifyRequest(csmsServer, { tenant: tenant.id, stationId: '', csr: readCsrOrThrow(r.csr), requestLabel: csmsServer.kind }, { reads: d.store, keyPolicy: d.keyPolicy, now: d.now(), tenant, signatureVerifiedByCa: true });
        await checkRoom(d.store, csrQuotas(tenant, undefined, d.rateLimits), d.now().getTime());
      }
      const signed = await d.ca.signServer(
        {
          tenant: tenant.id,
          actor: p.actor,
          csr: r.csr,
          rateLimits: d.rateLimits,
          ...(r.validityHours === undefined ? {} : { validityHours: r.validityHours }),
          ...(r.idempotencyKey ? { idempotencyKey: r.idempotencyKey } : {}),
        },
        p.requestId,
      );
      return issued(signed);
    },
  };

  /**
   * The manufacturer chain of a first enrolment: valid for the tenant (revocation included), naming
   * the CSR's CN, another key than the CSR's, the station's own manufacturer identity if it has one;
   * the station to register when it is not registered and the manufacturer allows it.
   */
  async function manufacturerEnrolment(tenant: TenantRecord, stationId: string, chain: string, csr: ParsedCsr, station: StationRecord | undefined): Promise<{ manufacturer: string; revocation: ManufacturerRevocationStatus; register?: StationRecord }> {
    if (!d.manufacturers) throw new AppError('unavailable', 'manufacturer certificates are not checked by this RA');
    const verdict = await d.manufacturers.verify(tenant.id, chain);
    if (!verdict.valid) throw new AppError('policy', 'the manufacturer certificate chain is not trusted', verdict.reasons);
    const checked = checkManufacturerEnrolment(
      verdict.identity,
      { commonNames: attributeValues(csr.subject, OID.commonName), keySha256: csrKeySha256(csr) },
      { tenant: tenant.id, stationId, station, now: d.now() },
    );
    if (checked.notFound) throw new AppError('not-found', 'no such station', checked.violations.filter((v) => v.rule === Rule.registeredIdentity));
    if (checked.forbidden) throw new AppError('forbidden', 'the station was registered through another manufacturer certificate', checked.violations);
    if (checked.violations.length) throw new AppError('policy', 'the certificate request violates policy', checked.violations);
    // Fail-open: a revocation status left unknown goes with the request into the CA's audit entry.
    return { manufacturer: verdict.identity.manufacturer.name, revocation: verdict.revocation, ...(checked.register ? { register: checked.register } : {}) };
  }

  /** Counted by kind (issued or replayed); refusals are counted by the adapter, which also sees those refused before the core. */
  function issued(signed: Enrolled): Enrolled {
    d.metrics.issuances.inc({ kind: signed.certificateType, outcome: signed.replayed ? 'replayed' : 'issued' });
    return signed;
  }
}
export type Enrolment = ReturnType<typeof createEnrolment>;

/** The CSR key as what it is (A02.FR.02); a key the policy cannot read is refused by keyRules later, so any stand-in will do here. */
function csrKeySha256(csr: ParsedCsr): string {
  try {
    return keySha256(csr.spki);
  } catch {
    return '';
  }
}
