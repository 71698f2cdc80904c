import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OCSP_LIMITS, ocspErrorResponse } from '@evpki/ocsp';
import { AppError, applyServerLimits, methodNotAllowed, serverOptions, createLogger, sendJson, sendProblem, type Logger, type ServiceTls } from '@evpki/service';
import { openStore, type OcspStore } from '@evpki/store';
import type { OcspConfig } from './config.js';
import { createOcspMetrics } from './metrics.js';
import { Presigner } from './presigner.js';
import { Responder, type Answer } from './responder.js';
import { DelegatedSigners, loadServedIssuers, type ServedIssuer } from './signers.js';

export interface OcspSecrets {
  /** The client certificate and key this responder presents to the CA (mutual TLS) to get its delegated signers certified, and the service CA it trusts. */
  readonly caTls: ServiceTls;
}

export interface OcspOverrides {
  readonly store?: OcspStore;
  readonly logger?: Logger;
  readonly now?: () => Date;
}

const OCSP_RESPONSE = 'application/ocsp-response';
/** base64 of the largest request we accept, URL-encoded: well under the header size limit. */
const MAX_GET_PATH = 6 * OCSP_LIMITS.maxRequestBytes;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const SIGNER_CHECK_MS = 60_000;
const ISSUER_PATH = /^\/issuers\/([a-z0-9-]{1,64})\.der$/;
const CRL_PATH = /^\/crl\/([a-z0-9-]{1,64})\.crl$/;

const POST = ['POST'];
const GET = ['GET', 'HEAD'];
const GET_OR_POST = ['GET', 'HEAD', 'POST'];

/** The methods a path answers (HEAD like GET, without the body; RFC 9110 9.3.2), or undefined for no such route. */
function methodsOf(url: string): readonly string[] | undefined {
  if (url === '/ocsp' || url === '/') return POST;
  if (url.startsWith('/ocsp/')) return GET_OR_POST;
  if (url === '/healthz' || url === '/readyz' || url === '/metrics' || ISSUER_PATH.test(url) || CRL_PATH.test(url)) return GET;
  return undefined;
}

/** The route label of a request (bounded: a template, never the URL; an OCSP GET carries the whole request in its path). HEAD counts as GET. */
function routeOf(method: string | undefined, url: string): string {
  if (method === 'POST' && (url === '/ocsp' || url.startsWith('/ocsp/') || url === '/')) return 'POST /ocsp';
  if (method !== 'GET' && method !== 'HEAD') return 'unmatched';
  if (url.startsWith('/ocsp/')) return 'GET /ocsp/{request}';
  if (url === '/healthz' || url === '/readyz' || url === '/metrics') return `GET ${url}`;
  if (ISSUER_PATH.test(url)) return 'GET /issuers/{issuerId}.der';
  if (CRL_PATH.test(url)) return 'GET /crl/{issuerId}.crl';
  return 'unmatched';
}

/**
 * The OCSP responder (RFC 6960 over HTTP, RFC 5019 caching) on plain node:http: it is the
 * hottest path of the product (ARCHITECTURE.md "Hot paths"). OCSP problems are OCSP statuses in
 * an HTTP 200 body, never an HTTP error. It also serves issuer certificates and CRLs.
 */
export function createOcspService(config: OcspConfig, secrets: OcspSecrets, overrides: OcspOverrides = {}) {
  const log = overrides.logger ?? createLogger('ocsp');
  const metrics = createOcspMetrics();
  const store: OcspStore = overrides.store ?? openStore(config.store);
  const now = overrides.now ?? (() => new Date());
  const signers = new DelegatedSigners(config.caUrl, secrets.caTls, log, now);
  const liveSignSeconds = metrics.signSeconds.labels({ kind: 'live' });
  const responder = new Responder({
    store,
    signers,
    nextUpdateSeconds: config.nextUpdateSeconds,
    nonIssued: config.nonIssued,
    now,
    log,
    onLiveSigned: (seconds) => liveSignSeconds.observe(seconds),
    onStoreError: (err) => void metrics.countStoreError('ocsp-answer', err),
  });
  let issuers = new Map<string, ServedIssuer>();
  const presigner = new Presigner({ store, signers, responder, issuers: () => issuers, now, log });
  let server: Server | undefined;
  const timers: NodeJS.Timeout[] = [];
  let presigning: Promise<unknown> = Promise.resolve();

  async function reloadIssuers(): Promise<void> {
    const list = await loadServedIssuers(store, now().getTime());
    issuers = new Map(list.map((i) => [i.id, i]));
    responder.setIssuers(list);
    await signers.refresh(list);
  }

  // Hot path (ARCHITECTURE.md): label lookups and date formatting are done once, not per response.
  const counters = new Map<string, ReturnType<typeof metrics.responses.labels>>();
  /** pki_ocsp_responses_total: an answer's status (or OCSP error) and source, and the request's route and HTTP status. */
  function count(method: string, a: Pick<Answer, 'outcome' | 'status'>, httpStatus = 200): void {
    const k = `${method} ${a.outcome} ${a.status}`;
    let c = counters.get(k);
    if (!c) {
      const source = a.outcome === 'presigned' ? 'presigned' : a.outcome === 'signed' ? 'live' : 'unsigned';
      const status = source === 'unsigned' ? a.outcome : (a.status ?? 'unknown');
      counters.set(k, (c = metrics.responses.labels({ status, source, method })));
    }
    c.inc();
    countRequest(method === 'GET' ? 'GET /ocsp/{request}' : 'POST /ocsp', httpStatus);
  }
  const requestCounters = new Map<string, ReturnType<typeof metrics.requests.labels>>();
  /** Debug logs are off in production; checked once, not per request (hot path). */
  const debug = log.isLevelEnabled('debug');
  function countRequest(route: string, status: number): void {
    const k = `${route} ${status}`;
    let c = requestCounters.get(k);
    if (!c) requestCounters.set(k, (c = metrics.requests.labels({ route, status: String(status) })));
    c.inc();
    if (debug) log.debug({ event: 'http.request', route, status }, 'request');
  }
  const lastModified = new WeakMap<NonNullable<Answer['cache']>, string>();
  let clock = { second: NaN, maxAge: NaN, cacheControl: '', expires: '' };

  // Answers are written together once the event loop has handled every request that was ready
  // (setImmediate runs right after the poll phase). Back-to-back writes wake a waiting client once
  // per batch instead of once per response: that wake-up costs more than finding a pre-signed answer.
  let outbox: { res: ServerResponse; status: number; headers: Record<string, string | number>; body: Buffer | undefined }[] = [];
  function flushOutbox(): void {
    const batch = outbox;
    outbox = [];
    for (const o of batch) {
      if (o.res.destroyed) continue;
      try {
        o.res.writeHead(o.status, o.headers);
        o.res.end(o.body);
      } catch (err) {
        log.error({ err }, 'could not write an OCSP answer');
        o.res.destroy();
      }
    }
  }
  function reply(res: ServerResponse, status: number, headers: Record<string, string | number>, body?: Buffer): void {
    if (outbox.push({ res, status, headers, body }) === 1) setImmediate(flushOutbox);
  }

  function send(res: ServerResponse, a: Answer, method: string, get: boolean, ifNoneMatch?: string): void {
    const headers: Record<string, string | number> = { 'content-type': OCSP_RESPONSE };
    if (get && a.cache) {
      // RFC 5019 6.2: cacheable until nextUpdate at the latest, capped so that caches revalidate.
      const t = now().getTime();
      const maxAge = Math.max(0, Math.min(config.httpMaxAgeSeconds, Math.floor((a.cache.nextUpdate - t) / 1000)));
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
    } else if (get) headers['cache-control'] = 'no-store';
    count(method, a);
    headers['content-length'] = a.body.length;
    reply(res, 200, headers, a.body);
  }

  function sendMalformed(res: ServerResponse, method: string, close: boolean): void {
    count(method, { outcome: 'malformedRequest' });
    const body = ocspErrorResponse('malformedRequest');
    reply(res, 200, { 'content-type': OCSP_RESPONSE, 'content-length': body.length, 'cache-control': 'no-store', ...(close ? { connection: 'close' } : {}) }, body);
  }

  /** Any failure while answering: OCSP routes answer internalError in a 200 (RFC 6960 2.3), others a problem. */
  function fail(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    const route = routeOf(req.method, req.url ?? '/');
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
  }

  /**
   * Reads a POST body up to the OCSP request limit, then calls `done` with it (undefined when it
   * is larger). Callbacks, not a promise: this is the hot path.
   */
  function readRequest(req: IncomingMessage, res: ServerResponse, done: (body: Buffer | undefined) => void): void {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > OCSP_LIMITS.maxRequestBytes) return done(undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    let finished = false;
    const finish = (body: Buffer | undefined): void => {
      if (finished) return;
      finished = true;
      try {
        done(body);
      } catch (err) {
        fail(req, res, err);
      }
    };
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > OCSP_LIMITS.maxRequestBytes) {
        req.removeAllListeners('data');
        req.pause();
        finish(undefined);
      } else chunks.push(c);
    });
    req.on('end', () => finish(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.on('error', (err) => {
      if (!finished) {
        finished = true;
        fail(req, res, err);
      }
    });
  }

  function answerPost(req: IncomingMessage, res: ServerResponse, type: string | undefined, body: Buffer | undefined): void {
    if (body === undefined) return sendMalformed(res, 'POST', true);
    if (type !== undefined && type !== 'application/ocsp-request') return sendMalformed(res, 'POST', false);
    const requestKey = body.toString('latin1');
    const hit = responder.recall(requestKey);
    if (hit) return send(res, hit, 'POST', false);
    responder.answerAndRemember(body, requestKey).then(
      (a) => send(res, a, 'POST', false),
      (err: unknown) => fail(req, res, err),
    );
  }

  /** POST /ocsp, GET /ocsp/{request}: a pre-signed answer from memory is sent synchronously. */
  function handleOcsp(req: IncomingMessage, res: ServerResponse, url: string): void {
    if (req.method === 'POST') {
      const type = req.headers['content-type'];
      return readRequest(req, res, (body) => answerPost(req, res, type, body));
    }
    const ifNoneMatch = req.headers['if-none-match'];
    const hit = responder.recall(url);
    if (hit) return send(res, hit, 'GET', true, ifNoneMatch);
    // GET /ocsp/{url-encoded base64 DER} (RFC 6960 A.1); '/' and '+' may also arrive unencoded.
    let b64 = url.slice('/ocsp/'.length);
    if (b64.length > MAX_GET_PATH) return sendMalformed(res, 'GET', false);
    if (b64.includes('%')) {
      try {
        b64 = decodeURIComponent(b64);
      } catch {
        return sendMalformed(res, 'GET', false);
      }
    }
    if (!BASE64.test(b64) || b64.length % 4 !== 0 || b64.length === 0) return sendMalformed(res, 'GET', false);
    responder.answerAndRemember(Buffer.from(b64, 'base64'), url).then(
      (a) => send(res, a, 'GET', true, ifNoneMatch),
      (err: unknown) => fail(req, res, err),
    );
  }

  const isOcsp = (method: string | undefined, url: string): boolean =>
    (method === 'POST' && (url === '/ocsp' || url.startsWith('/ocsp/') || url === '/')) || ((method === 'GET' || method === 'HEAD') && url.startsWith('/ocsp/'));

  /** Everything but OCSP requests: GET or HEAD (node:http sends HEAD the same headers, content-length included, without the body). */
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const methods = methodsOf(url);
    if (!methods) throw new AppError('not-found', 'no such route');
    if (!methods.includes(req.method ?? '')) throw methodNotAllowed(methods);
    if (url === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (url === '/readyz') {
      const served = [...issuers.values()];
      const storeOk = await store.ping().then(
        () => true,
        (err: unknown) => {
          metrics.countStoreError('GET /readyz', err);
          return false;
        },
      );
      const checks = { store: storeOk, signers: signers.ready(served) };
      const ready = checks.store && checks.signers;
      // Each issuer in service: whether this responder holds a valid delegated signer for it.
      const signerOf = Object.fromEntries(served.map((i) => [i.id, { signer: signers.ready([i]), notAfter: signers.get(i.id)?.certificate.notAfter.toISOString() ?? null }]));
      return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'unready', checks, issuers: signerOf });
    }
    if (url === '/metrics') {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    const issuerCert = ISSUER_PATH.exec(url);
    if (issuerCert) {
      const issuer = await store.getIssuer(issuerCert[1]!);
      if (!issuer) throw new AppError('not-found', 'no such issuer');
      res.writeHead(200, { 'content-type': 'application/pkix-cert', 'content-length': issuer.certificate.length, 'cache-control': 'public, max-age=3600' });
      res.end(issuer.certificate);
      return;
    }
    const crlPath = CRL_PATH.exec(url);
    if (crlPath) {
      const crl = await store.getCrl(crlPath[1]!);
      if (!crl) throw new AppError('not-found', 'no CRL for this issuer');
      const maxAge = Math.max(0, Math.min(config.httpMaxAgeSeconds, Math.floor((Date.parse(crl.nextUpdate) - now().getTime()) / 1000)));
      res.writeHead(200, {
        'content-type': 'application/pkix-crl',
        'content-length': crl.der.length,
        'cache-control': `max-age=${maxAge}, public, no-transform, must-revalidate`,
        'last-modified': new Date(crl.thisUpdate).toUTCString(),
      });
      res.end(crl.der);
      return;
    }
    throw new AppError('not-found', 'no such route');
  }

  function presignSoon(): void {
    presigning = presigning
      .then(() => presigner.runOnce())
      .catch((err: unknown) => {
        metrics.countStoreError('presign', err);
        log.warn({ err }, 'pre-signing failed; will retry');
      });
  }

  return {
    responder,
    presigner,
    /** Re-reads the served issuers and obtains or renews delegated signers that are due (also on a timer). */
    refreshSigners: reloadIssuers,
    signers,
    async start(): Promise<{ port: number }> {
      await reloadIssuers();
      server = createServer(serverOptions(config.http), (req, res) => {
        const url = req.url ?? '/';
        if (isOcsp(req.method, url)) {
          try {
            handleOcsp(req, res, url);
          } catch (err) {
            fail(req, res, err);
          }
          return;
        }
        handle(req, res).then(
          () => countRequest(routeOf(req.method, url), res.statusCode),
          (err: unknown) => fail(req, res, err),
        );
      });
      applyServerLimits(server, config.http);
      await new Promise<void>((resolve) => server!.listen(config.port, config.host, resolve));
      const port = (server.address() as AddressInfo).port;
      timers.push(setInterval(presignSoon, config.presignIntervalMs).unref());
      // Issuers and signers are checked every minute, every half second while a signer is missing.
      const checkSigners = (): void => {
        const ready = signers.ready([...issuers.values()]);
        const t = setTimeout(
          () =>
            void reloadIssuers()
              .catch((err: unknown) => {
                metrics.countStoreError('issuer-reload', err);
                log.warn({ err }, 'issuer reload failed');
              })
              .finally(checkSigners),
          ready ? SIGNER_CHECK_MS : 500,
        );
        timers[1] = t.unref();
      };
      checkSigners();
      presignSoon();
      log.info({ port, issuers: [...issuers.keys()] }, 'OCSP responder listening');
      return { port };
    },
    async stop(): Promise<void> {
      for (const t of timers) clearTimeout(t);
      timers.length = 0;
      await presigning;
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections();
      await signers.close();
      if (!overrides.store) await store.close();
    },
  };
}
