import { OID, attributeValues, parseSubjectAltNames, type KeyInfo, type NameAttribute, type ParsedCsr } from '@evpki/x509';
import { MAX_SUBJECT_ATTRIBUTES, certifiedSubjectAttributes, checkCsrKey, checkSubjectEncoding, type KeyContext } from './csr-policy.js';
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

export interface ServerContext extends KeyContext {
  readonly tenant: ServerNamePolicy;
}

export interface AcceptedServerCsr {
  readonly csr: ParsedCsr;
  readonly key: KeyInfo & { type: 'rsa' | 'ec' };
  /** CN and O, in CSR order: their values make the certificate subject, re-encoded (issue 14.10). */
  readonly subjectAttributes: readonly NameAttribute[];
  /** The certificate's subjectAltName: the CN first, then the CSR's other names. */
  readonly names: { readonly dns: string[]; readonly ipOctets: Buffer[] };
}

export type ServerPolicyResult = { readonly ok: true; readonly accepted: AcceptedServerCsr } | { readonly ok: false; readonly violations: readonly Violation[] };

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
 * Every check for a CSMS server certificate request (A00.FR.509, A00.FR.510, key rules as for
 * charge points), run by the RA and again by the CA. Collects all violations.
 */
export async function checkServerCsr(csr: ParsedCsr, ctx: ServerContext): Promise<ServerPolicyResult> {
  const violations: Violation[] = [];
  const key = await checkCsrKey(csr, ctx, violations);
  const t = ctx.tenant;

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

  const names = { dns: cn === undefined ? [] : [cn], ipOctets: [] as Buffer[] };
  const sanExt = csr.extensions.find((e) => e.oid === OID.subjectAltName);
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
      for (const d of san.dns) {
        violations.push(...checkDnsName(d, 'subjectAltName dNSName', t));
        if (!names.dns.some((n) => n.toLowerCase() === d.toLowerCase())) names.dns.push(d);
      }
      names.ipOctets.push(...san.ipOctets);
    }
  }
  if (names.dns.length + names.ipOctets.length > MAX_SERVER_NAMES) violations.push(violation(`at most ${MAX_SERVER_NAMES} names are allowed`));
  violations.push(...checkSubjectEncoding(csr, Rule.serverCommonName));

  if (violations.length || !key || key.type === 'unsupported') return { ok: false, violations };
  return { ok: true, accepted: { csr, key, subjectAttributes: certifiedSubjectAttributes(csr), names } };
}
