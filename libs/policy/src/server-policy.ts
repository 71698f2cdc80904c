import { OID, attributeValues, parseSubjectAltNames, type ParsedCsr } from '@evpki/x509';
import { MAX_SUBJECT_ATTRIBUTES, checkSubjectEncoding } from './csr-policy.js';
import { HOST_NAME } from './subject-rules.js';
import { ipInRanges } from './tenant-claims.js';
import { Rule, type Violation } from './violations.js';

/** What a tenant may name its CSMS servers (a tenant record fits as it is; absent means none/false). */
export interface ServerNamePolicy {
  readonly cpoName: string;
  /** Names must equal one of these or lie below it (e.g. "demo.local" allows "csms.demo.local"). */
  readonly serverDomains?: readonly string[];
  readonly allowWildcards?: boolean;
  /** CIDR ranges its iPAddress SANs must lie in (parseIpRange); none: no IP SANs. */
  readonly ipRanges?: readonly string[];
}

export const MAX_SERVER_NAMES = 20;

const violation = (message: string): Violation => ({ rule: Rule.serverCommonName, message });

/** One DNS name: an FQDN, optionally a leftmost wildcard label, inside the tenant's domains (A00.FR.510). */
function checkDnsName(name: string, what: string, t: ServerNamePolicy): Violation[] {
  const wildcard = name.startsWith('*.');
  const host = (wildcard ? name.slice(2) : name).toLowerCase();
  if (!HOST_NAME.test(host) || host.endsWith('.') || (wildcard && !host.includes('.')))
    return [violation(`${what} "${name}" is not a fully qualified domain name`)];
  const out: Violation[] = [];
  if (wildcard && !t.allowWildcards) out.push(violation(`${what} "${name}" is a wildcard; this tenant may not have wildcard names`));
  const domains = t.serverDomains ?? [];
  if (!domains.some((d) => host === d || host.endsWith(`.${d}`)))
    out.push(violation(`${what} "${name}" is outside this tenant's server domains (${domains.join(', ') || 'none configured'})`));
  return out;
}

/**
 * CSMS server subject and names (A00.FR.509 O = the CPO name, A00.FR.510 names inside the
 * tenant's claims). The key rules are separate (csr-checks.ts keyRules).
 */
export function checkServerSubject(csr: ParsedCsr, t: ServerNamePolicy): Violation[] {
  const violations: Violation[] = [];
  const attrs = csr.subject.rdns.flat();
  if (attrs.length > MAX_SUBJECT_ATTRIBUTES)
    violations.push({ rule: Rule.registeredIdentity, message: `subject has ${attrs.length} attributes; at most ${MAX_SUBJECT_ATTRIBUTES} are allowed` });
  const os = attributeValues(csr.subject, OID.organizationName);
  if (os.length !== 1 || os[0] !== t.cpoName)
    violations.push({ rule: Rule.organization, message: os.length ? `subject O "${os.join(', ')}" is not the CPO name "${t.cpoName}"` : 'subject O is missing; it must be the CPO name' });

  const cns = attributeValues(csr.subject, OID.commonName);
  const cn = cns.length === 1 ? cns[0]! : undefined;
  if (cn === undefined) violations.push(violation(cns.length ? 'subject has several CNs' : "subject CN is missing; it must be the server's FQDN"));
  else violations.push(...checkDnsName(cn, 'CN', t));

  const sanExt = csr.extensions.find((e) => e.oid === OID.subjectAltName);
  let count = cn === undefined ? 0 : 1;
  if (sanExt) {
    let san;
    try {
      san = parseSubjectAltNames(sanExt.value);
    } catch {
      violations.push(violation('subjectAltName extension is malformed'));
    }
    if (san) {
      if (san.uri.length || san.email.length || san.other) violations.push(violation('subjectAltName may hold only dNSName (and iPAddress where allowed) entries'));
      const ranges = t.ipRanges ?? [];
      const octets = san.ipOctets;
      const outside = san.ip.filter((_, i) => !ipInRanges(octets[i]!, ranges));
      if (outside.length) violations.push(violation(`subjectAltName iPAddress ${outside.join(', ')} is outside this tenant's IP ranges (${ranges.join(', ') || 'none configured'})`));
      if (cn !== undefined && !san.dns.some((d) => d.toLowerCase() === cn.toLowerCase()))
        violations.push(violation(`CN "${cn}" must be among the subjectAltName dNSName entries`));
      for (const d of san.dns) violations.push(...checkDnsName(d, 'subjectAltName dNSName', t));
      const names = serverAltNames(csr);
      count = names.dns.length + names.ipOctets.length;
    }
  }
  if (count > MAX_SERVER_NAMES) violations.push(violation(`at most ${MAX_SERVER_NAMES} names are allowed`));
  violations.push(...checkSubjectEncoding(csr, Rule.serverCommonName));
  return violations;
}

/** The certificate's subjectAltName of an accepted server CSR: the CN first, then the CSR's other names, DNS names deduplicated (case-insensitively). */
export function serverAltNames(csr: ParsedCsr): { dns: string[]; ipOctets: Buffer[] } {
  const cns = attributeValues(csr.subject, OID.commonName);
  const names = { dns: cns.length === 1 ? [cns[0]!] : [], ipOctets: [] as Buffer[] };
  const sanExt = csr.extensions.find((e) => e.oid === OID.subjectAltName);
  if (!sanExt) return names;
  const san = parseSubjectAltNames(sanExt.value);
  for (const d of san.dns) if (!names.dns.some((n) => n.toLowerCase() === d.toLowerCase())) names.dns.push(d);
  names.ipOctets.push(...san.ipOctets);
  return names;
}
