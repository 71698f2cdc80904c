import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REDIS_ACL_USER_NAMES, redisAclFile } from '@evpki/store';
import { CliError } from './cli-error.js';
import type { Command } from './command.js';
import { EXIT } from './exit-codes.js';

/** As the Redis pod's init container always required: no quoting anywhere (redis-cli, Secrets), and long. */
const PASSWORD = /^[A-Za-z0-9]{32,256}$/;

/**
 * Each user's password from `<dir>/<user>`; a missing file gets a new random password (mode 0600).
 * Returns the users whose file was written.
 */
export function readOrMakeRedisPasswords(dir: string): { passwords: Map<string, string>; generated: string[] } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const passwords = new Map<string, string>();
  const generated: string[] = [];
  for (const user of REDIS_ACL_USER_NAMES) {
    const file = join(dir, user);
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError(`cannot read ${file}: ${(e as Error).message}`, EXIT.badInput);
    }
    if (text === undefined) {
      const password = randomBytes(32).toString('hex');
      // wx: never over a file that appeared meanwhile.
      writeFileSync(file, password + '\n', { mode: 0o600, flag: 'wx' });
      passwords.set(user, password);
      generated.push(user);
      continue;
    }
    const password = text.replace(/\r?\n$/, '');
    if (!PASSWORD.test(password)) throw new CliError(`${file}: a Redis password must be 32 to 256 letters and digits (e.g. openssl rand -hex 32), on one line`, EXIT.badInput);
    passwords.set(user, password);
  }
  return { passwords, generated };
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

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
  async run(values, _positionals, ctx) {
    const dir = values['password-dir'] as string | undefined;
    if (!dir) throw new CliError('--password-dir is required (the users\' password files, created when missing)', EXIT.badInput);
    const { passwords, generated } = readOrMakeRedisPasswords(dir);
    const aclfile = redisAclFile((user) => sha256(passwords.get(user)!));
    const out = values.out as string | undefined;
    if (out) writeFileSync(out, aclfile, { mode: 0o600 });
    if (ctx.json) ctx.out(JSON.stringify({ aclfile, users: REDIS_ACL_USER_NAMES, generated }) + '\n');
    else if (!out) ctx.out(aclfile);
    if (generated.length && !ctx.quiet) ctx.err(`new password(s) for ${generated.join(', ')} in ${dir}\n`);
    return EXIT.ok;
  },
};
