import type { Command } from './command.js';

/**
 * `pki tenants add|list|show|disable|enable`: the tenants (CPOs) the RA serves, in the store the
 * services use (REDIS_URL: the shared Redis; else LMDB in the data directory). Every change is
 * written to the audit log (actor "cli"). The RA reads the tenant record on every request, so a
 * change applies at once, to every instance.
 * Options and help here; each command's implementation (tenants-run.ts) is imported when it runs.
 */

const EXIT_HELP = `Exit codes: 0 done (also when nothing had to change), 2 bad input or state (a bad option, an
unknown tenant, an existing one without --update), 75 the store is unreachable (retry), 1 anything else.`;

const addCommand: Command = {
  name: 'tenants add',
  summary: 'add a tenant (CPO), or change one with --update',
  help: `Usage: pki tenants add --id ID --cpo-name NAME [--server-domain DOMAIN ...] [--allow-wildcards]
                        [--ip-range CIDR ...] [--operator-id ID ...]
                        [--rate-csrs-per-minute N] [--rate-station-csrs-per-day N]
       pki tenants add --id ID --update [any of the options above] [--no-server-domains]
                        [--no-allow-wildcards] [--no-ip-ranges] [--no-operator-ids]

Adds a tenant: a CPO whose CSMS calls the RA with bearer tokens naming this id. Every change is
written to the audit log (tenant.added, tenant.updated). An existing id is refused (exit 2) unless
--update is given; --update changes only the fields given (keeps createdAt and the disabled flag),
and creates the tenant when it does not exist yet.

Every tenant's certificates chain to one root, so no two tenants (disabled ones included) may
share a CPO name (compared after Unicode NFKC, case folding and whitespace collapsing: rule
Tenant.unique-cpo-name), a server domain or one above or below another's (Tenant.unique-server-
domain), an IP range or one inside another's (Tenant.unique-ip-range), or an ISO 15118 operator
ID (Tenant.unique-operator-id: DE*ABC and DEABC are one): refused with exit 2, naming the other tenant.

Options:
  --id ID                        tenant id: 1-63 characters a-z, 0-9, '-' (the token's "tenant" claim)
  --cpo-name NAME                the CPO name: the only O value allowed in the tenant's certificates
                                 (charge point and CSMS server); 1-64 printable characters (X.520)
  --server-domain DOMAIN         a DNS domain its CSMS server certificates may name (that name or
                                 names below it); repeat it or separate with commas. With --update
                                 the list given replaces the stored one. None: no server certificates
  --no-server-domains            (--update) remove every server domain
  --allow-wildcards              server certificates may name *.DOMAIN (--no-allow-wildcards: not)
  --ip-range CIDR                an IP range its server certificates' IP SANs must lie in (10.1.0.0/16,
                                 fd00:1::/64); repeat it or separate with commas; with --update the
                                 list replaces the stored one. None: no IP SANs. Refused (Tenant.ip-
                                 range): host bits set, /0, loopback, link-local, multicast, reserved,
                                 IPv4-mapped IPv6
  --no-ip-ranges                 (--update) remove every IP range
  --operator-id ID               an ISO 15118 operator ID (DE*ABC; case and the '*' are normalised)
                                 its SECC certificates' SECC-IDs may carry (V2G.operator-id); repeat
                                 it or separate with commas; with --update the list replaces the
                                 stored one. None: no SECC (V2GCertificate) certificates
  --no-operator-ids              (--update) remove every operator ID
  --rate-csrs-per-minute N       CSRs that passed policy, per tenant in any minute (0: no limit;
                                 "default": the RA's RA_RATE_TENANT_CSRS_PER_MINUTE)
  --rate-station-csrs-per-day N  CSRs per station in any 24 hours (0: no limit; "default": the
                                 RA's RA_RATE_STATION_CSRS_PER_DAY)
  --update                       change an existing tenant instead of refusing it
  --json                         {"tenant": {...}, "created": bool, "changed": [fields]}

${EXIT_HELP}
`,
  options: {
    id: { type: 'string' },
    'cpo-name': { type: 'string' },
    'server-domain': { type: 'string', multiple: true },
    'no-server-domains': { type: 'boolean' },
    'allow-wildcards': { type: 'boolean' },
    'no-allow-wildcards': { type: 'boolean' },
    'ip-range': { type: 'string', multiple: true },
    'no-ip-ranges': { type: 'boolean' },
    'operator-id': { type: 'string', multiple: true },
    'no-operator-ids': { type: 'boolean' },
    // Gone (replaced by --ip-range): kept to say so.
    'allow-ip-sans': { type: 'boolean' },
    'no-allow-ip-sans': { type: 'boolean' },
    'rate-csrs-per-minute': { type: 'string' },
    'rate-station-csrs-per-day': { type: 'string' },
    update: { type: 'boolean' },
  },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./tenants-run.js')).tenantsAdd(values, positionals, ctx),
};

const listCommand: Command = {
  name: 'tenants list',
  summary: 'list the tenants: id, CPO name, disabled, server names, rate limits; and their conflicts',
  help: `Usage: pki tenants list [--json]

Lists every tenant by id: CPO name, whether it is disabled, its server domains (with wildcards
when allowed) and IP ranges, and its rate limit overrides ("default": the RA's RA_RATE_*, "off":
no limit). Then, on stderr, a warning for every pair of tenants that share a CPO name, a domain
or an IP range (stored before the store refused that: change one of them), and for every tenant
whose legacy --allow-ip-sans is no longer honoured.

Options:
  --json   {"tenants": [{"id", "cpoName", "disabled", "createdAt", "serverDomains", "allowWildcards",
           "ipRanges", "rateLimits": {"tenantCsrsPerMinute", "stationCsrsPerDay"} (null: default),
           "allowIpSans": true only when the legacy flag is stored}],
           "conflicts": [{"rule", "tenant", "other", "message"}]}

Exit codes: 0, 75 the store is unreachable, 1 anything else.
`,
  options: {},
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./tenants-run.js')).tenantsList(values, positionals, ctx),
};

const showCommand: Command = {
  name: 'tenants show',
  summary: 'show one tenant',
  help: `Usage: pki tenants show ID [--json]

Prints one tenant's record: CPO name, disabled, created, server domains, wildcards, IP ranges,
rate limit overrides.

Options:
  --json   {"tenant": {...}} as in pki tenants list --json

Exit codes: 0, 2 no such tenant (or a malformed id), 75 the store is unreachable, 1 anything else.
`,
  options: {},
  positionals: { min: 1, max: 1 },
  run: async (values, positionals, ctx) => (await import('./tenants-run.js')).tenantsShow(values, positionals, ctx),
};

function toggleCommand(disable: boolean): Command {
  const verb = disable ? 'disable' : 'enable';
  return {
    name: `tenants ${verb}`,
    summary: disable ? 'disable a tenant: the RA refuses its tokens (403)' : 'enable a disabled tenant again',
    help: `Usage: pki tenants ${verb} ID [--json]

${
  disable
    ? `Disables a tenant: from its next request on, every RA instance refuses the tenant's tokens with
403, and the CA refuses to sign for it. Its certificates stay valid (revoke them separately).`
    : 'Enables a disabled tenant: the RA accepts its tokens again.'
} Written to the audit log (tenant.${verb}d); nothing is written when the tenant is ${verb}d already.

Options:
  --json   {"tenant": {...}, "changed": bool}

Exit codes: 0 done (or ${verb}d already), 2 no such tenant (or a malformed id), 75 the store is
unreachable, 1 anything else.
`,
    options: {},
    positionals: { min: 1, max: 1 },
    run: async (_values, positionals, ctx) => (await import('./tenants-run.js')).tenantsToggle(disable, positionals, ctx),

  };
}

/** `pki tenants add|list|show|disable|enable`. */
export const tenantsCommands: Command[] = [addCommand, listCommand, showCommand, toggleCommand(true), toggleCommand(false)];
