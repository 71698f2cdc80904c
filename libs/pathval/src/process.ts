/**
 * RFC 5280 6.1.2-6.1.5 over one candidate path (leaf first, trust anchor last). The trust anchor is
 * processed as a certificate too (its validity, basicConstraints, pathLen, keyUsage, name
 * constraints and critical extensions apply, as the x509-limbo suite expects) except for its
 * signature and policies.
 */
import { EXT, KU, ANY_EKU, type PathCert } from './certificate.js';
import type { ParsedCrl } from './crl.js';
import { describe, excludedBy, sameForm, within, type GeneralName } from './general-names.js';
import { PolicyState } from './policy.js';
import type { Refusal } from './refusal.js';

export interface ProcessDeps {
  /** Undefined when `child`'s signature verifies with `issuer`'s key, else why not. */
  signatureProblem(child: PathCert, issuer: PathCert): string | undefined;
  /** Undefined when `crl` verifies with `issuer`'s key. */
  crlSignatureProblem(crl: ParsedCrl, issuer: PathCert): string | undefined;
  readonly crls: readonly ParsedCrl[];
  /** Validation time, whole seconds. */
  readonly at: Date;
  readonly requiredEku?: readonly string[];
}

const EMAIL_ADDRESS = '1.2.840.113549.1.9.1';

interface Constraints {
  /** Each CA's permitted subtrees, one list per CA that constrains the name's form. */
  readonly permitted: GeneralName[][];
  readonly excluded: GeneralName[];
}

/** The names 6.1.3(b),(c) check: subject (non-empty) as a directoryName, its emailAddress attributes, subjectAltName. */
function namesOf(cert: PathCert): GeneralName[] {
  const out: GeneralName[] = [...(cert.san ?? [])];
  if (cert.subject.rdns.length) out.push({ kind: 'dn', name: cert.subject });
  for (const a of cert.subject.rdns.flat()) if (a.oid === EMAIL_ADDRESS) out.push({ kind: 'email', text: a.value });
  return out;
}

function checkNames(cert: PathCert, c: Constraints, depth: number): Refusal[] {
  const out: Refusal[] = [];
  for (const name of namesOf(cert)) {
    if (name.kind === 'other') {
      if (c.excluded.some((x) => sameForm(x, name)) || c.permitted.some((list) => list.some((x) => sameForm(x, name))))
        out.push({ rule: 'RFC5280-6.1.3(b)', message: `${describe(name)} cannot be checked against the name constraints on its form`, depth });
      continue;
    }
    for (const list of c.permitted) {
      const ofForm = list.filter((x) => sameForm(x, name));
      if (ofForm.length && !ofForm.some((x) => within(name, x)))
        out.push({ rule: 'RFC5280-6.1.3(b)', message: `${describe(name)} is not within the permitted subtrees`, depth });
    }
    const hit = c.excluded.find((x) => excludedBy(name, x));
    if (hit) out.push({ rule: 'RFC5280-6.1.3(c)', message: `${describe(name)} is within the excluded subtree ${describe(hit)}`, depth });
  }
  return out;
}

function checkRevocation(cert: PathCert, issuer: PathCert, deps: ProcessDeps, depth: number): Refusal[] {
  const rule = 'RFC5280-6.1.3(a)(3)';
  const candidates = deps.crls.filter((crl) => crl.issuerKey === cert.issuerKey && (!crl.akiKeyId || !issuer.ski || crl.akiKeyId.equals(issuer.ski)));
  if (candidates.length === 0) return [];
  const why: string[] = [];
  let usable = 0;
  for (const crl of candidates) {
    const problems = [...crl.unusable];
    if (issuer.keyUsage && !issuer.keyUsage.has(KU.cRLSign)) problems.push('the issuer keyUsage lacks cRLSign (6.3.3(f))');
    const sig = deps.crlSignatureProblem(crl, issuer);
    if (sig) problems.push(`CRL ${sig}`);
    if (crl.thisUpdate.getTime() > deps.at.getTime()) problems.push('thisUpdate is after the validation time');
    if (crl.nextUpdate && crl.nextUpdate.getTime() < deps.at.getTime()) problems.push('nextUpdate is before the validation time (stale CRL)');
    if (problems.length) {
      why.push(...problems);
      continue;
    }
    usable++;
    if (crl.revoked.has(cert.serial.toString('hex'))) return [{ rule, message: `certificate serial ${cert.serial.toString('hex')} is revoked by a CRL of its issuer`, depth }];
  }
  if (usable === 0) return [{ rule, message: `revocation status unknown: no usable CRL of the issuer (${[...new Set(why)].join('; ')})`, depth }];
  return [];
}

/** Every refusal of the candidate `path` (leaf first, anchor last); empty when the path is valid. */
export function processPath(path: readonly PathCert[], deps: ProcessDeps): Refusal[] {
  const out: Refusal[] = [];
  const anchorIndex = path.length - 1;
  const constraints: Constraints = { permitted: [], excluded: [] };
  const policy = new PolicyState(anchorIndex);
  let maxPathLength = anchorIndex;
  const at = deps.at.getTime();
  for (let d = anchorIndex; d >= 0; d--) {
    const cert = path[d]!;
    const isAnchor = d === anchorIndex;
    const isLeaf = d === 0;
    const bad = (rule: string, message: string): void => void out.push({ rule, message, depth: d });
    for (const p of cert.profile) out.push({ ...p, depth: d });
    // 6.1.3 (a): basic certificate processing.
    if (cert.notBefore.getTime() > at) bad('RFC5280-6.1.3(a)(2)', `not valid before ${cert.notBefore.toISOString()}`);
    if (cert.notAfter.getTime() < at) bad('RFC5280-6.1.3(a)(2)', `expired at ${cert.notAfter.toISOString()}`);
    if (!isAnchor) {
      const issuer = path[d + 1]!;
      const sig = deps.signatureProblem(cert, issuer);
      if (sig) bad('RFC5280-6.1.3(a)(1)', sig);
      if (cert.issuerKey !== issuer.subjectKey) bad('RFC5280-6.1.3(a)(4)', 'issuer name differs from the issuer certificate subject');
      out.push(...checkRevocation(cert, issuer, deps, d));
      // 6.1.3 (b), (c): name constraints, not applied to self-issued intermediates.
      if (isLeaf || !cert.selfIssued) out.push(...checkNames(cert, constraints, d));
      out.push(...policy.process(cert, d, isLeaf));
    }
    // Profile rules that depend on the certificate's role.
    const isCa = cert.basicConstraints?.ca === true;
    if (!cert.akiKeyId && !cert.selfIssued && deps.signatureProblem(cert, cert))
      bad('RFC5280-4.2.1.1', 'authorityKeyIdentifier keyIdentifier missing (required unless self-signed)');
    if (cert.keyUsage?.has(KU.keyCertSign) && !isCa) bad('RFC5280-4.2.1.3', 'keyCertSign asserted without basicConstraints cA');
    if (cert.subject.rdns.length === 0) {
      if (!isLeaf) bad('RFC5280-4.1.2.6', 'a CA certificate has an empty subject');
      else if (!cert.extensions.some((e) => e.oid === EXT.subjectAltName && e.critical)) bad('RFC5280-4.2.1.6', 'empty subject without a critical subjectAltName');
    }
    if (isLeaf) {
      // 6.1.5: wrap-up.
      if (cert.nameConstraints) bad('RFC5280-4.2.1.10', 'nameConstraints in an end-entity certificate');
      for (const oid of cert.unknownCritical) bad('RFC5280-6.1.5(f)', `unrecognized critical extension ${oid}`);
      if (path.length > 1) out.push(...policy.wrapUp(cert));
      if (deps.requiredEku && cert.eku && !cert.eku.includes(ANY_EKU) && !deps.requiredEku.some((p) => cert.eku!.includes(p)))
        bad('RFC5280-4.2.1.12', `extKeyUsage holds none of ${deps.requiredEku.join(', ')}`);
      continue;
    }
    // 6.1.4: preparation for the next certificate.
    if (!isAnchor) out.push(...policy.prepare(cert, d));
    if (cert.nameConstraints) {
      const nc = cert.nameConstraints;
      const forms = new Map<string, GeneralName[]>();
      for (const p of nc.permitted) {
        const key = p.kind === 'other' ? `other${p.tag}` : p.kind;
        forms.set(key, [...(forms.get(key) ?? []), p]);
      }
      constraints.permitted.push(...forms.values()); // 6.1.4(g)
      constraints.excluded.push(...nc.excluded);
    }
    if (!(cert.version < 3 && isAnchor)) {
      if (!isCa) bad('RFC5280-6.1.4(k)', cert.basicConstraints ? 'basicConstraints cA is false' : 'no basicConstraints: not a CA certificate');
      else if (!cert.basicConstraints.critical) bad('RFC5280-4.2.1.9', 'basicConstraints must be critical in a CA certificate');
    }
    if (!isAnchor && !cert.selfIssued) {
      if (maxPathLength <= 0) bad('RFC5280-6.1.4(l)', 'path length constraint exceeded');
      maxPathLength--;
    }
    const pathLen = cert.basicConstraints?.pathLen;
    if (pathLen !== undefined && pathLen < maxPathLength) maxPathLength = pathLen; // 6.1.4(m)
    if (cert.keyUsage && !cert.keyUsage.has(KU.keyCertSign)) bad('RFC5280-6.1.4(n)', 'keyUsage lacks keyCertSign');
    if (!cert.ski) bad('RFC5280-4.2.1.2', 'subjectKeyIdentifier missing in a CA certificate');
    for (const oid of cert.unknownCritical) bad('RFC5280-6.1.4(o)', `unrecognized critical extension ${oid}`);
  }
  return out;
}
