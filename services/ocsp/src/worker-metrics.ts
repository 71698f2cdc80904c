import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/** The worker's slot (0 … OCSP_WORKERS-1), set by the primary when it forks it (cluster.ts); kept by a replacement. */
export const WORKER_SLOT_ENV = 'EV_PKI_OCSP_WORKER_SLOT';
export const METRICS_REQUEST = 'ocsp:metrics-request';
export const METRICS_RESPONSE = 'ocsp:metrics-response';
/** A worker's open connections, to the primary; the primary's answer: how many to end (connection balance, transport.ts). */
export const CONNECTIONS = 'ocsp:connections';
export const SHED = 'ocsp:shed';

export interface ConnectionsReport {
  readonly type: typeof CONNECTIONS;
  readonly open: number;
}
export interface ShedOrder {
  readonly type: typeof SHED;
  readonly connections: number;
}

export interface MetricsRequest {
  readonly type: typeof METRICS_REQUEST;
  readonly id: number;
}
export interface MetricsResponse {
  readonly type: typeof METRICS_RESPONSE;
  readonly id: number;
  readonly text?: string;
  readonly error?: string;
}

/** How long a worker waits for the primary's gathered metrics. */
const GATHER_TIMEOUT_MS = 5000;

/** This process's worker slot when it is a cluster worker, else undefined. */
export function workerSlot(): number | undefined {
  return cluster.isWorker ? Number(process.env[WORKER_SLOT_ENV] ?? cluster.worker?.id ?? 0) : undefined;
}

/**
 * What /metrics answers from: the registry itself for a single process; in a cluster worker, every
 * worker's registry gathered by the primary (cluster.ts), each series labelled `worker="<slot>"`,
 * so that counters, histograms and gauges stay per worker in one exposition (a scrape reaches one
 * worker at random, and still sees them all).
 */
export function metricsSource(registry: Registry): Pick<Registry, 'metrics' | 'contentType'> {
  const slot = workerSlot();
  if (slot === undefined) return registry;
  registry.setDefaultLabels({ worker: String(slot) });
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry(); // answers the primary's requests for this worker's metrics
  let next = 0;
  const pending = new Map<number, (r: MetricsResponse) => void>();
  process.on('message', (m: MetricsResponse) => {
    if (m?.type === METRICS_RESPONSE) pending.get(m.id)?.(m);
  });
  return {
    contentType: registry.contentType,
    metrics: () =>
      new Promise<string>((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error('the primary did not gather the workers\u2019 metrics in time'));
        }, GATHER_TIMEOUT_MS);
        pending.set(id, (r) => {
          pending.delete(id);
          clearTimeout(timer);
          if (r.text !== undefined) resolve(r.text);
          else reject(new Error(`gathering the workers' metrics failed: ${r.error ?? 'no answer'}`));
        });
        process.send!({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
      }),
  };
}
