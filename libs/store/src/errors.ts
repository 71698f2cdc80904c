/**
 * The store cannot be reached or did not answer in time. Services answer 503 with Retry-After
 * (the OCSP responder: `tryLater`); the operation either happened whole or not at all.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The store would not keep a write across a crash (e.g. Redis without AOF and no replica wait). */
export class StoreNotDurableError extends Error {
  override readonly name = 'StoreNotDurableError';
}

/** An audit event the log refuses (a field too long, or something that names or looks like a secret): a caller's bug. */
export class AuditEventError extends Error {
  override readonly name = 'AuditEventError';
}
