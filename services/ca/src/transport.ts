import { X509Certificate } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { AppError, REQUEST_ID_HEADER, acceptRequestId, applyServerLimits, requestScope, readBody, sendJson, sendProblem, serverOptions, toProblem, type HttpRoute, type Logger, type Metrics, type RequestScope, type RouteKey, type RouteTable, type ServiceTls } from '@evpki/service';
import { parseJson, type CaBatchOperation } from '@evpki/ca-client';
import type { CaConfig } from './config.js';
import type { CaCall, CaRoute } from './routes.js';
import { authorizeServiceCaller } from './service-caller.js';

export interface CaTransportDeps {
  readonly config: Pick<CaConfig, 'http' | 'host' | 'port' | 'opsPort'>;
  /** The API listener's identity and the service CA every client certificate must chain to. */
  readonly tls: ServiceTls;
  readonly api: RouteTable<CaRoute>;
  readonly ops: RouteTable<HttpRoute>;
  readonly metrics: Metrics;
  readonly log: Logger;
}

const MAX_BODY = 16 * 1024;
const OPS_NOT_FOUND = 'no such route on the ops port (/healthz, /readyz, /metrics); the API is on the TLS port';

/**
 * The CA's listeners, node:http(s) without a framework (it sits on the issuance hot path; see
 * docs/architecture.md "Hot paths"): the API over mutual TLS, where the contract's operations are
 * answered to the callers it names, and the plain-HTTP ops port for probes and scrapers. Routing,
 * 404/405, body limits, problem+json and the request metrics are done here for every route alike,
 * and for each request of a batch as if it had come alone.
 */
export function createCaTransport(d: CaTransportDeps) {
  const { metrics, log } = d;
  let server: HttpsServer | undefined;
  let opsServer: Server | undefined;

  /** A request answered (or a batch's request run): counted by its route and status, and logged at debug. */
  const done = (route: string, status: number, scope: RequestScope): void => {
    metrics.requests.inc({ route, status: String(status) });
    scope.log.debug({ event: 'http.request', route, status }, 'request');
  };

  /** A request that failed: the store's outage or an unexpected error logged, the CA's own refusals counted by rule. */
  const failed = (label: string, err: unknown, scope: RequestScope): void => {
    if (metrics.countStoreError(label, err)) scope.log.warn({ err: (err as Error).message, route: label }, 'store unavailable');
    else if (!(err instanceof AppError)) scope.log.error({ err }, 'unexpected error');
    // The CA re-runs the policy (it trusts no caller): its own refusals, by rule.
    metrics.countRejections(err);
  };

  /** What the verified client certificate says about the caller (service-caller.ts), and the request's id and logger. */
  function callOf(req: IncomingMessage, route: CaRoute, scope: RequestScope): CaCall {
    const caller = authorizeServiceCaller(req, route.op);
    const peerKey = () => new X509Certificate((req.socket as TLSSocket).getPeerCertificate().raw).publicKey;
    const call = (s: RequestScope): CaCall => ({
      caller,
      peerKey,
      requestId: s.id,
      log: s.log,
      async runAlone(one, item) {
        const itemScope = requestScope(log, acceptRequestId(item.requestId));
        try {
          const answer = await one.handle(one.op.decode(item.request), call(itemScope));
          done(one.label, one.op.okStatus, itemScope);
          return { status: one.op.okStatus, answer };
        } catch (err) {
          failed(one.label, err, itemScope);
          const p = toProblem(err);
          done(one.label, p.status, itemScope);
          const retryAfter = Number(p.headers['retry-after']);
          return { status: p.status, problem: p.body, ...(retryAfter > 0 ? { retryAfter } : {}) };
        }
      },
    });
    return call(scope);
  }

  /** An API request: the caller (403 if the contract names another), the decoded body, the operation's answer. */
  async function answerApi(req: IncomingMessage, res: ServerResponse, route: CaRoute, scope: RequestScope): Promise<void> {
    const call = callOf(req, route, scope);
    // A batch may be as large as its requests would be one by one.
    const json = route.op.method === 'POST' ? parseJson(await readBody(req, MAX_BODY * ('max' in route.op ? (route.op as CaBatchOperation<unknown, unknown>).max : 1))) : undefined;
    sendJson(res, route.op.okStatus, await route.handle(route.op.decode(json), call));
  }

  /** A listener's request handler: the route (404/405 when none), its answer, the metrics and the debug log. */
  function serve<R extends RouteKey>(table: RouteTable<R>, notFound: string, answer: (req: IncomingMessage, res: ServerResponse, route: R, scope: RequestScope) => Promise<void>) {
    return (req: IncomingMessage, res: ServerResponse): void => {
      // The caller's request id (the RA forwards its own), checked as the RA checks it; else a new one.
      const scope = requestScope(log, acceptRequestId(req.headers[REQUEST_ID_HEADER]));
      res.setHeader(REQUEST_ID_HEADER, scope.id);
      const url = req.url ?? '/';
      const route = table.find(req.method, url);
      const label = route?.label ?? 'unmatched';
      (route ? answer(req, res, route, scope) : Promise.reject(table.refusal(url, notFound))).then(
        () => done(label, res.statusCode, scope),
        (err: unknown) => {
          failed(label, err, scope);
          if (!res.headersSent) sendProblem(res, err);
          else res.destroy();
          done(label, res.statusCode, scope);
        },
      );
    };
  }

  const listen = (s: Server | HttpsServer, port: number) =>
    new Promise<number>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, d.config.host, () => {
        s.off('error', reject);
        resolve((s.address() as AddressInfo).port);
      });
    });

  return {
    async listen(): Promise<{ port: number; opsPort: number }> {
      const { http } = d.config;
      // Issue 7: only clients with a certificate from the service CA get past the handshake.
      server = createHttpsServer(
        { ...serverOptions(http), key: d.tls.key, cert: d.tls.cert, ca: [d.tls.ca], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' },
        serve(d.api, 'no such route', answerApi),
      );
      // A certificate that does not verify is refused without an error of its own: its reason is on the socket.
      server.on('tlsClientError', (err: Error & { code?: string }, socket) =>
        log.warn({ event: 'tls.refused', reason: String(socket.authorizationError ?? err.code ?? err.message), remote: socket.remoteAddress }, 'TLS client refused'),
      );
      // Which service certificate each caller presents (a renewal shows here: the next connection has the new one).
      server.on('secureConnection', (socket) => {
        const peer = socket.getPeerCertificate();
        log.debug({ event: 'tls.client', cn: peer.subject?.CN, serialNumber: peer.serialNumber?.toLowerCase() }, 'TLS client connected');
      });
      applyServerLimits(server, http);
      opsServer = applyServerLimits(
        createServer(
          serverOptions(http),
          serve(d.ops, OPS_NOT_FOUND, (req, res, route) => route.handle(req, res)),
        ),
        http,
      );
      const port = await listen(server, d.config.port);
      const opsPort = await listen(opsServer, d.config.opsPort);
      return { port, opsPort };
    },
    /**
     * Renewed TLS material (watchServiceTls): new handshakes present this certificate and trust this
     * service CA; connections already open keep theirs. The client certificate stays required.
     */
    setTls(tls: ServiceTls): void {
      server?.setSecureContext({ key: tls.key, cert: tls.cert, ca: [tls.ca], minVersion: 'TLSv1.3' });
    },
    async close(): Promise<void> {
      for (const s of [server, opsServer]) {
        await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
        s?.closeAllConnections();
      }
    },
  };
}
