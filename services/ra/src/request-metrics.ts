import type { Request } from 'express';
import { csmsServer, profileForCertificateType } from '@evpki/issuance';
import { failedIssuanceOutcome, type Metrics } from '@evpki/service';

/** The operation of a /v1 request (openapi.yaml), as operations.ts finds it. */
type FindOperation = (method: string, path: string) => { readonly route: string } | undefined;

/** A fixed route outside /v1 and its label. */
export interface LabelledRoute {
  readonly method: string;
  readonly path: string;
  readonly label: string;
}

/**
 * The route label of a request: its openapi.yaml operation ("POST /v1/stations/{stationId}/certificates"),
 * a fixed route outside /v1 ("GET /readyz", "POST /.well-known/est/simpleenroll", "POST /oauth/token"),
 * or "unmatched"; never the raw URL, so the label values stay bounded.
 */
export function routeLabel(find: FindOperation, fixed: readonly LabelledRoute[], req: Request): string {
  const path = (req.originalUrl || req.url).split('?')[0]!;
  return fixed.find((r) => r.method === req.method && r.path === path)?.label ?? find(req.method, path)?.route ?? 'unmatched';
}

/** The certificate kind a CSR route asks for, as its profile names it; 'other' for a type no profile issues (bounded labels). */
function issuanceKind(route: string, req: Request): string | undefined {
  if (route === 'POST /v1/server-certificates') return csmsServer.kind;
  if (route !== 'POST /v1/stations/{stationId}/certificates') return undefined;
  const type = (req.body as { certificateType?: unknown } | undefined)?.certificateType;
  const found = typeof type === 'string' ? profileForCertificateType(type) : undefined;
  return found && 'profile' in found ? found.profile.kind : 'other';
}

/**
 * What the error handler counts for a request that failed with `err` (`original`: as thrown, before
 * it was mapped to an AppError): a store failure by route, the rules of a refusal (the RA's own
 * checks and the CA's relayed), and for a CSR route of an authenticated caller the issuance by kind
 * and outcome (a refused token is counted in auth_failures_total, not as an issuance).
 */
export function countFailedRequest(metrics: Metrics, route: string, req: Request, err: unknown, original: unknown, authenticated: boolean): void {
  metrics.countStoreError(route, original);
  metrics.countRejections(err);
  const kind = authenticated ? issuanceKind(route, req) : undefined;
  if (kind) metrics.issuances.inc({ kind, outcome: failedIssuanceOutcome(err) });
}
