import { Writable } from 'node:stream';
import { createRequire } from 'node:module';
import type * as Pino from 'pino';
import type { DestinationStream, Logger } from 'pino';
import { ConfigError } from './config.js';

export type { Logger } from 'pino';

/** pino, loaded on first use (CommonJS: the same instance as an import): the pki CLI imports this library and logs nothing (its startup time). */
let pinoModule: typeof Pino | undefined;
const pinoLib = (): typeof Pino => (pinoModule ??= createRequire(import.meta.url)('pino') as typeof Pino);

/**
 * Fields redacted wherever a log call might carry them (the services never log them on purpose):
 * credentials and headers that hold them, keys, passphrases, and a parse error's raw request body.
 */
export const LOG_REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  '*.authorization',
  'token',
  '*.token',
  'passphrase',
  '*.passphrase',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'privateKey',
  '*.privateKey',
  'err.body',
];

export type LogFormat = 'json' | 'pretty';

/** LOG_FORMAT: `json` (one object a line, for collectors; the default) or `pretty` (for a terminal). */
export function logFormat(raw = process.env.LOG_FORMAT): LogFormat {
  if (raw === undefined || raw === '' || raw === 'json') return 'json';
  if (raw === 'pretty') return 'pretty';
  throw new ConfigError(`LOG_FORMAT must be json or pretty, got "${raw}"`);
}

const PRETTY_SKIP = new Set(['time', 'level', 'name', 'msg', 'requestId', 'pid', 'hostname']);

/** One JSON log line as `time LEVEL name [requestId] msg {other fields}`; not JSON: as it is. */
export function prettyLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const rest = Object.fromEntries(Object.entries(o).filter(([k]) => !PRETTY_SKIP.has(k)));
  const fields = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
  const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? '');
  const id = o.requestId ? ` [${text(o.requestId)}]` : '';
  return `${text(o.time)} ${text(o.level).toUpperCase().padEnd(5)} ${text(o.name)}${id} ${text(o.msg ?? '')}${fields}\n`;
}

/** A destination that writes each pino line pretty-printed to `out`. */
function prettyDestination(out: DestinationStream | NodeJS.WritableStream): DestinationStream {
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      out.write(prettyLine(String(chunk)));
      done();
    },
  });
}

/**
 * Structured logs (pino) on stdout, or on `destination` (tests capture them): level names, ISO
 * timestamps, JSON or pretty (LOG_FORMAT); a request's lines carry its id through its child logger
 * (request-id.ts requestScope). Authorization headers, tokens, keys and passphrases are redacted.
 */
export function createLogger(service: string, level = process.env.PKI_LOG_LEVEL ?? 'info', destination?: DestinationStream, format: LogFormat = logFormat()): Logger {
  const { pino } = pinoLib();
  const options = {
    name: service,
    level,
    redact: { paths: [...LOG_REDACT_PATHS], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (format === 'pretty') return pino(options, prettyDestination(destination ?? process.stdout));
  return destination ? pino(options, destination) : pino(options);
}
