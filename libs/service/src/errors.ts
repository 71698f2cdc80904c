import { StoreNotDurableError, StoreUnavailableError } from '@evpki/store';

/**
 * A failure of the store itself rather than of a request: unreachable or timed out
 * (StoreUnavailableError), not durable, an LMDB error (MDB_*), or an error reply from Redis.
 * What store_errors_total counts.
 */
export function isStoreFailure(err: unknown): boolean {
  if (err instanceof StoreUnavailableError || err instanceof StoreNotDurableError) return true;
  const e = err as { name?: unknown; message?: unknown } | null | undefined;
  return e?.name === 'ReplyError' || (typeof e?.message === 'string' && /\bMDB_[A-Z_]+/.test(e.message));
}

/**
 * The one error type of the services. Kinds carry no HTTP; `toProblem` maps them at the edge to
 * application/problem+json (RFC 9457), with `violations` naming the rules for policy failures.
 */
export type ErrorKind =
  | 'malformed'
  | 'policy'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'method-not-allowed'
  | 'conflict'
  | 'too-large'
  | 'unsupported-media-type'
  | 'rate-limited'
  | 'unavailable'
  | 'internal';

export interface RuleViolation {
  readonly rule: string;
  readonly message: string;
}

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly violations?: readonly RuleViolation[],
    readonly retryAfterSeconds?: number,
    /** WWW-Authenticate for 401 and 403 (RFC 6750 3). */
    readonly challenge?: string,
    /** The methods a 405 names in its Allow header (RFC 9110 15.5.6). */
    readonly allow?: readonly string[],
  ) {
    super(message);
  }
}

const STATUS: Record<ErrorKind, [number, string]> = {
  malformed: [400, 'Malformed request'],
  policy: [422, 'Policy violation'],
  unauthorized: [401, 'Unauthorized'],
  forbidden: [403, 'Forbidden'],
  'not-found': [404, 'Not found'],
  'method-not-allowed': [405, 'Method not allowed'],
  conflict: [409, 'Conflict'],
  'too-large': [413, 'Payload too large'],
  'unsupported-media-type': [415, 'Unsupported media type'],
  'rate-limited': [429, 'Too many requests'],
  unavailable: [503, 'Service unavailable'],
  internal: [500, 'Internal error'],
};

/** Retry-After when the store is down: reconnection is attempted every second. */
const STORE_RETRY_SECONDS = 2;

export interface Problem {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: {
    type: string;
    title: string;
    status: number;
    detail?: string;
    violations?: RuleViolation[];
  };
}

/** 405 for a route that exists with other methods (RFC 9110 15.5.6): HEAD goes with GET. */
export function methodNotAllowed(allow: readonly string[], violations?: RuleViolation[]): AppError {
  return new AppError('method-not-allowed', `use ${allow.join(' or ')}`, violations, undefined, undefined, allow);
}

export function kindForStatus(status: number): ErrorKind {
  const hit = (Object.entries(STATUS) as [ErrorKind, [number, string]][]).find(([, [s]]) => s === status);
  return hit ? hit[0] : status >= 500 ? 'unavailable' : 'malformed';
}

/** Maps any thrown value to a problem; unknown errors become a 500 with no detail. */
export function toProblem(err: unknown): Problem {
  const e =
    err instanceof AppError
      ? err
      : err instanceof StoreUnavailableError
        ? new AppError('unavailable', 'the store is unavailable; try again later', undefined, STORE_RETRY_SECONDS)
        : new AppError('internal', 'internal error');
  const [status, title] = STATUS[e.kind];
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (e.retryAfterSeconds !== undefined) headers['retry-after'] = String(e.retryAfterSeconds);
  if (e.challenge) headers['www-authenticate'] = e.challenge;
  else if (e.kind === 'unauthorized') headers['www-authenticate'] = 'Bearer';
  if (e.allow) headers.allow = e.allow.join(', ');
  // The rest of an oversized body is not read: the connection is closed after the answer.
  if (e.kind === 'too-large') headers.connection = 'close';
  const body: Problem['body'] = { type: `urn:evpki:problem:${e.kind}`, title, status };
  if (e.kind !== 'internal') body.detail = e.message.slice(0, 2000);
  if (e.violations?.length) body.violations = e.violations.slice(0, 50).map((v) => ({ rule: v.rule, message: v.message.slice(0, 500) }));
  return { status, headers, body };
}
