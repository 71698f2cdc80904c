import { checkChargePointCsr, checkServerCsr, readCsr, type KeyPolicy, type Violation } from '@evpki/policy';
import { AppError } from '@evpki/service';
import type { StationRecord, Store, TenantRecord } from '@evpki/store';
import type { ParsedCsr } from '@evpki/x509';

/** The profile a CSR is checked against, with what it is checked with. */
export type RequestProfile =
  | { readonly kind: 'ChargingStationCertificate'; readonly tenant: TenantRecord; readonly station: StationRecord }
  | { readonly kind: 'CSMSServerCertificate'; readonly tenant: TenantRecord };

/** The CSR as read, and every rule it breaks (none: it may be signed). */
export interface RequestVerdict {
  readonly csr: ParsedCsr;
  readonly violations: readonly Violation[];
}

/**
 * The RA's early policy check of a certificate request (the CA re-runs it: it trusts no caller). A
 * CSR that cannot be read is refused here (A02.FR.03); otherwise the verdict lists the violations,
 * so that the caller can still recognise a retry of an issued request (issue 14.13).
 */
export async function checkRequest(profile: RequestProfile, csrPem: string, d: { readonly store: Store; readonly keyPolicy: KeyPolicy }): Promise<RequestVerdict> {
  const parsed = readCsr(csrPem);
  if ('violation' in parsed) throw new AppError('policy', parsed.violation.message, [parsed.violation]);
  const keys = { keyPolicy: d.keyPolicy, isKeyBlocked: (h: string) => d.store.isKeyBlocked(h), wasKeyCertified: (h: string) => d.store.isKeyCertified(h) };
  const result =
    profile.kind === 'ChargingStationCertificate'
      ? await checkChargePointCsr(parsed.csr, { station: profile.station, cpoName: profile.tenant.cpoName, ...keys })
      : await checkServerCsr(parsed.csr, { tenant: profile.tenant, ...keys });
  return { csr: parsed.csr, violations: result.ok ? [] : result.violations };
}
