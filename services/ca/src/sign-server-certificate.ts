import { checkServerCsr, leafValidity, readCsr } from '@evpki/policy';
import { AppError, idempotencyRequestHash } from '@evpki/service';
import { keyKind } from '@evpki/x509';
import { issueAndRecord, replay, type SignDeps, type SignedCertificate } from './sign-certificate.js';

export interface ServerSignRequest {
  readonly tenant: string;
  readonly csr: string;
  /** Requested validity; undefined: the configured default. */
  readonly validityHours?: number;
  readonly idempotencyKey?: string;
}

/** Lifetime limits of CSMS server certificates (A00.FR.701: under 24 hours, renewed continually). */
export interface ServerValidity {
  readonly defaultSeconds: number;
  readonly minSeconds: number;
}

const DAY_SECONDS = 86_400;
const BACKDATE_SECONDS = 60;

/** The validity a request gets, or the violation that says why not (notBefore backdate included in the < 24 h). */
export function serverValiditySeconds(hours: number | undefined, limits: ServerValidity): number {
  const seconds = hours === undefined ? limits.defaultSeconds : Math.round(hours * 3600);
  if (seconds + BACKDATE_SECONDS >= DAY_SECONDS || seconds < limits.minSeconds)
    throw new AppError('policy', 'validityHours is out of range', [
      {
        rule: 'A00.FR.701',
        message: `a CSMS server certificate lives at least ${limits.minSeconds / 60} minutes and less than 24 hours (${BACKDATE_SECONDS} s of clock-skew backdating included)`,
      },
    ]);
  return seconds;
}

/** The CA's pipeline for CSMS server certificates: the same guarantees as for charge points. */
export async function signServerCertificate(req: ServerSignRequest, deps: SignDeps & { readonly serverValidity: ServerValidity }): Promise<SignedCertificate> {
  const { store, issuer } = deps;
  const validitySeconds = serverValiditySeconds(req.validityHours, deps.serverValidity);
  const parsed = readCsr(req.csr);
  if ('violation' in parsed) throw new AppError('policy', parsed.violation.message, [parsed.violation]);
  const requestHash = idempotencyRequestHash('', `CSMSServerCertificate/${validitySeconds}`, parsed.csr.der);
  if (req.idempotencyKey) {
    const earlier = await store.getIdempotency(req.tenant, req.idempotencyKey);
    if (earlier) return replay(earlier.requestHash, earlier.serial, requestHash, deps);
  }
  const tenant = await store.getTenant(req.tenant);
  if (!tenant || tenant.disabled) throw new AppError('forbidden', 'tenant is unknown or disabled');
  const result = await checkServerCsr(parsed.csr, {
    tenant,
    keyPolicy: deps.keyPolicy,
    isKeyBlocked: (h) => store.isKeyBlocked(h),
    wasKeyCertified: (h) => store.isKeyCertified(h),
  });
  if (!result.ok) {
    throw new AppError('policy', 'the server certificate request violates policy', result.violations);
  }
  const { key, subjectAttributes, names } = result.accepted;
  const now = deps.now();
  if (now < issuer.cert.notBefore) throw new AppError('unavailable', 'issuing CA is not valid yet', undefined, 60);
  const validity = leafValidity({ now, validitySeconds, issuerNotAfter: issuer.cert.notAfter, backdateSeconds: BACKDATE_SECONDS, minSeconds: validitySeconds });
  if ('error' in validity) throw new AppError('unavailable', validity.error, undefined, 300);
  return issueAndRecord(
    {
      tenant: req.tenant,
      stationId: '',
      kind: 'CSMSServerCertificate',
      subjectAttributes,
      key,
      extensions: issuer.serverExtensions(keyKind(key), key.common.publicKey, names),
      validity,
      requestHash,
      ...(req.idempotencyKey ? { idempotency: { key: req.idempotencyKey } } : {}),
    },
    deps,
  );
}
