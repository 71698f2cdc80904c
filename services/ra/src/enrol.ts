import type { CaClient, CaSignResponse } from '@evpki/ca-client';
import { FORBIDDEN_RULES, Rule, checkCertificateType, type KeyPolicy } from '@evpki/policy';
import { AppError, earlierIssuance, type Metrics } from '@evpki/service';
import type { Store, TenantRecord } from '@evpki/store';
import { consumeCsrQuota, type RateLimits } from './rate-limits.js';
import { checkRequest } from './request-policy.js';

/** Who asks, as the adapter authenticated them (REST: the bearer token and its tenant; EST: its own). */
export interface Principal {
  /** The caller's tenant: known and enabled (the adapter refused the request otherwise). */
  readonly tenant: TenantRecord;
  /** Who acts, as the audit log names them. */
  readonly actor: string;
}

/** A charge point's CSR (OCPP SignCertificate), already read from the adapter's request. */
export interface StationEnrolment {
  readonly stationId: string;
  /** PEM PKCS#10. */
  readonly csr: string;
  readonly certificateType: string;
  /** A retry with the same key is answered with the same certificate (the CA replays it). */
  readonly idempotencyKey?: string;
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
  readonly store: Store;
  readonly ca: Pick<CaClient, 'sign' | 'signServer'>;
  readonly keyPolicy: KeyPolicy;
  readonly now: () => Date;
  readonly rateLimits: RateLimits;
  readonly metrics: Metrics;
}

/** A failed signing takes back its rate-limit count (best effort: the store may be what failed). */
const refundAndThrow =
  (release: (() => Promise<void>) | undefined) =>
  async (err: unknown): Promise<never> => {
    await release?.().catch(() => undefined);
    throw err;
  };

/**
 * The RA's enrolment core, the same for every door (REST now, EST simpleenroll later): for an
 * authenticated principal and a request already read, load the station, check the policy early,
 * count the rate limits, have the CA sign (it re-checks everything), count the issuance, and
 * return the certificate. A refusal rejects with an AppError whose kind says what happened
 * (policy 422, forbidden 403, not-found 404, rate-limited 429, unavailable 503, or the CA's own,
 * relayed) and whose violations name the rules; the adapter maps it to its protocol.
 */
export function createEnrolment(d: EnrolmentDeps) {
  return {
    async station(p: Principal, r: StationEnrolment): Promise<Enrolled> {
      const { tenant } = p;
      const typeViolations = checkCertificateType(r.certificateType);
      if (typeViolations.length) throw new AppError('policy', `${r.certificateType} is not supported yet`, typeViolations);
      // A retry under a known Idempotency-Key goes straight to the CA, which replays the recorded
      // certificate (or refuses a different request); re-running policy would call the key reused.
      const earlier = r.idempotencyKey ? await d.store.getIdempotency(tenant.id, r.idempotencyKey) : undefined;
      let release: (() => Promise<void>) | undefined;
      if (!earlier) {
        // Another tenant's station answers like one that does not exist, so identifiers cannot be probed.
        const station = await d.store.getStation(tenant.id, r.stationId);
        if (!station) throw new AppError('not-found', 'no such station', [{ rule: Rule.registeredIdentity, message: 'station is not registered for this tenant' }]);
        const verdict = await checkRequest({ kind: 'ChargingStationCertificate', tenant, station }, r.csr, d);
        const refused = verdict.violations.length > 0;
        // Issue 14.13: a retry of a request whose certificate was issued (its answer lost) goes to the CA like a known Idempotency-Key.
        const retry = refused && (await earlierIssuance(d.store, verdict.violations, { tenant: tenant.id, stationId: r.stationId, certificateType: r.certificateType, csr: verdict.csr }, d.now()));
        if (refused && !retry) {
          const forbidden = verdict.violations.some((v) => FORBIDDEN_RULES.has(v.rule));
          throw new AppError(forbidden ? 'forbidden' : 'policy', 'the certificate request violates policy', verdict.violations);
        }
        if (!retry) release = await consumeCsrQuota(d.store, tenant, r.stationId, d.rateLimits, d.now());
      }
      const signed = await d.ca
        .sign({
          tenant: tenant.id,
          stationId: r.stationId,
          csr: r.csr,
          certificateType: r.certificateType,
          actor: p.actor,
          ...(r.idempotencyKey ? { idempotencyKey: r.idempotencyKey } : {}),
        })
        .catch(refundAndThrow(release));
      return issued(signed);
    },

    /** CSMS server certificates, revoked by fast expiration (A00.FR.701). */
    async server(p: Principal, r: ServerEnrolment): Promise<Enrolled> {
      const { tenant } = p;
      const earlier = r.idempotencyKey ? await d.store.getIdempotency(tenant.id, r.idempotencyKey) : undefined;
      let release: (() => Promise<void>) | undefined;
      if (!earlier) {
        const verdict = await checkRequest({ kind: 'CSMSServerCertificate', tenant }, r.csr, d);
        if (verdict.violations.length) throw new AppError('policy', 'the server certificate request violates policy', verdict.violations);
        release = await consumeCsrQuota(d.store, tenant, undefined, d.rateLimits, d.now());
      }
      const signed = await d.ca
        .signServer({
          tenant: tenant.id,
          actor: p.actor,
          csr: r.csr,
          ...(r.validityHours === undefined ? {} : { validityHours: r.validityHours }),
          ...(r.idempotencyKey ? { idempotencyKey: r.idempotencyKey } : {}),
        })
        .catch(refundAndThrow(release));
      return issued(signed);
    },
  };

  /** Counted by kind (issued or replayed); refusals are counted by the adapter, which also sees those refused before the core. */
  function issued(signed: Enrolled): Enrolled {
    d.metrics.issuances.inc({ kind: signed.certificateType, outcome: signed.replayed ? 'replayed' : 'issued' });
    return signed;
  }
}
export type Enrolment = ReturnType<typeof createEnrolment>;
