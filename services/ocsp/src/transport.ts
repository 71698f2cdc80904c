import cluster from 'node:cluster';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { applyServerLimits, serverOptions, type HttpLimits, type RouteTable } from '@evpki/service';
import type { Replies } from './replies.js';
import type { OcspRoute } from './routes.js';
import { CONNECTIONS, SHED, type ConnectionsReport, type ShedOrder } from './worker-metrics.js';

export interface OcspTransportDeps {
  readonly config: { readonly http: HttpLimits; readonly host: string; readonly port: number };
  readonly routes: RouteTable<OcspRoute>;
  readonly replies: Replies;
}

/**
 * How often a cluster worker reports its open connections to the primary (cluster.ts). Workers
 * accept connections themselves (SCHED_NONE), so a client's connections opened at once land
 * unevenly and stay where they landed: one worker saturated, another idle. The primary answers a
 * worker holding more than its share (all workers' connections / workers) with how many to end:
 * their next answers carry `Connection: close`, the clients reconnect, and the worker that accepts
 * first is the one waiting for work. (Issue 17: ending every connection after 500 requests did the
 * same at ~3 µs of CPU per request, a seventh of a pre-signed answer.)
 */
const REPORT_CONNECTIONS_MS = 250;
/**
 * The responder's listener, plain node:http: it is the hottest path of the product (docs/architecture.md
 * "Hot paths"). Finds the request's route (404, or 405 with Allow), runs it, and counts it; OCSP
 * routes count their own answers, written in batches (replies.ts).
 */
export function createOcspTransport(d: OcspTransportDeps) {
  const { routes, replies } = d;
  let server: Server | undefined;
  // Each route's failure handler, made once (not a closure per request: hot path).
  const fails = new Map(routes.routes.map((r) => [r, (q: IncomingMessage, s: ServerResponse, err: unknown): void => replies.fail(q, s, err, r.label)]));
  /** Connections this worker is to end (the primary's order, REPORT_CONNECTIONS_MS). */
  let shed = 0;
  let reporter: NodeJS.Timeout | undefined;

  function dispatch(req: IncomingMessage, res: ServerResponse): void {
    if (shed > 0 && res.shouldKeepAlive) {
      res.shouldKeepAlive = false;
      shed--;
    }
    const url = req.url ?? '/';
    const route = routes.find(req.method, url);
    if (!route) return replies.fail(req, res, routes.refusal(url), 'unmatched');
    const fail = fails.get(route)!;
    if ('answer' in route) {
      try {
        route.answer(req, res, fail);
      } catch (err) {
        fail(req, res, err);
      }
      return;
    }
    route.handle(req, res).then(
      () => replies.countRequest(route.label, res.statusCode),
      (err: unknown) => fail(req, res, err),
    );
  }

  return {
    async listen(): Promise<number> {
      const s = (server = applyServerLimits(createServer(serverOptions(d.config.http), dispatch), d.config.http));
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(d.config.port, d.config.host, () => {
          s.off('error', reject);
          resolve();
        });
      });
      if (cluster.isWorker) {
        process.on('message', (m: ShedOrder) => {
          if (m?.type === SHED) shed = m.connections;
        });
        reporter = setInterval(() => s.getConnections((err, open) => !err && process.connected && process.send!({ type: CONNECTIONS, open } satisfies ConnectionsReport)), REPORT_CONNECTIONS_MS).unref();
      }
      return (s.address() as AddressInfo).port;
    },
    async close(): Promise<void> {
      clearInterval(reporter);
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections();
    },
  };
}
