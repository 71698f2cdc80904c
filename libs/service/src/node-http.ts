import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { AppError, toProblem } from './errors.js';

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

/** Server-wide limits so that slow or huge requests cannot hold connections. */
export const SERVER_LIMITS = { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 65_000, maxHeaderSize: 16 * 1024 } as const;

/** Applies SERVER_LIMITS' timeouts to a server (express creates its own, so this is separate). */
export function applyServerLimits(server: Server): Server {
  server.requestTimeout = SERVER_LIMITS.requestTimeout;
  server.headersTimeout = SERVER_LIMITS.headersTimeout;
  server.keepAliveTimeout = SERVER_LIMITS.keepAliveTimeout;
  return server;
}
