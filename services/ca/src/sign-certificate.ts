import { createHash } from 'node:crypto';
import { checkCertificateType, checkChargePointCsr, leafValidity, readCsr, FORBIDDEN_RULES, type KeyPolicy } from '@evpki/policy';
import { AppError, earlierIssuance, idempotencyRequestHash, isRetryOf } from '@evpki/service';
import type { CertificateRecord, CaStore } from '@evpki/store';
import { buildName, buildTbs, keyKind, nameToString, randomSerial, serialToHex, signTbs, toPem, type KeyInfo, type NameAttribute } from '@evpki/x509';
import { issuerChainPem, type LoadedIssuer } from './issuer.js';
import { IssuerNotActiveError } from './issuer-set.js';

/** What the CA issues to tenants (OCSP signers go to the responder only). */
export type IssuedKind = 'ChargingStationCertificate' | 'CSMSServerCertificate';

export interface SignRequest {
  readonly tenant: string;
  readonly stationId: string;
  readonly csr: string;
  readonly certificateType: string;
  readonly idempotencyKey?: string;
}

export interface SignedCertificate {
  readonly certificateChain: string;
  readonly certificateType: IssuedKind;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly sha256Fingerprint: string;
  /** True when the certificate of an earlier request (same Idempotency-Key, or same CSR: issue 14.13) is answered again. */
  readonly replayed: boolean;
}

export interface SignDeps {
  readonly store: CaStore;
  readonly issuer: LoadedIssuer;
  readonly keyPolicy: KeyPolicy;
  readonly leafValiditySeconds: number;
  readonly now: () => Date;
}

const SERIAL_ATTEMPTS = 3;

/**
 * The CA's signing pipeline. It trusts no caller: policy runs again on the CA's own reads of the
 * store; then build, sign once, and record certificate, indexes and idempotency record in one
 * atomic write before answering. A certificate that could not be recorded is never returned.
 */
export async function signChargePointCertificate(req: SignRequest, deps: SignDeps): Promise<SignedCertificate> {
  const { store, issuer } = deps;
  const typeViolations = checkCertificateType(req.certificateType);
  if (typeViolations.length) throw new AppError('policy', `${req.certificateType} is not supported yet`, typeViolations);
  const parsed = readCsr(req.csr);
  if ('violation' in parsed) throw new AppError('policy', parsed.violation.message, [parsed.violation]);
  const requestHash = idempotencyRequestHash(req.stationId, req.certificateType, parsed.csr.der);

  if (req.idempotencyKey) {
    const earlier = await store.getIdempotency(req.tenant, req.idempotencyKey);
    if (earlier) return replay(earlier.requestHash, earlier.serial, requestHash, deps);
  }

  const [tenant, station] = await Promise.all([store.getTenant(req.tenant), store.getStation(req.tenant, req.stationId)]);
  if (!tenant || tenant.disabled) throw new AppError('forbidden', 'tenant is unknown or disabled');
  const result = await checkChargePointCsr(parsed.csr, {
    station,
    cpoName: tenant.cpoName,
    keyPolicy: deps.keyPolicy,
    isKeyBlocked: (h) => store.isKeyBlocked(h),
    wasKeyCertified: (h) => store.isKeyCertified(h),
  });
  if (!result.ok) {
    // Issue 14.13: the key is certified, but by this very request, whose answer was lost: answer it again.
    const earlier = await earlierIssuance(store, result.violations, { ...req, csr: parsed.csr }, deps.now());
    if (earlier) return answerAgain(earlier, deps);
    const forbidden = result.violations.some((v) => FORBIDDEN_RULES.has(v.rule));
    throw new AppError(forbidden ? 'forbidden' : 'policy', 'the certificate request violates policy', result.violations);
  }
  const { key, subjectAttributes } = result.accepted;

  const now = deps.now();
  if (now < issuer.cert.notBefore) throw new AppError('unavailable', 'issuing CA is not valid yet', undefined, 60);
  const validity = leafValidity({ now, validitySeconds: deps.leafValiditySeconds, issuerNotAfter: issuer.cert.notAfter });
  if ('error' in validity) throw new AppError('unavailable', validity.error, undefined, 300);

  return issueAndRecord(
    {
      tenant: req.tenant,
      stationId: req.stationId,
      kind: 'ChargingStationCertificate',
      subjectAttributes,
      key,
      extensions: issuer.leafExtensions(keyKind(key), key.common.publicKey),
      validity,
      requestHash,
      ...(req.idempotencyKey ? { idempotency: { key: req.idempotencyKey } } : {}),
    },
    deps,
  );
}

export interface IssueParams {
  readonly tenant: string;
  readonly stationId: string;
  readonly kind: IssuedKind;
  readonly subjectAttributes: readonly NameAttribute[];
  readonly key: KeyInfo & { type: 'ec' | 'rsa' };
  readonly extensions: Buffer[];
  readonly validity: { readonly notBefore: Date; readonly notAfter: Date };
  /** idempotencyRequestHash of the request, recorded with the certificate (issue 14.13). */
  readonly requestHash: string;
  readonly idempotency?: { readonly key: string };
}

/**
 * Build, sign once, and record certificate, indexes and idempotency record in one atomic write
 * before answering. A certificate that could not be recorded is never returned.
 */
export async function issueAndRecord(p: IssueParams, deps: SignDeps): Promise<SignedCertificate> {
  const { store, issuer } = deps;
  const now = deps.now();
  // Re-encoded (UTF8String, PrintableString where the profile has it), never the CSR's string types (issue 14.10).
  const subject = buildName(p.subjectAttributes);
  const subjectText = nameToString({ der: subject, rdns: p.subjectAttributes.map((a) => [a]) });
  for (let attempt = 1; ; attempt++) {
    const serial = randomSerial();
    const der = signTbs(
      buildTbs(issuer.signer.algorithmDer, issuer.cert.subject.der, { serial, ...p.validity, subject, spki: p.key.common.spki, extensions: p.extensions }),
      issuer.signer,
    );
    const record: CertificateRecord = {
      serial: serialToHex(serial),
      issuerId: issuer.id,
      der,
      kind: p.kind,
      tenant: p.tenant,
      stationId: p.stationId,
      subject: subjectText,
      notBefore: p.validity.notBefore.toISOString(),
      notAfter: p.validity.notAfter.toISOString(),
      issuedAt: now.toISOString(),
      spkiSha256: p.key.common.spkiSha256,
      sha256Fingerprint: createHash('sha256').update(der).digest('hex'),
      requestHash: p.requestHash,
      status: 'good',
    };
    const idem = p.idempotency;
    const outcome = await store.recordIssuance(record, idem ? { tenant: p.tenant, key: idem.key, requestHash: p.requestHash } : undefined);
    if (outcome.ok) return response(record, issuer.chainPem, false);
    // The certificate just signed was not recorded, so it is dropped and never leaves the CA.
    if (outcome.conflict === 'idempotency') return replay(outcome.existing.requestHash, outcome.existing.serial, p.requestHash, deps);
    if (outcome.conflict === 'issuer') throw new IssuerNotActiveError(`issuer ${issuer.id} is no longer the active issuing CA`);
    if (outcome.conflict === 'key') {
      // The same request, sent again while the first was being signed (issue 14.13): one certificate, answered to both.
      const holder = await store.getCertificateByKey(record.spkiSha256);
      if (holder && isRetryOf(holder, p, now)) return answerAgain(holder, deps);
      throw new AppError('policy', 'the certificate request violates policy', [
        { rule: 'A02.FR.02', message: 'this key was already certified; generate a new key pair for every update' },
      ]);
    }
    if (attempt >= SERIAL_ATTEMPTS) throw new AppError('internal', 'could not allocate a unique serial number');
  }
}

export async function replay(earlierHash: string, serial: string, requestHash: string, deps: SignDeps): Promise<SignedCertificate> {
  if (earlierHash !== requestHash) throw new AppError('conflict', 'Idempotency-Key was already used for a different request');
  const record = await deps.store.getCertificate(serial);
  if (!record) throw new AppError('internal', 'idempotency record points to a missing certificate');
  return answerAgain(record, deps);
}

/** An earlier request's certificate, answered again with its issuer's chain (`replayed`). */
async function answerAgain(record: CertificateRecord, deps: SignDeps): Promise<SignedCertificate> {
  const issuerChain = record.issuerId === deps.issuer.id ? deps.issuer.chainPem : await issuerChainPem(deps.store, record.issuerId);
  return response(record, issuerChain, true);
}

function response(record: CertificateRecord, chainPem: string, replayed: boolean): SignedCertificate {
  return {
    certificateChain: toPem('CERTIFICATE', record.der) + chainPem,
    certificateType: record.kind as IssuedKind,
    serialNumber: record.serial,
    notBefore: record.notBefore,
    notAfter: record.notAfter,
    sha256Fingerprint: record.sha256Fingerprint,
    replayed,
  };
}
