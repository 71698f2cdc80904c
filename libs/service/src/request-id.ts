import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** The header a request id travels in: from the caller, on every RA answer, from the RA to the CA. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** What a caller's id may look like: it goes into logs and headers, so nothing that could forge a line or a header. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's X-Request-Id when it matches REQUEST_ID_PATTERN (one header, not a list), else a new UUID. */
export function acceptRequestId(raw: string | string[] | undefined): string {
  return typeof raw === 'string' && REQUEST_ID_PATTERN.test(raw) ? raw : randomUUID();
}

const requestIds = new AsyncLocalStorage<string>();

/** Runs `fn` as the request `id`: every log line written meanwhile carries it (createLogger), and so do calls to the CA. */
export function withRequestId<T>(id: string, fn: () => T): T {
  return requestIds.run(id, fn);
}

/** The id of the request being served, if any. */
export function currentRequestId(): string | undefined {
  return requestIds.getStore();
}
