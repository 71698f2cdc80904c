import { isIP } from 'node:net';
import { HOST_NAME, Rule, normalizeOperatorId, parseIpRange } from '@evpki/policy';
import type { AuditDetailValue, TenantRecord } from '@evpki/store';
import { TENANT_ID } from './token.js';

/**
 * The pure part of `pki tenants`: what a tenant record may hold (checked before anything is
 * written), how a change is applied, described for the audit log and printed. No I/O.
 */

/** X.520 ub-organization-name: the O value of a tenant's certificates is its CPO name. */
export const CPO_NAME_MAX = 64;
export const TENANT_LIMITS = {
  /** Server domains per tenant. */
  serverDomains: 50,
  /** IP ranges per tenant. */
  ipRanges: 50,
  /** ISO 15118 operator IDs per tenant. */
  operatorIds: 50,
  /** Rate limit overrides: 0 turns a limit off. */
  rateMax: 1_000_000,
} as const;

/** Why `id` cannot be a tenant id, or undefined. */
export function checkTenantId(id: string): string | undefined {
  return TENANT_ID.test(id) ? undefined : `tenant id "${id.slice(0, 80)}" must be 1-63 characters a-z, 0-9 and '-', starting with a letter or digit`;
}

/**
 * Why `name` cannot be a CPO name (the O of the tenant's certificates, compared byte for byte with
 * the CSR's), or undefined: 1..64 characters (X.520), printable (no control, format or unassigned
 * characters), no leading, trailing or doubled spaces, and Unicode NFC (the form a CSR would carry).
 */
export function checkCpoName(name: string): string | undefined {
  const chars = [...name];
  if (!name.trim()) return '--cpo-name must not be empty';
  if (chars.length > CPO_NAME_MAX) return `--cpo-name has ${chars.length} characters; an organizationName (O) has at most ${CPO_NAME_MAX} (X.520)`;
  if (/\p{C}/u.test(name)) return '--cpo-name must be printable: no control, format or unassigned characters';
  if (/[^\S ]/u.test(name)) return '--cpo-name may contain no whitespace but plain spaces';
  if (name !== name.trim() || name.includes('  ')) return '--cpo-name may not begin or end with a space or hold two in a row';
  if (name !== name.normalize('NFC')) return '--cpo-name must be in Unicode NFC form (as a CSR would encode it)';
  return undefined;
}

/** A server domain as stored (lowercase, no trailing dot), or why it cannot be one. */
export function normalizeServerDomain(raw: string): { domain: string } | { error: string } {
  const shown = JSON.stringify(raw.slice(0, 80));
  if (raw.startsWith('*.'))
    return { error: `--server-domain ${shown} is a wildcard: give the domain (names below it are allowed; wildcard certificate names also need --allow-wildcards)` };
  if (isIP(raw.replace(/^\[|\]$/g, ''))) return { error: `--server-domain ${shown} is an IP address: give a DNS domain (IP SANs need the tenant's --ip-range)` };
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(raw)) return { error: `--server-domain ${shown} is not ASCII: give an internationalized domain in its xn-- (A-label) form` };
  const domain = raw.toLowerCase().replace(/\.$/, '');
  if (!HOST_NAME.test(domain) || domain.endsWith('.')) return { error: `--server-domain ${shown} is not a DNS domain name (labels of a-z, 0-9 and '-', at least two, ending in an alphabetic TLD)` };
  return { domain };
}

/** An --ip-range as stored (canonical CIDR), or why it cannot be one (rule Tenant.ip-range). */
export function normalizeIpRange(raw: string): { range: string } | { error: string } {
  const r = parseIpRange(raw);
  return 'error' in r ? { error: `--ip-range: ${r.error} (${Rule.ipRange})` } : r;
}

/** An --operator-id as stored ("DE*ABC": uppercase, the '*' added), or why it cannot be one (rule V2G.operator-id). */
export function parseOperatorId(raw: string): { id: string } | { error: string } {
  const id = normalizeOperatorId(raw);
  return id ? { id } : { error: `--operator-id ${JSON.stringify(raw.slice(0, 40))} is not an ISO 15118 operator ID: a country code, an optional '*' and 3 letters or digits (DE*ABC) (${Rule.v2gOperatorId})` };
}

/** A rate limit option: a whole number 0..rateMax (0 turns the limit off), or 'default' (the RA's, RA_RATE_*). */
export function parseRateLimit(raw: string, option: string): { value: number | 'default' } | { error: string } {
  if (raw === 'default') return { value: 'default' };
  const n = /^\d{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n > TENANT_LIMITS.rateMax) return { error: `--${option} must be a whole number 0..${TENANT_LIMITS.rateMax} (0: no limit) or "default"` };
  return { value: n };
}

/** What `pki tenants add` was asked to set; absent fields are left as they are (--update) or unset (new). */
export interface TenantSpec {
  readonly cpoName?: string;
  /** The whole list (replaces the stored one); [] clears it. */
  readonly serverDomains?: readonly string[];
  readonly allowWildcards?: boolean;
  /** The whole list (replaces the stored one); [] clears it. */
  readonly ipRanges?: readonly string[];
  /** The whole list (replaces the stored one); [] clears it. */
  readonly operatorIds?: readonly string[];
  readonly tenantCsrsPerMinute?: number | 'default';
  readonly stationCsrsPerDay?: number | 'default';
}

type RateLimits = NonNullable<TenantRecord['rateLimits']>;

/**
 * `current` (undefined: a new tenant) with the spec's fields applied; optional fields that end up
 * unset/false are left out, and so is the legacy allowIpSans (no longer honoured: IP SANs need ipRanges).
 */
export function applyTenantSpec(id: string, current: TenantRecord | undefined, spec: TenantSpec, createdAt: string): TenantRecord {
  const rates: { -readonly [K in keyof RateLimits]: RateLimits[K] } = { ...current?.rateLimits };
  for (const k of ['tenantCsrsPerMinute', 'stationCsrsPerDay'] as const) {
    const v = spec[k];
    if (v === 'default') delete rates[k];
    else if (v !== undefined) rates[k] = v;
  }
  const serverDomains = spec.serverDomains ?? current?.serverDomains ?? [];
  const allowWildcards = spec.allowWildcards ?? current?.allowWildcards ?? false;
  const ipRanges = spec.ipRanges ?? current?.ipRanges ?? [];
  const operatorIds = spec.operatorIds ?? current?.operatorIds ?? [];
  return {
    id,
    cpoName: spec.cpoName ?? current?.cpoName ?? '',
    disabled: current?.disabled ?? false,
    createdAt: current?.createdAt ?? createdAt,
    ...(serverDomains.length ? { serverDomains: [...serverDomains] } : {}),
    ...(allowWildcards ? { allowWildcards } : {}),
    ...(ipRanges.length ? { ipRanges: [...ipRanges] } : {}),
    ...(operatorIds.length ? { operatorIds: [...operatorIds] } : {}),
    ...(Object.keys(rates).length ? { rateLimits: rates } : {}),
  };
}

const FIELDS = ['cpoName', 'disabled', 'serverDomains', 'allowWildcards', 'ipRanges', 'operatorIds', 'tenantCsrsPerMinute', 'stationCsrsPerDay'] as const;
type Field = (typeof FIELDS)[number];

function fieldValue(t: TenantRecord, f: Field): string | number | boolean | null {
  switch (f) {
    case 'cpoName':
      return t.cpoName;
    case 'disabled':
      return t.disabled;
    case 'serverDomains':
      return (t.serverDomains ?? []).join(' ');
    case 'allowWildcards':
      return t.allowWildcards === true;
    case 'ipRanges':
      return (t.ipRanges ?? []).join(' ');
    case 'operatorIds':
      return (t.operatorIds ?? []).join(' ');
    default:
      return t.rateLimits?.[f] ?? null;
  }
}

/** The fields that differ between two records of one tenant. */
export function changedFields(before: TenantRecord, after: TenantRecord): Field[] {
  return FIELDS.filter((f) => fieldValue(before, f) !== fieldValue(after, f));
}

const clip = (v: string | number | boolean | null): AuditDetailValue => (typeof v === 'string' && v.length > 500 ? `${v.slice(0, 497)}...` : v);

/**
 * Audit details of a tenant record (nothing secret is in one): every field, rate limits null when
 * the RA's default applies; with `changed`, also which fields changed.
 */
export function tenantAuditDetails(t: TenantRecord, changed?: readonly string[]): Record<string, AuditDetailValue> {
  const details: Record<string, AuditDetailValue> = {};
  for (const f of FIELDS) details[f] = clip(fieldValue(t, f));
  if (changed) details.changed = changed.join(' ');
  return details;
}

/** "600/min", "off" (0) or "default". */
const rate = (v: number | undefined, unit: string): string => (v === undefined ? 'default' : v === 0 ? 'off' : `${v}${unit}`);

/** The rate limit overrides in words: "tenant default, station 10/day". */
export function describeRateLimits(t: TenantRecord): string {
  return `tenant ${rate(t.rateLimits?.tenantCsrsPerMinute, '/min')}, station ${rate(t.rateLimits?.stationCsrsPerDay, '/day')}`;
}

function describeDomains(t: TenantRecord): string {
  const domains = t.serverDomains?.length ? t.serverDomains.join(',') : '-';
  return [domains, t.allowWildcards ? '(+wildcards)' : '', t.ipRanges?.length ? `IP ${t.ipRanges.join(',')}` : ''].filter(Boolean).join(' ');
}

/** A tenant written by an older version with --allow-ip-sans and no ranges: its IP SANs are refused now. */
export const legacyIpSansNote = (t: TenantRecord): string | undefined =>
  t.allowIpSans && !t.ipRanges?.length ? `tenant ${t.id}: --allow-ip-sans is no longer honoured, it gets no IP SANs: give its ranges with pki tenants add --id ${t.id} --update --ip-range CIDR` : undefined;

/** `pki tenants list`: one row per tenant under a header, columns padded. */
export function formatTenantTable(tenants: readonly TenantRecord[]): string {
  const rows = [['ID', 'CPO NAME', 'DISABLED', 'SERVER NAMES', 'RATE LIMITS (CSRs)'], ...tenants.map((t) => [t.id, t.cpoName, t.disabled ? 'yes' : 'no', describeDomains(t), describeRateLimits(t)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...r[i]!].length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length))).join('  ')).join('\n') + '\n';
}

/** `pki tenants show`: one field a line. */
export function formatTenant(t: TenantRecord): string {
  return [
    `id:             ${t.id}`,
    `CPO name (O):   ${t.cpoName}`,
    `disabled:       ${t.disabled ? 'yes (the RA refuses its tokens with 403)' : 'no'}`,
    `created:        ${t.createdAt}`,
    `server domains: ${t.serverDomains?.length ? t.serverDomains.join(', ') : '- (no CSMS server certificates)'}`,
    `wildcards:      ${t.allowWildcards ? 'allowed' : 'not allowed'}`,
    `IP ranges:      ${t.ipRanges?.length ? t.ipRanges.join(', ') : `- (no IP SANs${t.allowIpSans ? '; the legacy --allow-ip-sans is no longer honoured: add --ip-range' : ''})`}`,
    `operator IDs:   ${t.operatorIds?.length ? t.operatorIds.join(', ') : '- (no SECC certificates)'}`,
    `rate limits:    ${describeRateLimits(t)} (CSRs that passed policy; default: the RA's RA_RATE_*)`,
  ].join('\n') + '\n';
}
