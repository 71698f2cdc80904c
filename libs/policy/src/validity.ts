/** Leaf validity: configurable, never past the issuer's own notAfter, notBefore backdated for clock skew. */
export interface ValidityInput {
  readonly now: Date;
  readonly validitySeconds: number;
  readonly issuerNotAfter: Date;
  readonly backdateSeconds?: number;
}

export function leafValidity(v: ValidityInput): { notBefore: Date; notAfter: Date } | { error: string } {
  const now = Math.floor(v.now.getTime() / 1000) * 1000;
  const notBefore = new Date(now - (v.backdateSeconds ?? 60) * 1000);
  const wanted = new Date(now + v.validitySeconds * 1000);
  const notAfter = wanted > v.issuerNotAfter ? v.issuerNotAfter : wanted;
  if (notAfter.getTime() - now < 3600_000) return { error: 'issuing CA expires within the hour; rotate the issuer' };
  return { notBefore, notAfter };
}
