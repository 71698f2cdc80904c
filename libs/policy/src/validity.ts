/** Leaf validity: configurable, never past the issuer's own notAfter, notBefore backdated for clock skew. */
export interface ValidityInput {
  readonly now: Date;
  readonly validitySeconds: number;
  readonly issuerNotAfter: Date;
  readonly backdateSeconds?: number;
  /** Refuse when the issuer leaves less than this (default an hour). */
  readonly minSeconds?: number;
}

export function leafValidity(v: ValidityInput): { notBefore: Date; notAfter: Date } | { error: string } {
  const now = Math.floor(v.now.getTime() / 1000) * 1000;
  const notBefore = new Date(now - (v.backdateSeconds ?? 60) * 1000);
  const wanted = new Date(now + v.validitySeconds * 1000);
  const notAfter = wanted > v.issuerNotAfter ? v.issuerNotAfter : wanted;
  if (notAfter.getTime() - now < (v.minSeconds ?? 3600) * 1000) return { error: 'the issuing CA expires before the certificate would; rotate the issuer' };
  return { notBefore, notAfter };
}
