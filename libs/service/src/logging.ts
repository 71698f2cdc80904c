import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Structured JSON logs. Authorization headers, tokens, keys and passphrases are redacted. */
export function createLogger(service: string, level = process.env.PKI_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: service,
    level,
    redact: {
      paths: ['req.headers.authorization', 'authorization', 'token', '*.token', 'passphrase', '*.passphrase', 'privateKey', '*.privateKey'],
      censor: '[redacted]',
    },
  });
}
