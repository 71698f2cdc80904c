import { createPathValidator } from '@evpki/pathval';
import { createLeafCache, verifyManufacturerChain, type ManufacturerIdentity, type PathValidator } from '@evpki/issuance';
import type { RuleViolation } from '@evpki/service';
import type { RaStore } from '@evpki/store';
import type { ManufacturerRevocation, RevocationStatus } from './manufacturer-revocation.js';

/** What the RA concludes of a station's manufacturer chain: the identity it proves, or why not. */
export type TrustVerdict =
  | { readonly valid: true; readonly identity: ManufacturerIdentity; readonly revocation: RevocationStatus; readonly notes: readonly RuleViolation[] }
  | { readonly valid: false; readonly manufacturer?: string; readonly reasons: readonly RuleViolation[] };

/** Validated paths and signatures kept by the validator (createPathValidator's cache). */
const VALIDATOR_CACHE = 4096;

/**
 * The RA's check of a manufacturer chain against the caller's tenant's manufacturers (issue 21),
 * for POST /v1/manufacturer-certificates/verify and for enrolment: RFC 5280 path validation
 * (@evpki/pathval, one cached validator per RA), the station's identity by the manufacturer's
 * mapping, then revocation as the manufacturer asks (manufacturer-revocation.ts), the CRLs being
 * checked by the same validator. Another tenant's manufacturers are never consulted.
 */
export function createManufacturerTrust(d: { readonly store: Pick<RaStore, 'listManufacturers'>; readonly revocation: ManufacturerRevocation; readonly now: () => Date; readonly validator?: PathValidator }) {
  const validator = d.validator ?? createPathValidator({ cacheSize: VALIDATOR_CACHE });
  const leaves = createLeafCache(VALIDATOR_CACHE);
  return {
    async verify(tenant: string, chainPem: string): Promise<TrustVerdict> {
      const manufacturers = await d.store.listManufacturers(tenant);
      const at = d.now();
      const first = await verifyManufacturerChain({ chainPem, manufacturers, at }, validator, leaves);
      if (!first.valid) return first;
      const m = first.identity.manufacturer;
      const rev = await d.revocation.check(m, first.identity.path);
      if (rev.refusals.length) return { valid: false, manufacturer: m.name, reasons: rev.refusals };
      if (!rev.crls.length) return { valid: true, identity: first.identity, revocation: rev.status, notes: rev.notes };
      // The same path again, now with the CRLs: the validator checks their signatures and entries.
      const checked = await verifyManufacturerChain({ chainPem, manufacturers: [m], at, crls: rev.crls }, validator, leaves);
      if (!checked.valid) return { ...checked, manufacturer: m.name };
      return { valid: true, identity: checked.identity, revocation: rev.status, notes: rev.notes };
    },
  };
}
export type ManufacturerTrust = ReturnType<typeof createManufacturerTrust>;

/** The verify endpoint's answer (openapi.yaml ManufacturerVerdict). */
export function verdictView(v: TrustVerdict) {
  if (!v.valid) return { valid: false, ...(v.manufacturer ? { manufacturer: v.manufacturer } : {}), reasons: v.reasons.map((r) => ({ rule: r.rule, message: r.message })) };
  const id = v.identity;
  return {
    valid: true,
    manufacturer: id.manufacturer.name,
    serialNumber: id.serialNumber,
    ...(id.model === undefined ? {} : { model: id.model }),
    certificateSha256: id.certificateSha256,
    revocation: v.revocation,
    reasons: v.notes.map((r) => ({ rule: r.rule, message: r.message })),
  };
}
