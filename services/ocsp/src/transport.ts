import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { applyServerLimits, serverOptions, type HttpLimits, type RouteTable } from '@evpki/service';
import type { Replies } from './replies.js';
import type { OcspRoute } from './routes.js';

export interface OcspTransportDeps {
  readonly config: { readonly http: HttpLimits; readonly host: string; readonly port: number };
  readonly routes: RouteTable<OcspRoute>;
  readonly replies: Replies;
}

/**
 * A keep-alive connection is closed (`Connection: close` on its answer) after this many requests.
 * Workers accept connections themselves (cluster.ts, SCHED_NONE), so a client's connections opened
 * at once land unevenly and stay where they landed: one worker saturated, another idle. The client
 * reconnects, and the worker that accepts first is the one waiting for work, so the load evens out
 * within a second or so (measured with wrk -c64: keep-alive GET +17% with 2 workers; a reconnect
 * costs ~0.2 µs per request at this rate).
 */
const REBALANCE_AFTER_REQUESTS = 500;

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

  function dispatch(req: IncomingMessage, res: ServerResponse): void {
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
      s.maxRequestsPerSocket = Math.min(d.config.http.maxRequestsPerSocket, REBALANCE_AFTER_REQUESTS);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(d.config.port, d.config.host, () => {
          s.off('error', reject);
          resolve();
        });
      });
      return (s.address() as AddressInfo).port;
    },
    async close(): Promise<void> {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections();
    },
  };
}
