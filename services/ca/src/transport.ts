import { X509Certificate } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { AppError, REQUEST_ID_HEADER, acceptRequestId, applyServerLimits, requestScope, readBody, sendJson, sendProblem, serverOptions, type HttpRoute, type Logger, type Metrics, type RequestScope, type RouteKey, type RouteTable, type ServiceTls } from '@evpki/service';
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
const NO_BODY = Buffer.alloc(0);
const OPS_NOT_FOUND = 'no such route on the ops port (/healthz, /readyz, /metrics); the API is on the TLS port';

/** What the verified client certificate says about the caller (service-caller.ts), and the request's id and logger. */
function callOf(req: IncomingMessage, route: CaRoute, scope: RequestScope): CaCall {
  const caller = authorizeServiceCaller(req, route.op);
  return { caller, peerKey: () => new X509Certificate((req.socket as TLSSocket).getPeerCertificate().raw).publicKey, requestId: scope.id, log: scope.log };
}

/**
 * The CA's listeners, node:http(s) without a framework (it sits on the issuance hot path; see
 * docs/architecture.md "Hot paths"): the API over mutual TLS, where the contract's operations are
 * answered to the callers it names, and the plain-HTTP ops port for probes and scrapers. Routing,
 * 404/405, body limits, problem+json and the request metrics are done here for every route alike.
 */
export function createCaTransport(d: CaTransportDeps) {
  const { metrics, log } = d;
  let server: HttpsServer | undefined;
  let opsServer: Server | undefined;

  /** An API request: the caller (403 if the contract names another), the decoded body, the operation's answer. */
  async function answerApi(req: IncomingMessage, res: ServerResponse, route: CaRoute, scope: RequestScope): Promise<void> {
    const call = callOf(req, route, scope);
    const body = route.op.method === 'POST' ? await readBody(req, MAX_BODY) : NO_BODY;
    sendJson(res, route.op.okStatus, await route.handle(route.op.decode(body), call));
  }

  /** A listener's request handler: the route (404/405 when none), its answer, the metrics and the debug log. */
  function serve<R extends RouteKey>(table: RouteTable<R>, notFound: string, answer: (req: IncomingMessage, res: ServerResponse, route: R, scope: RequestScope) => Promise<void>) {
    const done = (route: string, res: ServerResponse, scope: RequestScope): void => {
      metrics.requests.inc({ route, status: String(res.statusCode) });
      scope.log.debug({ event: 'http.request', route, status: res.statusCode }, 'request');
    };
    return (req: IncomingMessage, res: ServerResponse): void => {
      // The caller's request id (the RA forwards its own), checked as the RA checks it; else a new one.
      const scope = requestScope(log, acceptRequestId(req.headers[REQUEST_ID_HEADER]));
      res.setHeader(REQUEST_ID_HEADER, scope.id);
      const url = req.url ?? '/';
      const route = table.find(req.method, url);
      const label = route?.label ?? 'unmatched';
      (route ? answer(req, res, route, scope) : Promise.reject(table.refusal(url, notFound))).then(
        () => done(label, res, scope),
        (err: unknown) => {
          if (metrics.countStoreError(label, err)) scope.log.warn({ err: (err as Error).message, route: label }, 'store unavailable');
          else if (!(err instanceof AppError)) scope.log.error({ err }, 'unexpected error');
          // The CA re-runs the policy (it trusts no caller): its own refusals, by rule.
          metrics.countRejections(err);
          if (!res.headersSent) sendProblem(res, err);
          else res.destroy();
          done(label, res, scope);
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
