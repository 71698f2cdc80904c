import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';

/** The header a request id travels in: from the caller, on every RA answer, from the RA to the CA. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** What a caller's id may look like: it goes into logs and headers, so nothing that could forge a line or a header. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's X-Request-Id when it matches REQUEST_ID_PATTERN (one header, not a list), else a new UUID. */
export function acceptRequestId(raw: string | string[] | undefined): string {
  return typeof raw === 'string' && REQUEST_ID_PATTERN.test(raw) ? raw : randomUUID();
}

/**
 * The request being served: its id, and a logger whose every line carries it. Handed down
 * explicitly (the RA keeps it in `res.locals`, the CA in its CaCall) and sent on to the CA with the
 * calls made for it. Not an AsyncLocalStorage: on Node 20 that turns on promise hooks for every
 * promise of the process, which cost the issuance path about 4 % of its CPU (docs/architecture.md "Hot paths").
 */
export interface RequestScope {
  readonly id: string;
  readonly log: Logger;
}

export function requestScope(log: Logger, id: string): RequestScope {
  return { id, log: log.child({ requestId: id }) };
}
