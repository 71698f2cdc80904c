import type { Request, Response } from 'express';
import type { Metrics } from '@evpki/service';
import type { Store } from '@evpki/store';

/** A probe or scraper route of the RA (GET, and HEAD like GET); everything else is an openapi.yaml operation. */
export interface OpsRoute {
  readonly path: string;
  /** The metrics label: "GET /readyz". */
  readonly label: string;
  readonly handle: (req: Request, res: Response) => Promise<void>;
}

/**
 * The RA's ops routes, declared once: service.ts mounts them before the gate (no token needed) and
 * request-metrics.ts labels requests by them. /readyz checks the store and the whole path to the
 * CA, TLS included.
 */
export function raOpsRoutes(d: { readonly store: Pick<Store, 'ping'>; readonly metrics: Metrics; readonly caReady: () => Promise<boolean> }): readonly OpsRoute[] {
  const route = (path: string, handle: OpsRoute['handle']): OpsRoute => ({ path, label: `GET ${path}`, handle });
  return [
    route('/healthz', async (_req, res) => void res.json({ status: 'ok' })),
    route('/readyz', async (_req, res) => {
      const storeOk = await d.store.ping().then(
        () => true,
        (err: unknown) => {
          d.metrics.countStoreError('GET /readyz', err);
          return false;
        },
      );
      const checks = { store: storeOk, keys: await d.caReady() };
      const ready = checks.store && checks.keys;
      res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unready', checks });
    }),
    route('/metrics', async (_req, res) => {
      res.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
    }),
  ];
}
