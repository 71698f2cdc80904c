import type { IssuerRecord, IssuerRole, RotationRecord } from './records.js';

/** The hierarchy of charge point and CSMS server certificates; what callers mean when they name none. */
export const DEFAULT_HIERARCHY = 'csms';

/** A hierarchy's name (Hierarchy.name): lowercase letters, digits and '-', starting with a letter, at most 32. */
export const HIERARCHY_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export const ISSUER_ROLES: readonly IssuerRole[] = ['root', 'sub-ca-1', 'sub-ca-2', 'issuing'];

/** Throws (naming the rule) unless `name` is a hierarchy name. */
export function assertHierarchyName(name: string): void {
  if (!HIERARCHY_NAME.test(name))
    throw new Error(`Hierarchy.name: ${JSON.stringify(name)} is not a hierarchy name (lowercase letters, digits and '-', starting with a letter, at most 32)`);
}

/** The last tier of a hierarchy signs its leaves: `issuing` (root → issuing) or `sub-ca-2` (root → sub-ca-1 → sub-ca-2). */
export function signsLeaves(role: IssuerRole): boolean {
  return role === 'issuing' || role === 'sub-ca-2';
}

/**
 * Whether the store records a leaf of `hierarchy` (its profile's, IssuanceCoverage) under `issuer`:
 * the issuer is the active leaf-signing CA of that hierarchy (one per hierarchy: rotation activates
 * one and deactivates the other in one write).
 */
export function mayRecordLeafUnder(issuer: Pick<IssuerRecord, 'hierarchy' | 'role' | 'state'> | undefined, hierarchy: string): boolean {
  return issuer !== undefined && issuer.state === 'active' && signsLeaves(issuer.role) && issuer.hierarchy === hierarchy;
}

/** Throws (naming the rule) when an issuer record cannot be stored: a bad hierarchy name or role, a root that is not its own parent. */
export function assertIssuerRecord(r: IssuerRecord): void {
  assertHierarchyName(r.hierarchy);
  if (!ISSUER_ROLES.includes(r.role)) throw new Error(`Issuer.role: issuer ${r.id} has role ${JSON.stringify(r.role)}, not one of ${ISSUER_ROLES.join(', ')}`);
  if ((r.role === 'root') !== (r.parentId === r.id)) throw new Error(`Issuer.parent: issuer ${r.id} (${r.role}) ${r.role === 'root' ? 'must' : 'cannot'} be its own parent`);
}

/** Throws (naming the rule) when a rotation step would write an issuer of another hierarchy, or a record assertIssuerRecord refuses. */
export function assertRotationCommit(issuers: readonly IssuerRecord[], rotation: RotationRecord): void {
  assertHierarchyName(rotation.hierarchy);
  for (const i of issuers) {
    assertIssuerRecord(i);
    if (i.hierarchy !== rotation.hierarchy) throw new Error(`Rotation.hierarchy: issuer ${i.id} is of hierarchy ${i.hierarchy}, not of the rotated one (${rotation.hierarchy})`);
  }
}
