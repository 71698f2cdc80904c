/**
 * @evpki/pathval: RFC 5280 section 6 certification path validation for client certificate chains
 * (a station's manufacturer certificate as a CSMS saw it in a TLS handshake) against a tenant's
 * trust anchors. Every refusal names the rule it applies (RFC5280-6.1.3(a)(1), ...).
 */

/** Why a path (or every candidate path) was refused. */
export interface Refusal {
  /** e.g. 'RFC5280-6.1.3(a)(1)'. */
  readonly rule: string;
  readonly message: string;
  /** Position in the candidate path: 0 = leaf. */
  readonly depth?: number;
}

export interface PathInput {
  /** DER. */
  readonly leaf: Uint8Array;
  /** DER, untrusted, any order, may hold junk or unrelated certificates. */
  readonly intermediates: readonly Uint8Array[];
  /** DER; self-signed or not. */
  readonly trustAnchors: readonly Uint8Array[];
  readonly at: Date;
  /** DER CRLs: when a usable CRL of an issuer is given, a certificate it revoked is refused. */
  readonly crls?: readonly Uint8Array[];
  /** Most intermediates between the leaf and the anchor (default 8). */
  readonly maxDepth?: number;
}

export type PathVerdict =
  | { readonly ok: true; readonly path: readonly Uint8Array[] /* leaf ... anchor */ }
  | { readonly ok: false; readonly reasons: readonly Refusal[] };

export async function validatePath(input: PathInput): Promise<PathVerdict> {
  void input;
  throw new Error('not implemented');
}

/** Same, with a bounded cache of already-verified signatures/intermediates keyed by DER hashes, for ≥ 2,000 verifications/s of a 3-certificate chain. */
export function createPathValidator(opts?: { cacheSize?: number }): { validate(input: PathInput): Promise<PathVerdict> } {
  void opts;
  return { validate: validatePath };
}
