/**
 * Helper process for `make bench-issue` and `make bench-ocsp` (bench-issue.ts and bench-ocsp.ts
 * spawn it; not a test). One HTTP server
 * per process, so that the floors are measured with the same process layout as the services:
 *
 *   bare             node:http, POST answered 201 with a fixed 471-byte JSON body
 *   express          express 5 + express.json, same route and body
 *   express-schemas  express 5 + express.json + the RA's route match and request schemas from
 *                    openapi.yaml (operations.ts, request-schema.ts), route POST /v1/stations/{stationId}/certificates
 *   stub-ca          a CA stand-in on mutual TLS with the CA's service certificate from the data dir
 *                    named by the third argument: GET /v1/ping, POST /v1/sign answered 201 with the
 *                    canned body read from the file named by the second argument, POST /v1/sign/batch
 *                    with that body for each request of the batch (so the real RA runs alone)
 *   ocsp-floor       node:http, GET and POST (any path) answered 200 with the same fixed 471-byte
 *                    body as application/ocsp-response: the OCSP responder's HTTP floor; with
 *                    FLOOR_WORKERS=N (> 1), N node:cluster workers sharing the port, like the
 *                    responder with OCSP_WORKERS=N
 *   raw-floor        node:net, no HTTP at all: on each connection, once the request's header block
 *                    has arrived, the canned bytes of the ocsp-floor answer (same 471-byte body,
 *                    `Connection: close`) and the connection is ended; FLOOR_WORKERS as ocsp-floor.
 *                    The ceiling of the runtime for a connection per request (bench-ocsp, no keep-alive)
 *   scale-floor      node:http for bench-scale: POST answered 200 with the stored pre-signed entry of
 *                    the certificate whose serial ends the request body (its last SERIAL_BYTES), read
 *                    with one Redis GET per request (fourth argument `redis`) or, from memory, the
 *                    entry of one sample serial read once at start (`memory`); then the Redis URL,
 *                    the key prefix (before the serial's hex) and the sample serial's hex. The
 *                    least any responder pays whose answers live in Redis, not in its memory
 *
 * Prints `LISTENING <port>` on stdout once it accepts connections.
 */
import cluster from 'node:cluster';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import express, { type NextFunction, type Request, type Response } from 'express';
import { CA_CONTRACT } from '@evpki/ca-client';
import { OPENAPI_PATH, compileRequestSchemas, loadOperations } from '@evpki/ra';
import { RA_CLIENT_CN, readServiceTls } from '@evpki/service';
import { serialToHex } from '@evpki/x509';
import { SERIAL_BYTES } from './scale/config.js';

const mode = process.argv[2] ?? 'bare';

/** 471 bytes, the body size the node:http/express figures of docs/architecture.md "Hot paths" were measured with. */
const FIXED = (() => {
  const base = { status: 'ok', serialNumber: '0123456789abcdef0123456789abcdef', notBefore: '2026-01-01T00:00:00.000Z', pad: '' };
  const len = JSON.stringify(base).length;
  return JSON.stringify({ ...base, pad: 'x'.repeat(471 - len) });
})();

function drain(req: IncomingMessage, cb: () => void): void {
  req.on('data', () => undefined);
  req.on('end', cb);
}

function listen(server: Server | HttpsServer | NetServer): void {
  if ('keepAliveTimeout' in server) server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`LISTENING ${(server.address() as AddressInfo).port}\n`));
}

if (mode === 'bare' || mode === 'stub-ca') {
  const body = mode === 'stub-ca' ? readFileSync(process.argv[3] ?? '', 'utf8') : FIXED;
  const len = String(Buffer.byteLength(body));
  // The RA's readiness asks the CA's /v1/ping, which names the client.
  const ok = mode === 'stub-ca' ? JSON.stringify({ status: 'ok', client: RA_CLIENT_CN, contract: CA_CONTRACT }) : '{"status":"ok"}';
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(ok.length) });
      res.end(ok);
      return;
    }
    if (mode === 'stub-ca' && req.url === '/v1/sign/batch') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const n = (JSON.parse(Buffer.concat(chunks).toString()) as { requests: unknown[] }).requests.length;
        const answer = `{"results":[${Array.from({ length: n }, () => `{"status":201,"answer":${body}}`).join(',')}]}`;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(answer)) });
        res.end(answer);
      });
      return;
    }
    drain(req, () => {
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': len });
      res.end(body);
    });
  };
  if (mode === 'stub-ca') {
    const tls = readServiceTls(process.argv[4] ?? '', 'ca-server');
    listen(createHttpsServer({ key: tls.key, cert: tls.cert, ca: [tls.ca], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, handler));
  } else listen(createServer(handler));
} else if ((mode === 'ocsp-floor' || mode === 'raw-floor') && cluster.isPrimary && Number(process.env.FLOOR_WORKERS ?? 1) > 1) {
  // The workers print LISTENING (all on the same port: cluster shares listen(0)'s port). They accept
  // themselves, as the responder's workers do (services/ocsp/src/cluster.ts).
  if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
  for (let i = 0; i < Number(process.env.FLOOR_WORKERS); i++) cluster.fork();
} else if (mode === 'ocsp-floor') {
  const len = String(Buffer.byteLength(FIXED));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const reply = (): void => {
      res.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': len });
      res.end(FIXED);
    };
    if (req.method === 'POST') drain(req, reply);
    else reply();
  });
  listen(server);
} else if (mode === 'raw-floor') {
  const answer = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: ${Buffer.byteLength(FIXED)}\r\nConnection: close\r\n\r\n${FIXED}`, 'latin1');
  const server = createNetServer((socket) => {
    let answered = false;
    // The only look at the request: its header block's end (ab sends a POST's body with it).
    socket.on('data', (chunk: Buffer) => {
      if (answered || !chunk.includes('\r\n\r\n')) return;
      answered = true;
      socket.end(answer);
    });
    socket.on('error', () => socket.destroy());
  });
  listen(server);
} else if (mode === 'scale-floor') {
  const [from, url, prefix, sample] = process.argv.slice(3) as [string, string, string, string];
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const fixed = await redis.getBuffer(prefix + sample);
  if (!fixed) throw new Error(`scale-floor: no value at ${prefix + sample}`);
  const answer = (res: ServerResponse, body: Buffer | null): void => {
    if (!body) return void res.writeHead(404, { 'content-length': '0' }).end();
    res.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': String(body.length) });
    res.end(body);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (from === 'memory') return answer(res, fixed);
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      redis.getBuffer(prefix + serialToHex(body.subarray(-SERIAL_BYTES))).then(
        (b) => answer(res, b),
        () => void res.writeHead(503, { 'content-length': '0' }).end(),
      );
    });
  });
  listen(server);
} else if (mode === 'express' || mode === 'express-schemas') {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json({ limit: '16kb', strict: true, type: () => true }));
  if (mode === 'express-schemas') {
    const operations = loadOperations(OPENAPI_PATH);
    const schemas = compileRequestSchemas(operations.spec, operations.all);
    app.use((req, _res, next) => {
      const matched = operations.match(req.method, req.path);
      if (matched) schemas.check(matched.operation, req, matched.params);
      next();
    });
  }
  app.post('/v1/stations/:stationId/certificates', (_req, res) => void res.status(201).type('application/json').send(FIXED));
  app.use((err: { status?: number; message?: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ detail: err.message ?? 'error' });
  });
  const server = createServer(app);
  listen(server);
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
