import { ipAddressOctets } from '@evpki/x509';
import { isIPv4, isIPv6 } from 'node:net';
import { normalizeOperatorId } from './v2g-rules.js';
import { Rule } from './violations.js';

/**
 * What a tenant claims for itself, and so no other tenant may have (every tenant's certificates
 * chain to the same root): its CPO name (the O of its certificates), its server domains (and every
 * name below them), its IP ranges (and every address in them) and its ISO 15118 operator IDs (the
 * SECC-IDs under them: Plug&Charge 4.3). The store enforces this in the
 * tenant's write (an index of claim keys), `pki tenants` checks it first for a clear message.
 *
 * A claim key is a string in which "is below / inside" is "starts with", so one ordered index finds
 * both directions: `dns:` + the labels reversed, each followed by a dot (`demo.local` is
 * `dns:local.demo.`), `ip4:`/`ip6:` + the range's prefix bits, `cpo:` + the normalised CPO name,
 * `opid:` + the normalised operator ID (`opid:DE*ABC`; exact only).
 */
export interface TenantClaim {
  readonly rule: (typeof Rule)['uniqueCpoName' | 'uniqueServerDomain' | 'uniqueIpRange' | 'uniqueOperatorId'];
  readonly key: string;
  /** Keys that conflict when another tenant holds them exactly: the parent domains, the enclosing ranges. */
  readonly ancestors: readonly string[];
  /** Whether every key starting with `key` conflicts (names below a domain, ranges inside a range). */
  readonly below: boolean;
}

/** The claims of a tenant record (a record fits as it is). */
export interface ClaimingTenant {
  readonly id: string;
  readonly cpoName: string;
  readonly serverDomains?: readonly string[];
  readonly ipRanges?: readonly string[];
  readonly operatorIds?: readonly string[];
}

/**
 * A CPO name as compared between tenants: Unicode NFKC, case-folded (upper then lower case, so
 * "ß" is "ss"), whitespace runs as one space, control and format characters (zero-width ones)
 * dropped, trimmed. "Demo CPO", " demo\u00a0 cpo" and "ＤＥＭＯ CPO" are one name.
 */
export function cpoNameKey(name: string): string {
  return name
    .normalize('NFKC')
    .toUpperCase()
    .toLowerCase()
    .normalize('NFKC')
    .replace(/\s/gu, ' ')
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .replace(/ +/g, ' ')
    .trim();
}

/** `csms.demo.local` → `dns:local.demo.csms.` (a parent domain's key is a prefix at a label boundary). */
function domainKey(labels: readonly string[]): string {
  return `dns:${labels.map((l) => `${l}.`).join('')}`;
}

function domainClaim(domain: string): TenantClaim {
  // (A stored domain has no wildcard; were one given, it claims the domain below it.)
  const labels = domain.toLowerCase().replace(/^\*\./, '').replace(/\.$/, '').split('.').reverse();
  const ancestors = labels.slice(1).map((_, i) => domainKey(labels.slice(0, i + 1)));
  return { rule: Rule.uniqueServerDomain, key: domainKey(labels), ancestors, below: true };
}

// ---- IP ranges ----

const bitString = (octets: Buffer): string => [...octets].map((b) => b.toString(2).padStart(8, '0')).join('');
const family = (octets: Buffer): string => (octets.length === 4 ? 'ip4:' : 'ip6:');

/** RFC 5952 text: lowercase, no leading zeros, the longest run of two or more zero groups as "::". */
function formatIp(octets: Buffer): string {
  if (octets.length === 4) return [...octets].join('.');
  const groups = Array.from({ length: 8 }, (_, i) => octets.readUInt16BE(i * 2).toString(16));
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** Address blocks that name no one server of one tenant: no tenant may have a range touching them. */
const SPECIAL_RANGES: readonly [string, string][] = [
  ['0.0.0.0/8', '"this network"'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved and broadcast'],
  ['::/128', 'the unspecified address'],
  ['::1/128', 'loopback'],
  ['::ffff:0:0/96', 'IPv4-mapped (give the IPv4 range)'],
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
];

/** A CIDR range's key, e.g. `ip4:00001010` for 10.0.0.0/8, or why it is not a range. */
function rangeKey(raw: string): { key: string; octets: Buffer; length: number } | { error: string } {
  const m = /^([0-9a-fA-F:.]{2,45})\/(\d{1,3})$/.exec(raw);
  const v4 = m !== null && isIPv4(m[1]!);
  if (!m || (!v4 && !isIPv6(m[1]!)))
    return { error: 'is not a CIDR range: an IPv4 or IPv6 address, "/" and a prefix length (10.1.0.0/16, fd00:1::/64)' };
  if (!v4 && m[1]!.includes('.')) return { error: 'has an IPv6 address with an IPv4 part: write it in hex groups' };
  const octets = ipAddressOctets(m[1]!);
  const length = Number(m[2]);
  if (length > octets.length * 8 || (m[2]!.length > 1 && m[2]!.startsWith('0'))) return { error: `has prefix length /${m[2]}: ${v4 ? 'IPv4 is /1../32' : 'IPv6 is /1../128'}` };
  return { key: family(octets) + bitString(octets).slice(0, length), octets, length };
}

const SPECIAL_KEYS = SPECIAL_RANGES.map(([r, what]) => ({ range: r, what, key: (rangeKey(r) as { key: string }).key }));

/**
 * An IP range as stored (the network address in canonical text, "/", the prefix length), or why it
 * cannot be a tenant's (rule Tenant.ip-range): not CIDR, host bits set (10.1.2.3/16: give
 * 10.1.0.0/16), the whole address space (/0), or touching a block that names no single server
 * (loopback, link-local, multicast, reserved, unspecified, IPv4-mapped IPv6).
 */
export function parseIpRange(raw: string): { range: string } | { error: string } {
  const shown = JSON.stringify(raw.slice(0, 60));
  const r = rangeKey(raw.trim());
  if ('error' in r) return { error: `IP range ${shown} ${r.error}` };
  const network = Buffer.from(r.octets);
  for (let bit = r.length; bit < network.length * 8; bit++) network[bit >> 3]! &= ~(0x80 >> (bit & 7));
  const canonical = `${formatIp(network)}/${r.length}`;
  if (!network.equals(r.octets)) return { error: `IP range ${shown} has host bits set: give the network, ${canonical}` };
  if (r.length === 0) return { error: `IP range ${shown} is every address: give the tenant's own ranges` };
  const special = SPECIAL_KEYS.find((s) => s.key.startsWith(r.key) || r.key.startsWith(s.key));
  if (special) return { error: `IP range ${shown} overlaps ${special.range} (${special.what}): no tenant may have addresses there` };
  return { range: canonical };
}

/** Whether an iPAddress SAN (4 or 16 octets) lies in one of the ranges (stored CIDR text; a malformed one matches nothing). */
export function ipInRanges(octets: Buffer, ranges: readonly string[]): boolean {
  const address = family(octets) + bitString(octets);
  return ranges.some((range) => {
    const r = rangeKey(range);
    return !('error' in r) && address.startsWith(r.key);
  });
}

function ipRangeClaim(range: string): TenantClaim | undefined {
  const r = rangeKey(range);
  if ('error' in r) return undefined;
  const head = r.key.slice(0, 4);
  const ancestors = Array.from({ length: r.length }, (_, i) => head + r.key.slice(4, 4 + i));
  return { rule: Rule.uniqueIpRange, key: r.key, ancestors, below: true };
}

/** Every claim of a tenant, one per distinct key. */
export function tenantClaims(t: ClaimingTenant): TenantClaim[] {
  const out = new Map<string, TenantClaim>();
  const add = (c: TenantClaim | undefined): void => void (c && !out.has(c.key) && out.set(c.key, c));
  add({ rule: Rule.uniqueCpoName, key: `cpo:${cpoNameKey(t.cpoName)}`, ancestors: [], below: false });
  for (const d of t.serverDomains ?? []) add(domainClaim(d));
  for (const r of t.ipRanges ?? []) add(ipRangeClaim(r));
  for (const o of t.operatorIds ?? []) add({ rule: Rule.uniqueOperatorId, key: `opid:${normalizeOperatorId(o) ?? o.toUpperCase()}`, ancestors: [], below: false });
  return [...out.values()];
}

/** A claim key in words: `CPO name "demo cpo" (as compared)`, `server domain demo.local`, `IP range 10.1.0.0/16`. */
export function describeClaimKey(key: string): string {
  if (key.startsWith('cpo:')) return `CPO name "${key.slice(4)}" (as compared)`;
  if (key.startsWith('opid:')) return `operator ID ${key.slice(5)}`;
  if (key.startsWith('dns:')) return `server domain ${key.slice(4).split('.').filter(Boolean).reverse().join('.')}`;
  const bits = key.slice(4);
  const octets = Buffer.alloc(key.startsWith('ip4:') ? 4 : 16);
  for (let i = 0; i < bits.length; i++) if (bits[i] === '1') octets[i >> 3]! |= 0x80 >> (i & 7);
  return `IP range ${formatIp(octets)}/${bits.length}`;
}

/** Why a claim of one tenant conflicts with another tenant's claim key (for messages). */
export function describeConflict(claim: TenantClaim, otherKey: string, otherTenant: string): string {
  if (claim.key.startsWith('cpo:'))
    return `CPO name "${claim.key.slice(4)}" (as compared: case, whitespace and Unicode compatibility forms ignored) is tenant ${otherTenant}'s (${claim.rule})`;
  if (claim.key.startsWith('opid:')) return `${describeClaimKey(claim.key)} is tenant ${otherTenant}'s (${claim.rule})`;
  const dns = claim.key.startsWith('dns:');
  const relation = otherKey === claim.key ? 'is also' : claim.key.startsWith(otherKey) ? (dns ? 'is below' : 'is inside') : dns ? 'is a parent of' : 'encloses';
  return `${describeClaimKey(claim.key)} ${relation} tenant ${otherTenant}'s ${describeClaimKey(otherKey)} (${claim.rule})`;
}

export interface TenantConflict {
  readonly rule: TenantClaim['rule'];
  readonly tenant: string;
  readonly other: string;
  readonly message: string;
}

/** Conflicts between tenants (e.g. made before the store enforced uniqueness), each pair of claims once. */
export function findTenantConflicts(tenants: readonly ClaimingTenant[]): TenantConflict[] {
  const owners = new Map<string, string[]>();
  const claims = tenants.map((t) => ({ id: t.id, claims: tenantClaims(t) }));
  for (const t of claims) for (const c of t.claims) owners.set(c.key, [...(owners.get(c.key) ?? []), t.id]);
  const out: TenantConflict[] = [];
  for (const t of claims)
    for (const c of t.claims)
      for (const k of [c.key, ...c.ancestors])
        for (const other of owners.get(k) ?? [])
          // An equal key is found from both tenants: reported once.
          if (other !== t.id && (k !== c.key || t.id < other)) out.push({ rule: c.rule, tenant: t.id, other, message: `tenant ${t.id}: ${describeConflict(c, k, other)}` });
  return out;
}
