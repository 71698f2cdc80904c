import type { KeyObject } from 'node:crypto';
import { FORBIDDEN_RULES, runCsrChecks, type KeyPolicy } from '@evpki/policy';
import { AppError } from '@evpki/service';
import type { CertificateRecord, StationRecord, Store, TenantRecord } from '@evpki/store';
import { keySha256, type KeyInfo, type ParsedCsr } from '@evpki/x509';
import type { Profile } from './profile.js';
import { isRetryOf, requestHash } from './retry.js';

/** An enrolment request as the RA and the CA both see it (after parsing the CSR). */
export interface EnrolmentRequest {
  readonly tenant: string;
  /** '' unless the profile's subject is a station. */
  readonly stationId: string;
  readonly csr: ParsedCsr;
  /** What was asked, bound into the request hash (the OCPP certificate type; a server certificate's lifetime). */
  readonly requestLabel: string;
}

/** The reads verifyRequest makes: each service passes its own store view. */
export type VerifyReads = Pick<Store, 'isKeyBlocked' | 'isKeyCertified' | 'getCertificateByKey'>;

export interface VerifyContext {
  readonly reads: VerifyReads;
  readonly keyPolicy: KeyPolicy;
  readonly now: Date;
  /** The caller's tenant record (undefined for service profiles). */
  readonly tenant?: TenantRecord;
  /** The station as registered for the tenant (station profiles; undefined when it is not). */
  readonly station?: StationRecord;
  readonly reservedKeys?: () => Promise<readonly KeyObject[]>;
  /** The RA's early check: the CA verifies the CSR's signature (CsrCheckContext.signatureVerifiedByCa). */
  readonly signatureVerifiedByCa?: boolean;
}

export type Verified =
  /** Passed: certify this key. */
  | { readonly outcome: 'accepted'; readonly key: KeyInfo & { type: 'ec' | 'rsa' }; readonly requestHash: string }
  /** Refused only because this very request was answered before (issue 14.13): answer that again. */
  | { readonly outcome: 'answered-before'; readonly certificate: CertificateRecord; readonly requestHash: string };

/**
 * The one request check, run by the RA (to refuse early, from its reads) and again by the CA
 * (which trusts no caller): the profile's CSR rules, all violations collected. A refusal throws
 * an AppError naming the rules: 403 when a rule means "may not" (PnC-4.2), else 422.
 */
export async function verifyRequest(profile: Profile, req: EnrolmentRequest, ctx: VerifyContext): Promise<Verified> {
  const hash = requestHash(req.stationId, req.requestLabel, req.csr.der);
  const checked = await runCsrChecks(req.csr, profile.checks, {
    keyPolicy: ctx.keyPolicy,
    isKeyBlocked: (h) => ctx.reads.isKeyBlocked(h),
    wasKeyCertified: (h) => ctx.reads.isKeyCertified(h),
    ...(ctx.tenant ? { tenant: ctx.tenant } : {}),
    station: ctx.station,
    ...(ctx.reservedKeys ? { reservedKeys: ctx.reservedKeys } : {}),
    ...(ctx.signatureVerifiedByCa ? { signatureVerifiedByCa: true } : {}),
  });
  if (checked.ok) return { outcome: 'accepted', key: checked.key, requestHash: hash };
  // Issue 14.13: refused only because the key is certified, by this very request whose answer was lost.
  if (profile.replaysIdenticalRequest && checked.violations.every((v) => v.rule === 'A02.FR.02')) {
    const holder = await ctx.reads.getCertificateByKey(keySha256(req.csr.spki));
    if (holder && isRetryOf(holder, { kind: profile.kind, tenant: req.tenant, stationId: req.stationId, requestHash: hash }, ctx.now))
      return { outcome: 'answered-before', certificate: holder, requestHash: hash };
  }
  const forbidden = checked.violations.some((v) => FORBIDDEN_RULES.has(v.rule));
  throw new AppError(forbidden ? 'forbidden' : 'policy', `the ${profile.requestName} request violates policy`, checked.violations);
}
