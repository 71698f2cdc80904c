import type { IncomingMessage, ServerResponse } from 'node:http';
import { ocspErrorResponse } from '@evpki/ocsp';
import { AppError, sendProblem, type Logger } from '@evpki/service';
import type { OcspMetrics } from './metrics.js';
import type { Answer } from './responder.js';
import { Tallies } from './tally.js';

const OCSP_RESPONSE = 'application/ocsp-response';

export interface RepliesDeps {
  readonly metrics: OcspMetrics;
  readonly log: Logger;
  readonly now: () => Date;
  /** RFC 5019 6.2: how long a cache may keep a GET answer at most (OCSP_HTTP_MAX_AGE_SECONDS). */
  readonly httpMaxAgeSeconds: number;
}

/**
 * How the responder writes its answers, and counts them: OCSP answers with their caching headers,
 * batched per event-loop turn; OCSP errors in a 200 (RFC 6960 2.3); every other failure as a
 * problem. Hot path (docs/architecture.md "Hot paths"): label lookups and date formatting are done once, not per
 * response.
 */
export function createReplies(d: RepliesDeps) {
  const { metrics, log } = d;
  const responseTallies = new Tallies(metrics.responses);
  const requestTallies = new Tallies(metrics.requests);
  const counters = new Map<string, () => void>();
  const requestCounters = new Map<string, () => void>();
  /** Debug logs are off in production; checked once, not per request (hot path). */
  const debug = log.isLevelEnabled('debug');
  const lastModified = new WeakMap<NonNullable<Answer['cache']>, string>();
  let clock = { second: NaN, maxAge: NaN, cacheControl: '', expires: '' };

  /** pki_ocsp_http_requests_total by route label and HTTP status. */
  function countRequest(route: string, status: number): void {
    const k = `${route} ${status}`;
    let c = requestCounters.get(k);
    if (!c) requestCounters.set(k, (c = requestTallies.of({ route, status: String(status) })));
    c();
    if (debug) log.debug({ event: 'http.request', route, status }, 'request');
  }

  /**
   * The two counters of an answer held in memory (pre-signed or signed live, served many times) as
   * a 200 to `method`: found once per answer, not by building label keys on every request.
   */
  const heldCounters = { GET: new WeakMap<Answer, () => void>(), POST: new WeakMap<Answer, () => void>() };
  function countOk(method: 'GET' | 'POST', a: Answer): void {
    if (!a.cache) return count(method, a); // signed for one request (nonce): not worth remembering
    let inc = heldCounters[method].get(a);
    if (!inc) {
      count(method, a);
      const route = method === 'GET' ? 'GET /ocsp/{request}' : 'POST /ocsp';
      const response = counters.get(`${method} ${a.outcome} ${a.status} ${a.tenant ?? ''}`)!;
      const request = requestCounters.get(`${route} 200`)!;
      heldCounters[method].set(a, (inc = (): void => {
        response();
        request();
        if (debug) log.debug({ event: 'http.request', route, status: 200 }, 'request');
      }));
      return;
    }
    inc();
  }

  /** pki_ocsp_responses_total: an answer's status (or OCSP error), source and tenant, and the request's route and HTTP status. */
  function count(method: string, a: Pick<Answer, 'outcome' | 'status' | 'tenant'>, httpStatus = 200): void {
    const k = `${method} ${a.outcome} ${a.status} ${a.tenant ?? ''}`;
    let c = counters.get(k);
    if (!c) {
      const source = a.outcome === 'presigned' ? 'presigned' : a.outcome === 'signed' ? 'live' : 'unsigned';
      const status = source === 'unsigned' ? a.outcome : (a.status ?? 'unknown');
      counters.set(k, (c = responseTallies.of({ status, source, method, tenant: a.tenant ?? '' })));
    }
    c();
    countRequest(method === 'GET' ? 'GET /ocsp/{request}' : 'POST /ocsp', httpStatus);
  }

  // Answers are written together once the event loop has handled every request that was ready
  // (setImmediate runs right after the poll phase). Back-to-back writes wake a waiting client once
  // per batch instead of once per response: that wake-up costs more than finding a pre-signed answer.
  let outbox: { res: ServerResponse; status: number; headers: Record<string, string | number>; body: Buffer | undefined }[] = [];
  function flushOutbox(): void {
    const batch = outbox;
    outbox = [];
    for (const o of batch) writeOut(o);
  }
  function writeOut(o: (typeof outbox)[number]): void {
    if (o.res.destroyed) return;
    try {
      o.res.writeHead(o.status, o.headers);
      o.res.end(o.body);
    } catch (err) {
      log.error({ err }, 'could not write an OCSP answer');
      o.res.destroy();
    }
  }
  function reply(res: ServerResponse, status: number, headers: Record<string, string | number>, body?: Buffer): void {
    // An answer that ends its connection (HTTP/1.0, Connection: close: most real OCSP clients) has
    // no later answer on that connection to share a wake-up with: it goes at once.
    if (!res.shouldKeepAlive) return void writeOut({ res, status, headers, body });
    if (outbox.push({ res, status, headers, body }) === 1) setImmediate(flushOutbox);
  }

  return {
    countRequest,

    /** An OCSP answer; a GET one with its caching headers (RFC 5019 6.2), 304 when the client has it (If-None-Match). */
    send(res: ServerResponse, a: Answer, method: 'GET' | 'POST', get: boolean, ifNoneMatch?: string): void {
      if (!get) {
        countOk(method, a);
        return reply(res, 200, { 'content-type': OCSP_RESPONSE, 'content-length': a.body.length }, a.body);
      }
      const headers: Record<string, string | number> = { 'content-type': OCSP_RESPONSE };
      if (a.cache) {
        // RFC 5019 6.2: cacheable until nextUpdate at the latest, capped so that caches revalidate.
        const t = d.now().getTime();
        const maxAge = Math.max(0, Math.min(d.httpMaxAgeSeconds, Math.floor((a.cache.nextUpdate - t) / 1000)));
        const second = Math.floor(t / 1000);
        if (second !== clock.second || maxAge !== clock.maxAge)
          clock = { second, maxAge, cacheControl: `max-age=${maxAge}, public, no-transform, must-revalidate`, expires: new Date(t + maxAge * 1000).toUTCString() };
        let modified = lastModified.get(a.cache);
        if (modified === undefined) lastModified.set(a.cache, (modified = new Date(a.cache.thisUpdate).toUTCString()));
        headers['cache-control'] = clock.cacheControl;
        headers.etag = a.cache.etag;
        headers['last-modified'] = modified;
        headers.expires = clock.expires;
        if (ifNoneMatch === a.cache.etag) {
          count(method, a, 304);
          return reply(res, 304, headers);
        }
      } else headers['cache-control'] = 'no-store';
      countOk(method, a);
      headers['content-length'] = a.body.length;
      reply(res, 200, headers, a.body);
    },

    /** malformedRequest in a 200; `close` when the rest of an oversized body is not read. */
    sendMalformed(res: ServerResponse, method: string, close: boolean): void {
      count(method, { outcome: 'malformedRequest' });
      const body = ocspErrorResponse('malformedRequest');
      reply(res, 200, { 'content-type': OCSP_RESPONSE, 'content-length': body.length, 'cache-control': 'no-store', ...(close ? { connection: 'close' } : {}) }, body);
    },

    /** Any failure while answering a request (`route`: its label): OCSP routes answer internalError in a 200 (RFC 6960 2.3), others a problem. */
    fail(req: IncomingMessage, res: ServerResponse, err: unknown, route: string): void {
      if (metrics.countStoreError(route, err)) log.warn({ err: (err as Error).message, route }, 'store unavailable');
      else if (!(err instanceof AppError)) log.error({ err }, 'unexpected error');
      if (res.headersSent) return void res.destroy();
      const refusedMethod = err instanceof AppError && err.kind === 'method-not-allowed';
      if (!refusedMethod && ((req.url ?? '').startsWith('/ocsp') || req.method === 'POST')) {
        // Regression (fuzz): PUT/DELETE /ocsp answered internalError; a request we refuse is malformedRequest.
        const status = err instanceof AppError && err.kind === 'malformed' ? 'malformedRequest' : 'internalError';
        count(req.method === 'POST' ? 'POST' : 'GET', { outcome: status });
        const body = ocspErrorResponse(status);
        res.writeHead(200, { 'content-type': OCSP_RESPONSE, 'content-length': body.length, 'cache-control': 'no-store' });
        return void res.end(body);
      }
      sendProblem(res, err);
      countRequest(route, res.statusCode);
    },
  };
}
export type Replies = ReturnType<typeof createReplies>;
