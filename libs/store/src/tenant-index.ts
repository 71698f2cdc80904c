import { describeConflict, tenantClaims, type TenantClaim } from '@evpki/policy';
import { TenantConflictError } from './errors.js';
import type { TenantRecord } from './records.js';

/**
 * The tenant claims index both backends keep (see TenantRecord): one entry per (claim key, tenant),
 * in key order, so that a claim's conflicts are a few lookups: its ancestors exactly, and itself,
 * with everything below it for domains and ranges. Several tenants may hold one key only when
 * they did before the index existed (listed by `pki tenants list`); a write never adds one.
 */

/** What one write of a tenant does to the index. */
export interface ClaimChange {
  /** Claims the tenant did not hold before: each is checked against the other tenants'. */
  readonly added: readonly TenantClaim[];
  readonly removed: readonly string[];
  /** Every key of the new record (written again: the index may predate a claim). */
  readonly keys: readonly string[];
}

export function claimChange(before: TenantRecord | undefined, after: TenantRecord): ClaimChange {
  const old = new Set(before ? tenantClaims(before).map((c) => c.key) : []);
  const next = tenantClaims(after);
  const keys = new Set(next.map((c) => c.key));
  return { added: next.filter((c) => !old.has(c.key)), removed: [...old].filter((k) => !keys.has(k)), keys: [...keys] };
}

/** The index lookups of one claim: a key held exactly, or (below) any key starting with it. */
export function claimLookups(c: TenantClaim): { key: string; below: boolean }[] {
  return [...c.ancestors.map((key) => ({ key, below: false })), { key: c.key, below: c.below }];
}

export function conflictError(claim: TenantClaim, otherKey: string, otherTenant: string): TenantConflictError {
  return new TenantConflictError(claim.rule, otherTenant, describeConflict(claim, otherKey, otherTenant));
}
