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
   * What is written for an answer held in memory (pre-signed or signed live, served many times),
   * made once per answer, not per request (hot path, issue 17). Its body stays the Buffer it is (a
   * latin1 copy, written with the header block in one write, was no faster and held 14 MB more at
   * 10,000 answers).
   * - its header blocks as name/value arrays (writeHead takes them without building an object);
   *   a GET one is renewed once a second (Cache-Control max-age and Expires count down);
   * - its counters per method (pki_ocsp_responses_total and the request count), found once.
   * Only for answers held in memory (Answer.held): one read from the store for a single request
   * (nearly every request at a million certificates) gets a wire of its own that goes with it, not
   * an entry in this WeakMap (entries for answers gone at once grew the old generation: issue 17,
   * RSS flat from 1,000 to 1,000,000 certificates).
   */
  const wires = new WeakMap<Answer, Wire>();
  function wireOf(a: Answer & { cache: NonNullable<Answer['cache']> }): Wire {
    let w = a.held ? wires.get(a) : undefined;
    if (!w) {
      const length = String(a.body.length);
      w = { length, postHeaders: ['content-type', OCSP_RESPONSE, 'content-length', length], getSecond: NaN, getMaxAge: NaN, getHeaders: [], lastModified: new Date(a.cache.thisUpdate).toUTCString() };
      if (a.held) wires.set(a, w);
    }
    return w;
  }
  function countOk(method: 'GET' | 'POST', a: Answer, w: Wire | undefined): void {
    if (!w || !a.held) return count(method, a); // for one request (a nonce, a store read): not worth remembering
    let inc = method === 'GET' ? w.countGet : w.countPost;
    if (!inc) {
      count(method, a);
      const route = method === 'GET' ? 'GET /ocsp/{request}' : 'POST /ocsp';
      const response = counters.get(`${method} ${a.outcome} ${a.status} ${a.tenant ?? ''}`)!;
      const request = requestCounters.get(`${route} 200`)!;
      inc = (): void => {
        response();
        request();
        if (debug) log.debug({ event: 'http.request', route, status: 200 }, 'request');
      };
      if (method === 'GET') w.countGet = inc;
      else w.countPost = inc;
      return;
    }
    inc();
  }

  /** RFC 5019 6.2: cacheable until nextUpdate at the latest, capped so that caches revalidate; the strings made once a second. */
  function cacheHeaders(cache: NonNullable<Answer['cache']>, t: number): typeof clock {
    const maxAge = Math.max(0, Math.min(d.httpMaxAgeSeconds, Math.floor((cache.nextUpdate - t) / 1000)));
    const second = Math.floor(t / 1000);
    if (second !== clock.second || maxAge !== clock.maxAge)
      clock = { second, maxAge, cacheControl: `max-age=${maxAge}, public, no-transform, must-revalidate`, expires: new Date(t + maxAge * 1000).toUTCString() };
    return clock;
  }

  /** The GET header block of a held answer now (RFC 5019 6.2), renewed when its max-age or the second moved. */
  function getHeaders(a: Answer & { cache: NonNullable<Answer['cache']> }, w: Wire, t: number): string[] {
    const c = cacheHeaders(a.cache, t);
    if (c.second !== w.getSecond || c.maxAge !== w.getMaxAge) {
      w.getSecond = c.second;
      w.getMaxAge = c.maxAge;
      w.getHeaders = ['content-type', OCSP_RESPONSE, 'cache-control', c.cacheControl, 'etag', a.cache.etag, 'last-modified', w.lastModified, 'expires', c.expires, 'content-length', w.length];
    }
    return w.getHeaders;
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
  // Parallel arrays, not an object per answer (hot path).
  let outRes: ServerResponse[] = [];
  let outStatus: number[] = [];
  let outHeaders: Headers[] = [];
  let outBody: (Buffer | undefined)[] = [];
  function flushOutbox(): void {
    const [res, status, headers, body] = [outRes, outStatus, outHeaders, outBody];
    outRes = [];
    outStatus = [];
    outHeaders = [];
    outBody = [];
    for (let i = 0; i < res.length; i++) writeOut(res[i]!, status[i]!, headers[i]!, body[i]);
  }
  function writeOut(res: ServerResponse, status: number, headers: Headers, body: Buffer | undefined): void {
    if (res.destroyed) return;
    try {
      res.writeHead(status, headers);
      res.end(body);
    } catch (err) {
      log.error({ err }, 'could not write an OCSP answer');
      res.destroy();
    }
  }
  function reply(res: ServerResponse, status: number, headers: Headers, body?: Buffer): void {
    // An answer that ends its connection (HTTP/1.0, Connection: close: most real OCSP clients) has
    // no later answer on that connection to share a wake-up with: it goes at once.
    if (!res.shouldKeepAlive) return writeOut(res, status, headers, body);
    if (outRes.push(res) === 1) setImmediate(flushOutbox);
    outStatus.push(status);
    outHeaders.push(headers);
    outBody.push(body);
  }

  return {
    countRequest,

    /** An OCSP answer; a GET one with its caching headers (RFC 5019 6.2), 304 when the client has it (If-None-Match). */
    send(res: ServerResponse, a: Answer, method: 'GET' | 'POST', get: boolean, ifNoneMatch?: string): void {
      const held = a.cache === undefined ? undefined : (a as Answer & { cache: NonNullable<Answer['cache']> });
      const w = held && wireOf(held);
      if (!get) {
        countOk(method, a, w);
        return reply(res, 200, w ? w.postHeaders : { 'content-type': OCSP_RESPONSE, 'content-length': a.body.length }, a.body);
      }
      if (!held || !w) {
        countOk(method, a, w);
        return reply(res, 200, { 'content-type': OCSP_RESPONSE, 'cache-control': 'no-store', 'content-length': a.body.length }, a.body);
      }
      const headers = getHeaders(held, w, d.now().getTime());
      if (ifNoneMatch !== undefined && noneMatchFails(ifNoneMatch, held.cache.etag)) {
        count(method, a, 304);
        // The same headers but Content-Length (a 304 has no body; RFC 9110 15.4.5).
        return reply(res, 304, headers.slice(0, -2));
      }
      countOk(method, a, w);
      reply(res, 200, headers, held.body);
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

/**
 * Whether an If-None-Match field fails for a representation with entity tag `etag` (RFC 9110
 * 13.1.2): `*`, or a listed entity tag that matches by the weak comparison (the opaque tags equal,
 * W/ ignored). Then a GET is answered 304. Reading stops where the list syntax breaks: nothing
 * after that point matches.
 */
export function noneMatchFails(field: string, etag: string): boolean {
  if (field === etag) return true; // the one tag a cache sends back: no parsing
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  const s = field.trim();
  if (s === '*') return true;
  // #entity-tag: [ W/ ] DQUOTE *etagc DQUOTE, separated by commas and optional whitespace; etagc
  // excludes DQUOTE (and may include commas), so each tag ends at its closing quote.
  for (let i = 0; i < s.length; ) {
    while (s[i] === ' ' || s[i] === '\t' || s[i] === ',') i++;
    if (i >= s.length) break;
    const start = s.startsWith('W/', i) ? i + 2 : i;
    if (s[start] !== '"') return false;
    const end = s.indexOf('"', start + 1);
    if (end < 0) return false;
    if (s.slice(start, end + 1) === opaque) return true;
    i = end + 1;
    while (s[i] === ' ' || s[i] === '\t') i++;
    if (i < s.length && s[i] !== ',') return false;
  }
  return false;
}

/** A header block for writeHead: an object, or names and values in turn. */
type Headers = Record<string, string | number> | string[];

/** What replies.ts writes for an answer held in memory (createReplies, wireOf). */
interface Wire {
  readonly length: string;
  readonly postHeaders: string[];
  readonly lastModified: string;
  /** The GET header block, made for this second and max-age. */
  getHeaders: string[];
  getSecond: number;
  getMaxAge: number;
  countGet?: () => void;
  countPost?: () => void;
}
