import type { Request, Response } from 'express';
import { readinessAnswer, storeAnswers, type Metrics } from '@evpki/service';
import type { Store } from '@evpki/store';

/** A probe or scraper route of the RA (GET, and HEAD like GET); everything else is an openapi.yaml operation. */
export interface OpsRoute {
  readonly path: string;
  /** The metrics label: "GET /readyz". */
  readonly label: string;
  readonly handle: (req: Request, res: Response) => Promise<void>;
}

/**
 * How long /readyz waits for the CA: well under a probe's default timeout (1 s), so that a CA that
 * does not answer at all (a partition: the connect hangs) shows as `ca: false` and does not make
 * the probe itself time out, which would take the RA out of its Service.
 */
const CA_CHECK_MS = 750;

/** `check`'s answer, or false when it takes longer than `ms`. */
async function within(ms: number, check: Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([check, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The RA's ops routes, declared once: service.ts mounts them before the gate (no token needed) and
 * request-metrics.ts labels requests by them. /healthz asks nothing else. /readyz: the RA is ready
 * when its store answers (every read needs it); the whole path to the CA, TLS included, is checked
 * and shown (`ca`), but a CA that is down only degrades it: reads still answer, and signing,
 * revoking and removing stations answer 503 with Retry-After (the CA client's `unavailable`).
 */
export function raOpsRoutes(d: { readonly store: Pick<Store, 'ping'>; readonly metrics: Metrics; readonly caReady: () => Promise<boolean> }): readonly OpsRoute[] {
  const route = (path: string, handle: OpsRoute['handle']): OpsRoute => ({ path, label: `GET ${path}`, handle });
  return [
    route('/healthz', async (_req, res) => void res.json({ status: 'ok' })),
    route('/readyz', async (_req, res) => {
      const [store, ca] = await Promise.all([storeAnswers(d.store, d.metrics), within(CA_CHECK_MS, d.caReady())]);
      const { status, body } = readinessAnswer({ checks: { store, ca }, ready: store, degraded: ca ? [] : ['ca'] });
      res.status(status).json(body);
    }),
    route('/metrics', async (_req, res) => {
      res.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
    }),
  ];
}
