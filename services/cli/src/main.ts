import { parseArgs, type ParseArgsConfig } from 'node:util';
import { auditCommands } from './audit-commands.js';
import { CliError } from './cli-error.js';
import type { Command, CommandContext, OptionValues } from './command.js';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { crlSignCommand } from './crl-command.js';
import { initCommand } from './init-command.js';
import { ocspResignCommand } from './ocsp-resign-command.js';
import { redisAclCommand } from './redis-acl-command.js';
import { createProgress, type Progress } from './progress.js';
import { renewCommand } from './renew-command.js';
import { rotationCommands } from './rotation-commands.js';
import { serviceCertsRenewCommand } from './service-certs-command.js';
import { stationsImportCommand } from './stations-import-command.js';
import { tenantsCommands } from './tenants-commands.js';
import { clientsCommands } from './clients-commands.js';
import { manufacturersCommands } from './manufacturers-commands.js';
import { tokenCommand } from './token-command.js';
import { v2gImportCommand, v2gInitCommand } from './v2g-command.js';

/** Every `pki` command, in the order `pki --help` lists them. */
const COMMANDS: readonly Command[] = [initCommand, tokenCommand, renewCommand, stationsImportCommand, ...tenantsCommands, ...clientsCommands, ...manufacturersCommands, ocspResignCommand, ...rotationCommands, serviceCertsRenewCommand, crlSignCommand, v2gInitCommand, v2gImportCommand, redisAclCommand, ...auditCommands];

/** Options every command takes, before or after its name. */
const GLOBAL_OPTIONS = {
  'data-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', short: 'q', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return `pki: administer the EV charging PKI

Usage: pki [--data-dir DIR] [--json] [--quiet] COMMAND [OPTIONS]
       pki COMMAND --help      that command's options

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}

Global options:
  --data-dir DIR   PKI data directory (default: $PKI_DATA_DIR or ./data); REDIS_URL selects the Redis store
  --json           print one JSON document on stdout instead of text
  -q, --quiet      no progress output on stderr
  -h, --help       this help, or a command's with pki COMMAND --help

${EXIT_CODES_HELP}`;
}

const isHelp = (a: string): boolean => a === '-h' || a === '--help';

/**
 * The command named by the first one or two words of `argv` (global options may come first), and
 * the arguments left for it. `help` alone is undefined.
 */
function findCommand(argv: readonly string[]): { command?: Command; rest: string[]; help: boolean } {
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '--') i += argv[i] === '--data-dir' ? 2 : 1;
  const word = argv[i];
  if (word === undefined || word === '--') return { rest: [...argv], help: argv.some(isHelp) };
  const before = argv.slice(0, i);
  let help = false;
  let words = [word];
  let j = i + 1;
  if (word === 'help') {
    // pki help [COMMAND...]
    help = true;
    words = [];
    while (j < argv.length && !argv[j]!.startsWith('-')) words.push(argv[j++]!);
    if (!words.length) return { rest: [], help: true };
  } else if (argv[j] !== undefined && !argv[j]!.startsWith('-') && COMMANDS.some((c) => c.name === `${word} ${argv[j]}`)) words.push(argv[j++]!);
  const name = words.slice(0, 2).join(' ');
  const command = COMMANDS.find((c) => c.name === name) ?? (help ? COMMANDS.find((c) => c.name === words[0]) : undefined);
  if (!command) {
    const group = COMMANDS.filter((c) => c.name.startsWith(`${words[0]} `));
    if (group.length) throw new CliError(`"${words[0]}" needs a subcommand: ${group.map((c) => c.name).join(', ')}; see pki --help`, EXIT.badInput);
    throw new CliError(`unknown command "${name}"; see pki --help`, EXIT.badInput);
  }
  return { command, rest: [...before, ...argv.slice(j)], help };
}

/** `pki`'s whole run; returns the exit code. */
async function main(argv: string[]): Promise<number> {
  const { command, rest, help } = findCommand(argv);
  const helpAsked = help || rest.slice(0, rest.includes('--') ? rest.indexOf('--') : undefined).some(isHelp);
  if (!command) {
    if (helpAsked) {
      process.stdout.write(usage());
      return EXIT.ok;
    }
    // Options without a command: strict parsing reports an unknown one; else usage, exit 2.
    parseStrict(rest, GLOBAL_OPTIONS, undefined);
    process.stderr.write(usage());
    return EXIT.badInput;
  }
  if (helpAsked) {
    process.stdout.write(command.help.endsWith('\n') ? command.help : command.help + '\n');
    return EXIT.ok;
  }
  const { values, positionals } = parseStrict(rest, { ...command.options, ...GLOBAL_OPTIONS }, command);
  const p = command.positionals;
  if (p && (positionals.length < p.min || positionals.length > p.max)) {
    const got = positionals.length ? ` (got ${positionals.map((a) => JSON.stringify(a)).join(' ')})` : '';
    const wanted = p.max === 0 ? 'takes no arguments' : p.min === p.max ? `takes ${p.min} argument(s)` : `takes ${p.min} to ${p.max} arguments`;
    throw new CliError(`pki ${command.name} ${wanted}${got}; see pki ${command.name} --help`, EXIT.badInput);
  }
  const quiet = values.quiet === true;
  let bar: Progress | undefined;
  const ctx: CommandContext = {
    dataDir: (values['data-dir'] as string | undefined) ?? process.env.PKI_DATA_DIR ?? './data',
    env: process.env,
    json: values.json === true,
    quiet,
    out: (t) => process.stdout.write(t),
    err: (t) => {
      bar?.clearLine();
      process.stderr.write(t);
    },
    progress: (unit, total) => (bar = createProgress({ unit, ...(total === undefined ? {} : { total }), stream: process.stderr, quiet })),
  };
  return command.run(values as OptionValues, positionals, ctx);
}

/** parseArgs, strict: an unknown option or a missing value is a one-line error, exit 2. */
function parseStrict(args: string[], options: NonNullable<ParseArgsConfig['options']>, command: Command | undefined): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    if (!err.code?.startsWith('ERR_PARSE_ARGS')) throw e;
    const where = command ? `pki ${command.name}` : 'pki';
    const unknown = /^Unknown option '([^']+)'/.exec(err.message);
    const message = unknown ? `unknown option ${unknown[1]} for ${where}` : err.message.split('\n')[0]!;
    throw new CliError(`${message}; see ${where} --help`, EXIT.badInput);
  }
}

// Every file and directory the CLI creates is owner-only (the data directory is private; reports and
// exports too; `pki renew` sets its files' modes itself).
process.umask(0o077);

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    const err = e as Error & { code?: string };
    process.stderr.write(`pki: ${err.message ?? String(e)}\n`);
    if (e instanceof CliError) process.exitCode = e.exitCode;
    // Configuration (REDIS_URL and friends, pki.json) is bad input; a store that cannot be reached is temporary.
    else if (err.name === 'ConfigError') process.exitCode = EXIT.badInput;
    else if (err.name === 'StoreUnavailableError') process.exitCode = EXIT.tempFail;
    else process.exitCode = EXIT.failure;
  },
);
