/** RFC 5280 CRLReason codes (5.3.1), shared by CRL entries and OCSP RevokedInfo. 7 is unused. */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type RevocationReasonName = keyof typeof REVOCATION_REASONS;

export const isRevocationReason = (s: string): s is RevocationReasonName => Object.hasOwn(REVOCATION_REASONS, s);
