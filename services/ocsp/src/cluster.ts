import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry } from 'prom-client';
import { createLogger, type Logger } from '@evpki/service';
import { CONNECTIONS, METRICS_REQUEST, METRICS_RESPONSE, SHED, WORKER_SLOT_ENV, type ConnectionsReport, type MetricsRequest, type MetricsResponse, type ShedOrder } from './worker-metrics.js';

/** A worker that dies is forked again after this, doubled on each death in a row, at most MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;
/** A worker that ran this long before dying starts its slot's backoff afresh. */
const STABLE_MS = 60_000;
/** After SIGTERM, workers that have not exited by then are killed (their own grace is 10 s: run-service.ts). */
const STOP_GRACE_MS = 12_000;

interface Slot {
  worker?: Worker;
  startedAt: number;
  deathsInARow: number;
  /** Its open connections, as it last reported them (transport.ts). */
  connections: number;
}

/** Connections a worker may hold above its share before it is told to end some (transport.ts). */
const CONNECTIONS_SLACK = 1;

/**
 * The primary of a responder with OCSP_WORKERS > 1 (node:cluster): it forks the workers, which
 * share the listening socket and accept from it themselves (SCHED_NONE, below), and answers
 * nothing itself. It never opens the store or talks to the CA. Each worker is a whole responder
 * (service.ts) with its own store connection, delegated signers and in-memory answers; the store
 * keeps them consistent: pre-signing is claimed with leases (Presigner), and every worker reads
 * the OCSP epoch that a revocation moves (Responder.recall).
 *
 * - A worker that dies is forked again in its slot, with backoff (0.25 s doubling to 30 s). A
 *   worker dying before any worker listened is a start failure (port in use, store, PKI): the
 *   primary stops the others and exits 1, as a single process would.
 * - SIGTERM/SIGINT: each worker gets SIGTERM and stops gracefully (run-service.ts); the primary
 *   exits when all have, 0 if they all exited 0.
 * - /metrics, asked of any worker, gathers every worker's registry through the primary
 *   (prom-client's AggregatorRegistry); each series carries a `worker` label (the slot), so
 *   nothing is summed across workers and gauges keep their meaning (worker-metrics.ts).
 */
export function runOcspPrimary(workers: number, log: Logger = createLogger('ocsp')): void {
  // The workers accept from the shared socket themselves: a connection costs no hop through the
  // primary (round-robin: an accept and a descriptor passed over IPC, ~100 µs CPU on this machine, as
  // much again as a whole pre-signed answer), and a busy worker leaves new connections to the idle.
  // NODE_CLUSTER_SCHED_POLICY=rr (node's own setting) still chooses round-robin.
  if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
  // Workers run the responder's main.js itself, not process.argv[1] (the image's entry point runs
  // it by import: as a worker it would be asked to choose a service again).
  cluster.setupPrimary({ exec: fileURLToPath(new URL('./main.js', import.meta.url)), args: [] });
  const slots: Slot[] = Array.from({ length: workers }, () => ({ startedAt: 0, deathsInARow: 0, connections: 0 }));
  const aggregator = new AggregatorRegistry();
  let anyListening = false;
  let stopping = false;
  let failed = false;

  function fork(slot: number): void {
    const s = slots[slot]!;
    s.startedAt = Date.now();
    const w = cluster.fork({ [WORKER_SLOT_ENV]: String(slot) });
    s.worker = w;
    w.on('listening', () => {
      if (!anyListening) log.info({ event: 'ocsp.cluster.listening', workers }, `OCSP responder: ${workers} workers`);
      anyListening = true;
    });
    w.on('message', (m: MetricsRequest | ConnectionsReport) => {
      if (m?.type === CONNECTIONS) {
        // Connection balance: a worker holding more than its share ends the extra ones (transport.ts).
        s.connections = m.open;
        const share = Math.ceil(slots.reduce((n, x) => n + (x.worker ? x.connections : 0), 0) / workers);
        const extra = m.open - share - CONNECTIONS_SLACK;
        if (w.isConnected()) w.send({ type: SHED, connections: Math.max(0, extra) } satisfies ShedOrder);
        return;
      }
      if (m?.type !== METRICS_REQUEST) return;
      const answer = (r: Omit<MetricsResponse, 'type' | 'id'>): void => {
        if (w.isConnected()) w.send({ type: METRICS_RESPONSE, id: m.id, ...r } satisfies MetricsResponse);
      };
      aggregator.clusterMetrics().then(
        (text) => answer({ text }),
        (err: unknown) => answer({ error: (err as Error).message }),
      );
    });
    w.on('exit', (code, signal) => {
      if (s.worker === w) s.worker = undefined;
      s.connections = 0;
      if (stopping) {
        if (code !== 0) failed = true;
        return exitWhenAllGone();
      }
      if (!anyListening) {
        log.fatal({ event: 'service.fatal', what: 'could not start', worker: slot, code, signal }, 'ocsp: a worker failed at start; exiting');
        failed = true;
        return stopAll();
      }
      s.deathsInARow = Date.now() - s.startedAt >= STABLE_MS ? 1 : s.deathsInARow + 1;
      const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (s.deathsInARow - 1));
      log.error({ event: 'ocsp.worker.died', worker: slot, pid: w.process.pid, code, signal, restartInMs: backoff }, 'OCSP worker died; forking another');
      setTimeout(() => !stopping && fork(slot), backoff);
    });
  }

  function exitWhenAllGone(): void {
    if (slots.every((s) => s.worker === undefined)) process.exit(failed ? 1 : 0);
  }

  function stopAll(): void {
    if (stopping) return;
    stopping = true;
    for (const s of slots) s.worker?.process.kill('SIGTERM');
    setTimeout(() => {
      for (const s of slots) s.worker?.process.kill('SIGKILL');
      process.exit(1);
    }, STOP_GRACE_MS).unref();
    exitWhenAllGone();
  }

  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, stopAll);
  for (let slot = 0; slot < workers; slot++) fork(slot);
}
