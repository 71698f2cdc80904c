import { createLogger } from './logging.js';

/** What a service's main() runs: start listening, and stop (close listeners, timers, the store). */
export interface RunnableService {
  start(): Promise<unknown>;
  stop(): Promise<void>;
}

/** How long a stop may take after SIGINT/SIGTERM before the process exits anyway. */
const STOP_GRACE_MS = 10_000;

/**
 * The one entry point of every service process (issue 20): nothing ends it silently. A failure at
 * start (configuration, store, port), an unhandled rejection or an uncaught exception (an `error`
 * event nobody listens to, e.g. a listener failing after start) is logged as `service.fatal` with
 * its stack and exits 1; SIGINT/SIGTERM stop the service and exit 0.
 */
export function runService(name: string, create: () => RunnableService): void {
  // Every file and directory the service creates is owner-only (the data directory is private, issue 14.9).
  process.umask(0o077);
  let log: ReturnType<typeof createLogger>;
  try {
    log = createLogger(name);
  } catch (err) {
    // No logger to say it with (LOG_FORMAT is wrong): plainly, on stderr.
    process.stderr.write(`${name}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const fatal = (what: string) => (err: unknown) => {
    log.fatal({ event: 'service.fatal', what, err }, `${name}: ${what}; exiting`);
    process.exit(1);
  };
  process.on('unhandledRejection', fatal('unhandled rejection'));
  process.on('uncaughtException', fatal('uncaught exception'));
  let service: RunnableService;
  try {
    service = create();
  } catch (err) {
    return fatal('could not start')(err);
  }
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      setTimeout(() => process.exit(0), STOP_GRACE_MS).unref();
      service.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ event: 'service.stop-failed', err }, `${name}: stop failed`);
          process.exit(1);
        },
      );
    });
  service.start().catch(fatal('could not start'));
}
