import { Rule, type Violation } from './violations.js';

/**
 * The RFC 5280 5.3.1 reasons a tenant may revoke a charge point certificate with. The others do
 * not describe revoking a leaf, or would make revocation reversible, which an online check that
 * must take effect at once (A00.FR.702, A00.FR.704) does not allow.
 */
const ALLOWED = new Set(['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'privilegeWithdrawn']);

const REFUSED_WHY: Record<string, string> = {
  cACompromise: 'cACompromise is for CA certificates; a CA compromise is handled by rotating the issuer',
  aACompromise: 'aACompromise is for attribute authorities',
  certificateHold: 'certificateHold is not supported: revocation is final (A00.FR.704)',
  removeFromCRL: 'removeFromCRL is only used in delta CRLs',
};

export function checkRevocationReason(reason: string): Violation[] {
  if (ALLOWED.has(reason)) return [];
  return [{ rule: Rule.revocationReason, message: REFUSED_WHY[reason] ?? `${reason} is not a revocation reason; use one of ${[...ALLOWED].join(', ')}` }];
}
