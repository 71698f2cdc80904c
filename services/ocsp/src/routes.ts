import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { AppError, opsRoutes, routeTable, type HttpRoute, type RouteKey, type RouteTable } from '@evpki/service';
import type { OcspStore } from '@evpki/store';
import type { OcspMetrics } from './metrics.js';
import type { OcspRequests } from './ocsp-requests.js';
import type { DelegatedSigners, ServedIssuer } from './signers.js';

/**
 * An OCSP route: answered by callbacks, synchronously when the answer is in memory, and counted
 * when its answer is written (replies.ts); `fail` answers a failure for this route.
 */
export interface OcspAnswerRoute extends RouteKey {
  answer(req: IncomingMessage, res: ServerResponse, fail: (req: IncomingMessage, res: ServerResponse, err: unknown) => void): void;
}

/** Every route of the responder: OCSP's, and the HTTP ones (counted by the transport once they answered). */
export type OcspRoute = OcspAnswerRoute | HttpRoute;

export interface OcspRouteDeps {
  readonly ocsp: OcspRequests;
  readonly store: OcspStore;
  readonly metrics: OcspMetrics;
  /** What /metrics answers: this process's registry, or in a cluster worker every worker's (worker-metrics.ts). */
  readonly metricsSource: Pick<Registry, 'metrics' | 'contentType'>;
  /** This worker's slot when the responder runs several (OCSP_WORKERS, cluster.ts): /readyz names it. */
  readonly worker: number | undefined;
  readonly signers: DelegatedSigners;
  /** The issuers in service now (lifecycle.ts). */
  readonly served: () => ReadonlyMap<string, ServedIssuer>;
  /** Answers held in memory that are still valid (Responder.heldAnswers). */
  readonly heldAnswers: () => number;
  readonly now: () => Date;
  readonly httpMaxAgeSeconds: number;
}

const ISSUER_PATH = /^\/issuers\/([a-z0-9-]{1,64})\.der$/;
const CRL_PATH = /^\/crl\/([a-z0-9-]{1,64})\.crl$/;
/** POST stays on /ocsp and / (RFC 6960 A.1 leaves the path to the responder; clients use both). */
const OCSP_POST = /^\/(?:ocsp(?:\/[^]*)?)?$/;
const OCSP_GET = /^\/ocsp\//;

/**
 * The responder's routes, each declared here once: RFC 6960 over HTTP (RFC 5019 caching), the
 * issuer certificates (AIA caIssuers) and CRLs (CRL distribution points), and the ops routes.
 * GET routes also answer HEAD; another method on a path is 405 with Allow, any other path 404.
 */
export function ocspRoutes(d: OcspRouteDeps): RouteTable<OcspRoute> {
  const { signers } = d;
  return routeTable<OcspRoute>([
    // First: the hot path matches at once.
    { method: 'POST', path: OCSP_POST, label: 'POST /ocsp', answer: d.ocsp.post },
    { method: 'GET', path: OCSP_GET, label: 'GET /ocsp/{request}', answer: d.ocsp.get },
    ...opsRoutes({ registry: d.metricsSource, countStoreError: d.metrics.countStoreError }, d.store, (storeOk) => {
      const served = [...d.served().values()];
      // Each issuer in service: whether this responder holds a valid delegated signer for it.
      const issuers = Object.fromEntries(served.map((i) => [i.id, { signer: signers.ready([i]), notAfter: signers.get(i.id)?.certificate.notAfter.toISOString() ?? null }]));
      const heldAnswers = d.heldAnswers();
      // Ready = it can answer: issuers loaded, a valid signer for each, and answers from the store or
      // from memory. A store outage alone degrades it (held answers are served until their
      // nextUpdate, the rest tryLater) rather than taking every replica out of the Service.
      const checks = { issuers: served.length > 0, signers: signers.ready(served), store: storeOk, memory: heldAnswers > 0 };
      return { checks, ready: checks.issuers && checks.signers && (storeOk || checks.memory), degraded: storeOk ? [] : ['store'], details: { issuers, heldAnswers, ...(d.worker === undefined ? {} : { worker: { slot: d.worker, pid: process.pid } }) } };
    }),
    {
      method: 'GET',
      path: ISSUER_PATH,
      label: 'GET /issuers/{issuerId}.der',
      async handle(req, res) {
        const issuer = await d.store.getIssuer(ISSUER_PATH.exec(req.url ?? '')![1]!);
        if (!issuer) throw new AppError('not-found', 'no such issuer');
        res.writeHead(200, { 'content-type': 'application/pkix-cert', 'content-length': issuer.certificate.length, 'cache-control': 'public, max-age=3600' });
        res.end(issuer.certificate);
      },
    },
    {
      method: 'GET',
      path: CRL_PATH,
      label: 'GET /crl/{issuerId}.crl',
      async handle(req, res) {
        const crl = await d.store.getCrl(CRL_PATH.exec(req.url ?? '')![1]!);
        if (!crl) throw new AppError('not-found', 'no CRL for this issuer');
        const maxAge = Math.max(0, Math.min(d.httpMaxAgeSeconds, Math.floor((Date.parse(crl.nextUpdate) - d.now().getTime()) / 1000)));
        res.writeHead(200, {
          'content-type': 'application/pkix-crl',
          'content-length': crl.der.length,
          'cache-control': `max-age=${maxAge}, public, no-transform, must-revalidate`,
          'last-modified': new Date(crl.thisUpdate).toUTCString(),
        });
        res.end(crl.der);
      },
    },
  ]);
}
