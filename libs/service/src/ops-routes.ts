import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Store } from '@evpki/store';
import type { Metrics } from './metrics.js';
import { sendJson } from './node-http.js';
import type { RouteKey } from './route-table.js';

/** A route of a node:http service that writes its own answer. */
export interface HttpRoute extends RouteKey {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/**
 * What a service answers at /readyz: whether it can serve (README "Health and readiness"). `checks`
 * name each part; `ready` says which of them it needs (by default all); `degraded` names the failing
 * parts it serves without (the OCSP responder's store while it answers from memory, the RA's CA).
 */
export interface Readiness {
  readonly checks: Readonly<Record<string, boolean>>;
  readonly ready?: boolean;
  readonly degraded?: readonly string[];
  readonly details?: Readonly<Record<string, unknown>>;
}

/** A service's readiness, given whether its store answered. */
export type ReadinessOf = (storeOk: boolean) => Readiness;

/** The /readyz answer: 200 `ready` (with `degraded` when some part is down) or 503 `unready`. */
export function readinessAnswer(r: Readiness): { readonly status: 200 | 503; readonly body: Record<string, unknown> } {
  const ready = r.ready ?? Object.values(r.checks).every(Boolean);
  return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'unready', checks: r.checks, ...(r.degraded?.length ? { degraded: r.degraded } : {}), ...r.details } };
}

/** True when the store answers a ping (no write: issue 14.7); a failure is counted under `operation`. */
export function storeAnswers(store: Pick<Store, 'ping'>, metrics: Pick<Metrics, 'countStoreError'>, operation = 'GET /readyz'): Promise<boolean> {
  return store.ping().then(
    () => true,
    (err: unknown) => {
      metrics.countStoreError(operation, err);
      return false;
    },
  );
}

/**
 * GET /healthz (liveness: the process answers; it never asks the store or another service),
 * /readyz (the service can serve: 200, else 503; `readiness` decides) and /metrics (Prometheus
 * text) of a node:http service: probes and scrapers. `registry` answers /metrics: the service's
 * own, or (the OCSP responder's workers) one that gathers every worker's.
 */
export function opsRoutes(metrics: Pick<Metrics, 'countStoreError'> & { readonly registry: Pick<Registry, 'metrics' | 'contentType'> }, store: Pick<Store, 'ping'>, readiness: ReadinessOf): HttpRoute[] {
  return [
    { method: 'GET', path: '/healthz', label: 'GET /healthz', handle: async (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      label: 'GET /readyz',
      handle: async (_req, res) => {
        const { status, body } = readinessAnswer(readiness(await storeAnswers(store, metrics)));
        sendJson(res, status, body);
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
