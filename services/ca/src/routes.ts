import { X509Certificate, type KeyObject } from 'node:crypto';
import { CA_API, CA_CONTRACT, type CaBatchOperation, type CaBatchRequest, type CaBatchResponse, type CaBatchResult, type CaOperation } from '@evpki/ca-client';
import { csmsServer, ocspSigner, profileForCertificateType } from '@evpki/issuance';
import { AppError, opsRoutes, routeTable, type AuditTrail, type HttpRoute, type Logger, type Metrics, type RouteKey, type RouteTable } from '@evpki/service';
import type { CaStore } from '@evpki/store';
import { withActiveIssuer } from './active-issuer.js';
import type { CaConfig } from './config.js';
import { counted, issuanceEvent } from './issuance-records.js';
import type { IssuerSet } from './issuer-set.js';
import type { LoadedIssuer } from './issuer.js';
import { issueOcspSigner, type OcspSignerDeps } from './ocsp-signer.js';
import { removeStation, revokeCertificate, type RevokeDeps } from './revoke.js';
import { signChargePointCertificate, type SignDeps } from './sign-certificate.js';
import { createPathValidator } from '@evpki/pathval';
import { signServerCertificate } from './sign-server-certificate.js';

/** Who calls, as the transport verified it (mutual TLS). */
export interface CaCall {
  /** The CN of the caller's client certificate. */
  readonly caller: string;
  /** The public key of the caller's client certificate. */
  peerKey(): KeyObject;
  /** The request's id (the caller's X-Request-Id, checked, or a new one) and a logger whose lines carry it. */
  readonly requestId: string;
  readonly log: Logger;
  /**
   * One request of a batch, run exactly as if it had come alone: its own request id and log lines,
   * the same caller, its own metrics and refusal log; its answer or its problem, never a throw.
   */
  runAlone<Req, Res>(route: CaRoute<Req, Res>, item: CaBatchRequest['requests'][number]): Promise<CaBatchResult<Res>>;
}

/** An API route: a contract operation (method, path, caller, types) and its handler. */
export interface CaRoute<Req = unknown, Res = unknown> extends RouteKey {
  readonly op: CaOperation<Req, Res>;
  handle(req: Req, call: CaCall): Promise<Res>;
}

export interface CaRouteDeps {
  readonly config: CaConfig;
  readonly store: CaStore;
  readonly now: () => Date;
  readonly metrics: Metrics;
  readonly audit: AuditTrail;
  readonly issuers: IssuerSet;
  /** Re-reads the issuers (lifecycle.ts): shared with the timer. */
  readonly reloadIssuers: () => Promise<void>;
  readonly publishCrl: (issuerId: string) => Promise<void>;
  /** The CA's own TLS key and the service CA's: no OCSP signer may be certified for them. */
  readonly serviceKeys: () => readonly KeyObject[];
}

const route = <Req, Res>(op: CaOperation<Req, Res>, handle: (req: Req, call: CaCall) => Promise<Res>): CaRoute<Req, Res> => ({
  method: op.method,
  path: op.path,
  label: `${op.method} ${op.path}`,
  op,
  handle,
});

/** Many requests of `one` in one call (CaClient gathers them): all run at once, answered in order. */
const batch = <Req, Res>(op: CaBatchOperation<Req, Res>, one: CaRoute<Req, Res>): CaRoute<CaBatchRequest, CaBatchResponse<Res>> =>
  route(op, async (r, call) => ({ results: await Promise.all(r.requests.map((item) => call.runAlone(one, item))) }));

/** Logs a refused certificate request by its rules (the counter is rejections_total). */
function logRefusal(log: Logger, e: unknown, kinds: readonly string[], fields: Record<string, unknown>, msg: string): void {
  if (e instanceof AppError && kinds.includes(e.kind)) log.info({ event: 'issuance.rejected', ...fields, rules: e.violations?.map((v) => v.rule) }, msg);
}

/**
 * The CA's API, one route per operation of the contract (@evpki/ca-client): the path, the method and
 * who may call it are the contract's, the handler is here, and nothing else declares a route. Each
 * handler calls the application (sign-*.ts, ocsp-signer.ts, revoke.ts) in one call and does the
 * bookkeeping around it: metrics, logs, the audit entry of what was issued.
 */
export function caApiRoutes(d: CaRouteDeps): RouteTable<CaRoute> {
  const { metrics, audit } = d;
  const manufacturerValidator = createPathValidator({ cacheSize: 1024 });
  const signDeps = (issuer: LoadedIssuer, auditOf: SignDeps['auditOf']): SignDeps => ({
    store: d.store,
    issuer,
    keyPolicy: d.config.keyPolicy,
    leafValiditySeconds: d.config.leafValiditySeconds,
    now: d.now,
    manufacturerValidator,
    ...(auditOf ? { auditOf } : {}),
  });
  const revokeDeps = (call: CaCall): RevokeDeps => ({ store: d.store, now: d.now, log: call.log, publishCrl: d.publishCrl });
  const signerDeps = (issuerId: string, call: CaCall): OcspSignerDeps => ({
    store: d.store,
    issuer: d.issuers.get(issuerId),
    now: d.now,
    validitySeconds: d.config.ocspSignerValiditySeconds,
    perIssuerPerHour: d.config.ocspSignersPerIssuerPerHour,
    reservedKeys: async () => [...d.serviceKeys(), call.peerKey(), ...(await d.store.listIssuers()).flatMap((i) => [i.certificate, ...(i.crossCertificates ?? [])].map((c) => new X509Certificate(c).publicKey))],
    auditOf: (s) => [{ event: 'ocsp-signer.issued', actor: 'ocsp', outcome: 'ok', details: { issuerId, serialNumber: s.serialNumber, notAfter: s.notAfter } }],
  });
  const active = <T>(sign: (issuer: LoadedIssuer) => Promise<T>, hierarchy?: string): Promise<T> => withActiveIssuer(d.issuers, d.reloadIssuers, sign, hierarchy);

  const sign = route(CA_API.sign, (r, { log }) =>
      counted(metrics, stationKindLabel(r.certificateType), async () => {
        // A new certificate's audit entry is written with it (one store write); a replay's here.
        // Zero-touch onboarding adds the manufacturer certificate it enrolled on, and whether the
        // station was registered by it.
        const { signed, manufacturer } = await active(
          (issuer) => signChargePointCertificate(r, signDeps(issuer, (s) => [issuanceEvent(s, r.tenant, r.actor, r.stationId)])),
          stationHierarchy(r.certificateType),
        );
        if (signed.replayed) {
          const event = issuanceEvent(signed, r.tenant, r.actor, r.stationId);
          await audit.record(manufacturer ? { ...event, details: { ...event.details, ...manufacturer } } : event);
        }
        log.info({ event: 'certificate.issued', tenant: r.tenant, stationId: r.stationId, certificateType: r.certificateType, serial: signed.serialNumber, notAfter: signed.notAfter, replayed: signed.replayed }, 'certificate issued');
        return signed;
      }).catch((e: unknown) => {
        logRefusal(log, e, ['policy', 'forbidden'], { tenant: r.tenant, stationId: r.stationId }, 'certificate request rejected');
        throw e;
      }),
  );

  const table = routeTable<CaRoute>([
    route(CA_API.ping, async (_req, call) => ({ status: 'ok' as const, client: call.caller, contract: CA_CONTRACT })),
    sign,
    batch(CA_API.signBatch, sign),

    route(CA_API.signServer, async (r, { log }) => {
      const signed = await counted(metrics, csmsServer.kind, async () => {
        const s = await active((issuer) => signServerCertificate(r, { ...signDeps(issuer, (x) => [issuanceEvent(x, r.tenant, r.actor)]), serverValidity: d.config.serverValidity }));
        if (s.replayed) await audit.record(issuanceEvent(s, r.tenant, r.actor));
        return s;
      }).catch((e: unknown) => {
        logRefusal(log, e, ['policy'], { tenant: r.tenant }, 'server certificate request rejected');
        throw e;
      });
      log.info({ event: 'server-certificate.issued', tenant: r.tenant, serial: signed.serialNumber, notAfter: signed.notAfter, replayed: signed.replayed }, 'CSMS server certificate issued');
      return signed;
    }),

    route(CA_API.revoke, (r, call) => revokeCertificate(r.tenant, r.serialNumber, r.reason, r.actor, revokeDeps(call))),

    route(CA_API.removeStation, (r, call) => removeStation(r.tenant, r.stationId, r.actor, revokeDeps(call))),

    route(CA_API.ocspSigner, async (r, call) => {
      if (!d.issuers.get(r.issuerId)) await d.reloadIssuers();
      const signer = await counted(metrics, ocspSigner.kind, () => issueOcspSigner(r.issuerId, r.csr, signerDeps(r.issuerId, call)));
      // Its audit entry was written with it (signerDeps auditOf).
      call.log.info({ event: 'ocsp-signer.issued', issuer: r.issuerId, serial: signer.serialNumber, notAfter: signer.notAfter }, 'OCSP signer certificate issued');
      return signer;
    }),
  ]);
  // Every operation of the contract is served (routeTable refuses one declared twice).
  const unserved = Object.values(CA_API).filter((op) => !table.routes.some((r) => r.op === op));
  if (unserved.length) throw new Error(`CA operations without a route: ${unserved.map((op) => op.path).join(', ')}`);
  return table;
}

/** The ops port: probes and scrapers, plain HTTP, no /v1 route. */
export function caOpsRoutes(d: Pick<CaRouteDeps, 'metrics' | 'store' | 'issuers'>): RouteTable<HttpRoute> {
  return routeTable(
    opsRoutes(d.metrics, d.store, (storeOk) => ({
      checks: { store: storeOk, keys: d.issuers.activeIn() !== undefined },
      // issuerKeys: whether the CA holds each key it should (`pki rotate-* activate` checks this first);
      // issuerKeyErrors: why not (no key yet, wrong passphrase or PIN, a key not matching its certificate).
      details: { activeIssuer: d.issuers.activeIdIn() ?? null, issuerKeys: d.issuers.keyStatus(), issuerKeyErrors: d.issuers.keyProblems() },
    })),
  );
}

/** The hierarchy whose active issuer signs a station certificate type (its profile's signedBy); csms for a type no profile issues (refused later). */
function stationHierarchy(certificateType: string): string | undefined {
  const found = profileForCertificateType(certificateType);
  return 'profile' in found ? found.profile.signedBy.hierarchy : undefined;
}

/** The metrics label of a station request: its profile's kind, 'other' for a type no profile issues (bounded labels). */
function stationKindLabel(certificateType: string): string {
  const found = profileForCertificateType(certificateType);
  return 'profile' in found ? found.profile.kind : 'other';
}
