import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

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

/**
 * Structured JSON logs (pino) on stdout, or on `destination` (tests capture them). Authorization
 * headers, tokens, keys and passphrases are redacted.
 */
export function createLogger(service: string, level = process.env.PKI_LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options = { name: service, level, redact: { paths: [...LOG_REDACT_PATHS], censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
