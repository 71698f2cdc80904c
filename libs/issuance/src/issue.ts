import { createHash, randomUUID, type KeyObject } from 'node:crypto';
import type { KeyPolicy } from '@evpki/policy';
import { AppError } from '@evpki/service';
import type { AuditEvent, CertificateRecord, IssuanceCoverage, RateCount, StationRecord, Store } from '@evpki/store';
import { toPem } from '@evpki/x509';
import { certify, ValidityError } from './certify.js';
import type { Profile, SigningIssuer } from './profile.js';
import { checkRoom, csrQuotas, rateLimited, type Quota, type RateLimits } from './rate-limits.js';
import { isRetryOf, requestHash } from './retry.js';
import { verifyRequest, type EnrolmentRequest } from './verify-request.js';

/** Thrown when the store refused a leaf because its issuer is no longer the active one (a rotation). */
export class IssuerNotActiveError extends Error {
  override readonly name = 'IssuerNotActiveError';
}

export interface IssueRequest extends EnrolmentRequest {
  /** The lifetime asked or configured (clamped to the issuer by the profile's validity rule). */
  readonly lifetimeSeconds: number;
  readonly idempotencyKey?: string;
  /**
   * A station profile's request may bring the station it registers (zero-touch onboarding with a
   * manufacturer certificate, issue 21): when the station is not registered, the request is checked
   * against this record and the record is written with the certificate, in the same store write.
   */
  readonly register?: StationRecord;
  /**
   * The caller's certificate-request limits (the RA's RA_RATE_*), with the tenant's own over them:
   * a profile bound to a tenant counts the request in the tenant's window and, for a station, the
   * station's (csrQuotas). Without: not counted.
   */
  readonly rateLimits?: RateLimits;
}

/** The store methods the pipeline uses (the CA's view holds them). */
export type IssuanceStore = Pick<
  Store,
  'recordIssuance' | 'getIdempotency' | 'getCertificate' | 'getCertificateByKey' | 'getTenant' | 'getStation' | 'isKeyBlocked' | 'isKeyCertified' | 'peekRate'
>;

export interface IssueDeps {
  readonly store: IssuanceStore;
  readonly issuer: SigningIssuer;
  readonly keyPolicy: KeyPolicy;
  readonly now: () => Date;
  /** Keys certified for something else (CAs, service certificates), for profiles that check it. */
  readonly reservedKeys?: () => Promise<readonly KeyObject[]>;
  /** A quota of the profile's own (delegated OCSP signers per issuer), counted like rateLimits. */
  readonly quota?: Quota;
  /** The chain (PEM, root left out) of another issuer, for a certificate answered again after a rotation. */
  readonly chainOf: (issuerId: string) => Promise<string>;
  /**
   * The audit entries of a new certificate, recorded in the same store write as the certificate
   * (recordIssuance's `audit`): a certificate is never in the store without them. A certificate
   * answered again (`replayed`) writes nothing here; its caller audits the replay.
   */
  readonly auditOf?: (issued: IssuedCertificate) => readonly AuditEvent[];
}

export interface IssuedCertificate {
  /** The certificate, then its issuer chain up to, not including, the root (Plug&Charge 2.3). */
  readonly certificateChain: string;
  /** The profile's kind (for stations, the OCPP certificate type asked for). */
  readonly certificateType: string;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly sha256Fingerprint: string;
  /** True when the certificate of an earlier request (same Idempotency-Key, or same CSR: issue 14.13) is answered again. */
  readonly replayed: boolean;
}

const SERIAL_ATTEMPTS = 3;

/** How the store indexes a certificate of this profile (the store never decides by kind). */
export function coverageOf(profile: Profile): IssuanceCoverage {
  return { underActiveIssuer: profile.requiresActiveIssuer, hierarchy: profile.signedBy.hierarchy, presignOcsp: profile.status.ocspPresigned, stationIndex: profile.subject === 'station' };
}

/**
 * The issuance pipeline for certificates the store records (docs/architecture.md "Issuance"): an
 * Idempotency-Key replay; the CA's own reads of tenant and station; verifyRequest (the same check
 * the RA ran); the rate limits, read (a request over one is refused before it is signed); certify
 * (validity, subject, extensions, one signature); and certificate, indexes, idempotency record,
 * audit entries and rate counts in one atomic write before anything is answered (the limits are
 * checked again in it).
 * A certificate that could not be recorded is dropped and never leaves the CA.
 */
export async function issue(profile: Profile, req: IssueRequest, deps: IssueDeps): Promise<IssuedCertificate> {
  const { store, issuer } = deps;
  const hash = requestHash(req.stationId, req.requestLabel, req.csr.der);
  if (req.idempotencyKey) {
    const earlier = await store.getIdempotency(req.tenant, req.idempotencyKey);
    if (earlier) return replay(earlier.requestHash, earlier.serial, hash, deps);
  }
  const bound = profile.subject === 'station' || profile.subject === 'tenant';
  const [tenant, registered] = bound
    ? await Promise.all([store.getTenant(req.tenant), profile.subject === 'station' ? store.getStation(req.tenant, req.stationId) : undefined])
    : [undefined, undefined];
  // Zero-touch onboarding: a station not registered yet is checked as it will be registered.
  const register = profile.subject === 'station' && !registered && req.register ? req.register : undefined;
  if (register && (register.tenant !== req.tenant || register.stationId !== req.stationId)) throw new AppError('internal', 'the station to register is not the one enrolling');
  const station = registered ?? register;
  if (bound && (!tenant || tenant.disabled)) throw new AppError('forbidden', 'tenant is unknown or disabled');
  const verified = await verifyRequest(profile, req, {
    reads: store,
    keyPolicy: deps.keyPolicy,
    now: deps.now(),
    ...(tenant ? { tenant } : {}),
    ...(station ? { station } : {}),
    ...(deps.reservedKeys ? { reservedKeys: deps.reservedKeys } : {}),
  });
  if (verified.outcome === 'answered-before') return answerAgain(verified.certificate, deps);

  const now = deps.now();
  if (issuer.notBefore && now < issuer.notBefore) throw new AppError('unavailable', 'issuing CA is not valid yet', undefined, 60);
  // Read first, so that a flood over a limit costs no signatures; counted in the issuance write.
  const quotas = [...(deps.quota ? [deps.quota] : []), ...(tenant && req.rateLimits ? csrQuotas(tenant, profile.subject === 'station' ? req.stationId : undefined, req.rateLimits) : [])];
  const rate: RateCount | undefined = quotas.length ? { buckets: quotas.map((q) => q.bucket), now: now.getTime(), eventId: randomUUID() } : undefined;
  await checkRoom(store, quotas, now.getTime());
  for (let attempt = 1; ; attempt++) {
    const certified = await certify(profile, issuer, issuer.signer, { subject: { publicKey: verified.key, csr: req.csr }, lifetimeSeconds: req.lifetimeSeconds, now }).catch((e: unknown) => {
      throw e instanceof ValidityError ? new AppError('unavailable', e.message, undefined, 300) : e;
    });
    const record: CertificateRecord = {
      serial: certified.serial,
      issuerId: issuer.id,
      der: certified.der,
      kind: profile.kind,
      tenant: req.tenant,
      stationId: req.stationId,
      subject: certified.subject,
      notBefore: certified.notBefore.toISOString(),
      notAfter: certified.notAfter.toISOString(),
      issuedAt: now.toISOString(),
      spkiSha256: verified.key.common.spkiSha256,
      sha256Fingerprint: createHash('sha256').update(certified.der).digest('hex'),
      requestHash: hash,
      status: 'good',
    };
    const idem = req.idempotencyKey ? { tenant: req.tenant, key: req.idempotencyKey, requestHash: hash } : undefined;
    const issued = answer(record, issuer.chainPem, false);
    const audit = deps.auditOf ? { events: deps.auditOf(issued), at: deps.now().toISOString() } : undefined;
    const outcome = await store.recordIssuance(record, coverageOf(profile), idem, { ...(audit ? { audit } : {}), ...(register ? { register } : {}), ...(rate ? { rate } : {}) });
    if (outcome.ok) return issued;
    // The certificate just signed was not recorded, so it is dropped and never leaves the CA.
    if (outcome.conflict === 'idempotency') return await replay(outcome.existing.requestHash, outcome.existing.serial, hash, deps);
    if (outcome.conflict === 'rate') throw rateLimited(quotas, outcome);
    if (outcome.conflict === 'issuer') throw new IssuerNotActiveError(`issuer ${issuer.id} is no longer the active issuing CA`);
    if (outcome.conflict === 'station') throw new AppError('conflict', 'the station was registered while this request was signed; send it again');
    if (outcome.conflict === 'key') {
      // The same request, sent again while the first was being signed (issue 14.13): one certificate, answered to both.
      const holder = await store.getCertificateByKey(record.spkiSha256);
      if (profile.replaysIdenticalRequest && holder && isRetryOf(holder, { ...record, requestHash: hash }, now)) return await answerAgain(holder, deps);
      throw new AppError('policy', `the ${profile.requestName} request violates policy`, [
        { rule: 'A02.FR.02', message: 'this key was already certified; generate a new key pair for every update' },
      ]);
    }
    if (attempt >= SERIAL_ATTEMPTS) throw new AppError('internal', 'could not allocate a unique serial number');
  }
}

/** An Idempotency-Key seen before: the same request gets its certificate again, another is a conflict. */
async function replay(earlierHash: string, serial: string, hash: string, deps: IssueDeps): Promise<IssuedCertificate> {
  if (earlierHash !== hash) throw new AppError('conflict', 'Idempotency-Key was already used for a different request');
  const record = await deps.store.getCertificate(serial);
  if (!record) throw new AppError('internal', 'idempotency record points to a missing certificate');
  return answerAgain(record, deps);
}

/** An earlier request's certificate, answered again with its issuer's chain (`replayed`). */
async function answerAgain(record: CertificateRecord, deps: IssueDeps): Promise<IssuedCertificate> {
  const chain = record.issuerId === deps.issuer.id ? deps.issuer.chainPem : await deps.chainOf(record.issuerId);
  return answer(record, chain, true);
}

function answer(record: CertificateRecord, chainPem: string, replayed: boolean): IssuedCertificate {
  return {
    certificateChain: toPem('CERTIFICATE', record.der) + chainPem,
    certificateType: record.kind,
    serialNumber: record.serial,
    notBefore: record.notBefore,
    notAfter: record.notAfter,
    sha256Fingerprint: record.sha256Fingerprint,
    replayed,
  };
}
