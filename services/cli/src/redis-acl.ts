import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REDIS_ACL_USER_NAMES, redisAclFile } from '@evpki/store';
import { CliError } from './cli-error.js';
import type { CommandContext, OptionValues } from './command.js';
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

/** `pki redis-acl` (its options and help: redis-acl-command.ts). */
export async function redisAcl(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
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
}
