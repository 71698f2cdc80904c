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

/**
 * A problem's `type` (RFC 9457 3.1.1): a URI reference to its explanation, which the RA serves at
 * /docs/problems (one anchor per kind, with the rule catalogue). Relative on purpose: the same
 * identifier in every deployment, and a client resolves it against the RA that answered (behind any
 * ingress or host name) without the RA knowing its public URL.
 */
export const PROBLEM_TYPE_BASE = '/docs/problems#';
export const problemType = (kind: string): string => `${PROBLEM_TYPE_BASE}${kind}`;

/** What each problem kind means, for /docs/problems ('timeout': node:http's own 408, node-http.ts). */
const PROBLEM_DESCRIPTIONS: readonly { kind: ErrorKind | 'timeout'; description: string }[] = [
  { kind: 'malformed', description: 'The request is not what openapi.yaml declares (`violations` name the openapi: path), not valid JSON, or not valid HTTP.' },
  { kind: 'policy', description: 'The request is well-formed but breaks a rule: `violations` name each rule ID (see the catalogue below).' },
  { kind: 'unauthorized', description: 'No bearer token, or one that does not verify (signature, issuer, audience, lifetime). WWW-Authenticate says why.' },
  { kind: 'forbidden', description: 'The token lacks the scope the operation needs, its tenant is disabled, or a rule forbids the caller (PnC-4.2).' },
  { kind: 'not-found', description: 'No such route, or no such object for this tenant (another tenant\'s objects are reported as absent).' },
  { kind: 'method-not-allowed', description: 'The route exists with other methods; Allow lists them.' },
  { kind: 'conflict', description: 'The request conflicts with the current state (e.g. an Idempotency-Key reused for another request).' },
  { kind: 'too-large', description: 'The body (16 KiB) or the headers (16 KiB) are over the limit; the connection is closed after the answer.' },
  { kind: 'unsupported-media-type', description: 'The body\'s Content-Type is not one the operation takes.' },
  { kind: 'rate-limited', description: 'A rate limit was reached (RateLimit.* rules); Retry-After says when to try again.' },
  { kind: 'unavailable', description: 'The store or the CA cannot be reached; Retry-After says when to try again.' },
  { kind: 'timeout', description: 'The headers or the whole request did not arrive in time (PKI_HTTP_*_TIMEOUT_MS).' },
  { kind: 'internal', description: 'An unexpected error; the details are in the service log under the request id (X-Request-Id).' },
];
export const PROBLEM_TYPES: readonly { kind: ErrorKind | 'timeout'; status: number; title: string; description: string }[] = PROBLEM_DESCRIPTIONS.map((p) => {
  const [status, title] = p.kind === 'timeout' ? [408, 'Request timeout'] : STATUS[p.kind];
  return { ...p, status, title };
});

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
  const body: Problem['body'] = { type: problemType(e.kind), title, status };
  if (e.kind !== 'internal') body.detail = e.message.slice(0, 2000);
  if (e.violations?.length) body.violations = e.violations.slice(0, 50).map((v) => ({ rule: v.rule, message: v.message.slice(0, 500) }));
  return { status, headers, body };
}
