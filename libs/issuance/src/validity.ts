import type { ValidityRule } from './profile.js';

/** The one clamp (issue 15): nothing we sign (certificate, CRL nextUpdate) outlives its issuer. */
export function notPastIssuer(wanted: Date, issuerNotAfter: Date | undefined): Date {
  return issuerNotAfter && wanted > issuerNotAfter ? issuerNotAfter : wanted;
}

export interface ValidityInput {
  readonly now: Date;
  readonly lifetimeSeconds: number;
  /** undefined: a self-signed root, which has no issuer to outlive. */
  readonly issuerNotAfter: Date | undefined;
  /** Another limit (a cross-certificate never outlives the certificate it crosses). */
  readonly notAfterCap?: Date;
}

/**
 * A certificate's validity under `rule` (A00.FR.507 leaves, RFC 5280 4.1.2.5): notBefore backdated
 * for clock skew (whole seconds), notAfter the lifetime but never past the issuer, refused when
 * the issuer leaves less than the rule's minimum.
 */
export function validityWindow(rule: ValidityRule, v: ValidityInput): { notBefore: Date; notAfter: Date } | { error: string } {
  const now = Math.floor(v.now.getTime() / 1000) * 1000;
  const notBefore = new Date(now - rule.backdateSeconds * 1000);
  const notAfter = notPastIssuer(notPastIssuer(new Date(now + v.lifetimeSeconds * 1000), v.issuerNotAfter), v.notAfterCap);
  const min = typeof rule.minSeconds === 'function' ? rule.minSeconds(v.lifetimeSeconds) : rule.minSeconds;
  if (min !== undefined && notAfter.getTime() - now < min * 1000) return { error: 'the issuing CA expires before the certificate would; rotate the issuer' };
  return { notBefore, notAfter };
}
