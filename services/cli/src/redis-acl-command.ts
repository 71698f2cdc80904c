import type { Command } from './command.js';

// `pki redis-acl`'s options and help; its implementation (redis-acl.ts) is imported when it runs.

export const redisAclCommand: Command = {
  name: 'redis-acl',
  summary: 'print the Redis ACL file: one user per service (pki-ca, pki-ra, pki-ocsp, pki-cli), each limited to its store view',
  help: `Usage: pki redis-acl --password-dir DIR [--out FILE] [--json]

Prints a Redis 7 ACL file (redis.conf: aclfile) with a user per service, each allowed only the
commands and keys of the store methods that service calls (issue 15):
  pki-ca     certificates, revocations, CRLs, idempotency records, its audit entries; reads
             tenants, stations and issuers; migrates the store's schema
  pki-ra     stations, rate limits, audit entries; reads certificates, tenants and issuers
  pki-ocsp   OCSP responses and the pre-signing schedule; reads certificates, issuers and CRLs
  pki-cli    the pki CLI and Redis administration: every command on the PKI's keys
  default    PING only (health probes)
The services connect with REDIS_USERNAME and REDIS_PASSWORD_FILE.

Each user's password is read from DIR/<user> (32 to 256 letters and digits); a missing file is
created with a new random password, mode 0600. The ACL file holds SHA-256 hashes only. Run it
again after changing a password file, or after an upgrade (the users follow the store), and load
the new file (restart Redis, or ACL LOAD as pki-cli).

Options:
  --password-dir DIR   the password files (created, mode 0700, when missing)
  --out FILE           write the ACL file there (mode 0600) instead of standard output
  --json               print {"aclfile": "...", "users": [...], "generated": [...]}

Exit 2: no --password-dir, a password file that is not a password.
`,
  options: {
    'password-dir': { type: 'string' },
    out: { type: 'string' },
  },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./redis-acl.js')).redisAcl(values, positionals, ctx),
};

