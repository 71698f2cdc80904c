import { csmsServer, issue, SERVER_BACKDATE_SECONDS, type RateLimits } from '@evpki/issuance';
import { AppError } from '@evpki/service';
import { issueDeps, parseCsrOrThrow, type SignDeps, type SignedCertificate } from './sign-certificate.js';

export interface ServerSignRequest {
  readonly tenant: string;
  readonly csr: string;
  /** Requested validity; undefined: the configured default. */
  readonly validityHours?: number;
  readonly idempotencyKey?: string;
  /** The RA's certificate-request limits (the tenant's window), counted in the issuance write. */
  readonly rateLimits?: RateLimits;
}

/** Lifetime limits of CSMS server certificates (A00.FR.701: under 24 hours, renewed continually). */
export interface ServerValidity {
  readonly defaultSeconds: number;
  readonly minSeconds: number;
}

const DAY_SECONDS = 86_400;

/** The validity a request gets, or the violation that says why not (notBefore backdate included in the < 24 h). */
export function serverValiditySeconds(hours: number | undefined, limits: ServerValidity): number {
  const seconds = hours === undefined ? limits.defaultSeconds : Math.round(hours * 3600);
  if (seconds + SERVER_BACKDATE_SECONDS >= DAY_SECONDS || seconds < limits.minSeconds)
    throw new AppError('policy', 'validityHours is out of range', [
      {
        rule: 'A00.FR.701',
        message: `a CSMS server certificate lives at least ${limits.minSeconds / 60} minutes and less than 24 hours (${SERVER_BACKDATE_SECONDS} s of clock-skew backdating included)`,
      },
    ]);
  return seconds;
}

/** A CSMS server certificate through the one pipeline (csms-server profile); its lifetime is part of the request. */
export async function signServerCertificate(req: ServerSignRequest, deps: SignDeps & { readonly serverValidity: ServerValidity }): Promise<SignedCertificate> {
  const lifetimeSeconds = serverValiditySeconds(req.validityHours, deps.serverValidity);
  return issue(
    csmsServer,
    {
      tenant: req.tenant,
      stationId: '',
      csr: parseCsrOrThrow(req.csr),
      requestLabel: `${csmsServer.kind}/${lifetimeSeconds}`,
      lifetimeSeconds,
      ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
      ...(req.rateLimits ? { rateLimits: req.rateLimits } : {}),
    },
    issueDeps(deps),
  );
}
