import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ConfigError, envInt } from './config.js';
import { AppError, problemType, toProblem } from './errors.js';
import { REQUEST_ID_HEADER } from './request-id.js';

/** Reads a request body, refusing more than `limit` bytes without buffering them. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      req.resume();
      reject(new AppError('too-large', `request body larger than ${limit} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new AppError('too-large', `request body larger than ${limit} bytes`));
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

export function sendProblem(res: ServerResponse, err: unknown): void {
  const p = toProblem(err);
  const data = JSON.stringify(p.body);
  res.writeHead(p.status, { ...p.headers, 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

/**
 * Server-wide limits so that slow or huge requests cannot hold connections: the whole header
 * block within `headersTimeout`, the whole request within `requestTimeout` (else 408 and the
 * connection is closed), headers over `maxHeaderSize` answered 431, an idle keep-alive connection
 * closed after `keepAliveTimeout`, and at most `maxRequestsPerSocket` requests on one connection.
 */
export interface HttpLimits {
  readonly headersTimeout: number;
  readonly requestTimeout: number;
  readonly keepAliveTimeout: number;
  readonly maxHeaderSize: number;
  readonly maxRequestsPerSocket: number;
}

export const SERVER_LIMITS: HttpLimits = {
  requestTimeout: 30_000,
  headersTimeout: 10_000,
  keepAliveTimeout: 65_000,
  maxHeaderSize: 16 * 1024,
  maxRequestsPerSocket: 10_000,
};

/**
 * PKI_HTTP_HEADERS_TIMEOUT_MS, PKI_HTTP_REQUEST_TIMEOUT_MS and PKI_HTTP_KEEP_ALIVE_TIMEOUT_MS, for
 * every service (tests use about a second). The header size limit is fixed (16 KiB).
 */
export function loadHttpLimits(env: NodeJS.ProcessEnv): HttpLimits {
  const headersTimeout = envInt(env, 'PKI_HTTP_HEADERS_TIMEOUT_MS', SERVER_LIMITS.headersTimeout, 500, 120_000);
  const requestTimeout = envInt(env, 'PKI_HTTP_REQUEST_TIMEOUT_MS', SERVER_LIMITS.requestTimeout, 1000, 600_000);
  if (requestTimeout < headersTimeout)
    throw new ConfigError(`PKI_HTTP_REQUEST_TIMEOUT_MS (${requestTimeout}) must be at least PKI_HTTP_HEADERS_TIMEOUT_MS (${headersTimeout})`);
  const keepAliveTimeout = envInt(env, 'PKI_HTTP_KEEP_ALIVE_TIMEOUT_MS', SERVER_LIMITS.keepAliveTimeout, 1000, 600_000);
  return { ...SERVER_LIMITS, headersTimeout, requestTimeout, keepAliveTimeout };
}

/**
 * Options for http.createServer and https.createServer. Node checks the header and request
 * timeouts only every `connectionsCheckingInterval` (30 s by default, so a 10 s limit could hold a
 * slow client for 40 s): here at least every second, and at least twice per headers timeout.
 */
export function serverOptions(limits: HttpLimits = SERVER_LIMITS) {
  return {
    headersTimeout: limits.headersTimeout,
    requestTimeout: limits.requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeout,
    maxHeaderSize: limits.maxHeaderSize,
    connectionsCheckingInterval: Math.min(1000, Math.floor(limits.headersTimeout / 2)),
    // HTTPS servers (the CA's API): a TLS handshake is bounded like the headers that follow it.
    handshakeTimeout: limits.headersTimeout,
  };
}

/**
 * Applies the limits a server can still take after its creation, HTTP or HTTPS. Create the server
 * with serverOptions() too: the header size and the checking interval can only be set there.
 */
export function applyServerLimits<S extends Pick<Server, 'requestTimeout' | 'headersTimeout' | 'keepAliveTimeout' | 'maxRequestsPerSocket'>>(
  server: S,
  limits: HttpLimits = SERVER_LIMITS,
): S {
  server.requestTimeout = limits.requestTimeout;
  server.headersTimeout = limits.headersTimeout;
  server.keepAliveTimeout = limits.keepAliveTimeout;
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  answerClientErrors(server as unknown as Pick<Server, 'on'>, limits);
  return server;
}

/**
 * What node:http answers by itself, before any handler runs (headers too large, a timeout, bytes
 * that are not HTTP), as problem+json like every other 4xx, instead of its bare status line, with
 * an X-Request-Id like every answer (a new one: the caller's was not read). The connection is
 * closed after the answer.
 */
export function answerClientErrors(server: Pick<Server, 'on'>, limits: HttpLimits = SERVER_LIMITS): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (!socket.writable || inFlight?.headersSent || err.code === 'ECONNRESET') return void socket.destroy();
    const [status, kind, title, detail] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'too-large', 'Request header fields too large', `request line and headers larger than ${limits.maxHeaderSize} bytes`]
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'timeout', 'Request timeout', `headers not received within ${limits.headersTimeout} ms or request not received within ${limits.requestTimeout} ms`]
          : [400, 'malformed', 'Malformed request', 'the request is not valid HTTP/1.1'];
    const body = JSON.stringify({ type: problemType(kind), title, status, detail });
    const head = `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${REQUEST_ID_HEADER}: ${randomUUID()}\r\nconnection: close\r\n\r\n`;
    socket.end(head + body, () => socket.destroy());
    // A peer that does not read its answer cannot keep the socket either.
    setTimeout(() => socket.destroy(), 1000).unref();
  });
}
