/**
 * Certificate policy processing (6.1.3(d)-(f), 6.1.4(a),(b),(h)-(j), 6.1.5(a),(b),(g)) with the
 * inputs user-initial-policy-set = {anyPolicy}, initial-explicit-policy, initial-policy-mapping-inhibit
 * and initial-any-policy-inhibit all false. The valid_policy_tree is kept as the set of its leaves'
 * valid policies ('any' for an anyPolicy leaf); qualifiers are not processed.
 */
import { ANY_POLICY, type PathCert } from './certificate.js';
import type { Refusal } from './refusal.js';

export class PolicyState {
  /** null: the tree is empty (NULL). */
  private valid: Set<string> | 'any' | null = 'any';
  private explicitPolicy: number;
  private policyMapping: number;
  private inhibitAny: number;

  /** `n`: number of certificates in the path, trust anchor not counted. */
  constructor(n: number) {
    this.explicitPolicy = n + 1;
    this.policyMapping = n + 1;
    this.inhibitAny = n + 1;
  }

  /** 6.1.3(d)-(f) for the certificate at `depth` (0 = leaf). */
  process(cert: PathCert, depth: number, isLeaf: boolean): Refusal[] {
    const out: Refusal[] = [];
    const p = cert.policies;
    if (this.valid !== null && p) {
      const anyAllowed = p.includes(ANY_POLICY) && (this.inhibitAny > 0 || (!isLeaf && cert.selfIssued));
      const explicit = p.filter((x) => x !== ANY_POLICY);
      if (this.valid === 'any') this.valid = anyAllowed ? 'any' : new Set(explicit);
      else if (!anyAllowed) this.valid = new Set(explicit.filter((x) => (this.valid as Set<string>).has(x)));
      if (this.valid !== 'any' && this.valid.size === 0) this.valid = null;
    } else if (!p) this.valid = null; // 6.1.3(e)
    if (this.explicitPolicy <= 0 && this.valid === null)
      out.push({ rule: 'RFC5280-6.1.3(f)', message: 'an explicit policy is required and no valid policy remains', depth });
    return out;
  }

  /** 6.1.4(a),(b),(h)-(j) for an intermediate CA certificate. */
  prepare(cert: PathCert, depth: number): Refusal[] {
    const out: Refusal[] = [];
    for (const [from, to] of cert.policyMappings ?? []) {
      if (from === ANY_POLICY || to === ANY_POLICY) out.push({ rule: 'RFC5280-6.1.4(a)', message: 'policyMappings maps to or from anyPolicy', depth });
      else if (this.valid instanceof Set && this.valid.has(from)) {
        this.valid.delete(from);
        if (this.policyMapping > 0) this.valid.add(to);
      }
    }
    if (this.valid instanceof Set && this.valid.size === 0) this.valid = null;
    if (!cert.selfIssued) {
      if (this.explicitPolicy > 0) this.explicitPolicy--;
      if (this.policyMapping > 0) this.policyMapping--;
      if (this.inhibitAny > 0) this.inhibitAny--;
    }
    if (cert.requireExplicitPolicy !== undefined) this.explicitPolicy = Math.min(this.explicitPolicy, cert.requireExplicitPolicy);
    if (cert.inhibitPolicyMapping !== undefined) this.policyMapping = Math.min(this.policyMapping, cert.inhibitPolicyMapping);
    if (cert.inhibitAnyPolicy !== undefined) this.inhibitAny = Math.min(this.inhibitAny, cert.inhibitAnyPolicy);
    return out;
  }

  /** 6.1.5(a),(b),(g) for the leaf. */
  wrapUp(leaf: PathCert): Refusal[] {
    if (this.explicitPolicy > 0) this.explicitPolicy--;
    if (leaf.requireExplicitPolicy === 0) this.explicitPolicy = 0;
    if (this.explicitPolicy <= 0 && this.valid === null)
      return [{ rule: 'RFC5280-6.1.5(g)', message: 'an explicit policy is required and the valid policy tree is empty', depth: 0 }];
    return [];
  }
}
