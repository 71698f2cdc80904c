import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Store } from '@evpki/store';
import type { Metrics } from './metrics.js';
import { sendJson } from './node-http.js';
import type { RouteKey } from './route-table.js';

/** A route of a node:http service that writes its own answer. */
export interface HttpRoute extends RouteKey {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** A service's readiness beyond its store: named checks (all must pass) and what else /readyz shows. */
export type ReadinessOf = (storeOk: boolean) => { readonly checks: Readonly<Record<string, boolean>>; readonly details?: Readonly<Record<string, unknown>> };

/**
 * GET /healthz (the process answers), /readyz (the store answers and the service's own checks
 * pass: 200, else 503) and /metrics (Prometheus text) of a node:http service: probes and scrapers.
 */
export function opsRoutes(metrics: Pick<Metrics, 'registry' | 'countStoreError'>, store: Pick<Store, 'ping'>, readiness: ReadinessOf): HttpRoute[] {
  return [
    { method: 'GET', path: '/healthz', label: 'GET /healthz', handle: async (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      label: 'GET /readyz',
      handle: async (_req, res) => {
        const storeOk = await store.ping().then(
          () => true,
          (err: unknown) => {
            metrics.countStoreError('GET /readyz', err);
            return false;
          },
        );
        const { checks, details } = readiness(storeOk);
        const ready = Object.values(checks).every(Boolean);
        sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'unready', checks, ...details });
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      label: 'GET /metrics',
      handle: async (_req, res) => {
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
    },
  ];
}
