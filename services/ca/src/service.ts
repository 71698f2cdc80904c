import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { X509Certificate, type KeyObject } from 'node:crypto';
import type { Signer } from '@evpki/keys';
import type { TLSSocket } from 'node:tls';
import {
  AppError,
  applyServerLimits,
  serverOptions,
  createAuditTrail,
  createLogger,
  createMetrics,
  failedIssuanceOutcome,
  methodNotAllowed,
  readBody,
  sendJson,
  sendProblem,
  type Logger,
  type ServiceTls,
} from '@evpki/service';
import { openStore, type AuditEvent, type CaStore } from '@evpki/store';
import type { CaConfig } from './config.js';
import { IssuerNotActiveError, IssuerSet } from './issuer-set.js';
import type { LoadedIssuer } from './issuer.js';
import { signChargePointCertificate, type SignRequest, type SignedCertificate } from './sign-certificate.js';
import { signServerCertificate } from './sign-server-certificate.js';
import { jsonBody } from './request-body.js';
import { removeStation, revokeCertificate, type RevokeDeps } from './revoke.js';
import { issueOcspSigner } from './ocsp-signer.js';
import { createCrlPublisher, type CrlPublisher } from './crl-publisher.js';
import { authorizeServiceCaller, serviceCaller } from './service-caller.js';

export interface CaSecrets {
  /**
   * Opens an issuing CA's key (issuerSignerLoader: a key file decrypted into memory, or a PKCS#11
   * token); throws when it is not there (yet). Called for each issuing CA the store lists, so keys of
   * a rotation's new issuer are picked up once they are mounted.
   */
  readonly loadIssuerSigner: (issuerId: string) => Promise<Signer>;
  /**
   * The API listener's TLS identity (issue 7): its server certificate and key, and the service CA
   * that every client certificate must chain to (the RA's, the OCSP responder's).
   */
  readonly tls: ServiceTls;
}

export interface CaOverrides {
  readonly store?: CaStore;
  readonly now?: () => Date;
  readonly logger?: Logger;
}

export interface CaInit {
  readonly publicOcspBase: string;
}

/** Route labels of the CA's requests (API and ops port): anything else is "unmatched". */
const ROUTES: ReadonlySet<string> = new Set([
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'GET /v1/ping',
  'POST /v1/ocsp-signers',
  'POST /v1/revoke',
  'POST /v1/stations/remove',
  'POST /v1/sign-server',
  'POST /v1/sign',
]);
const routeOf = (req: IncomingMessage): string => {
  const route = `${req.method === 'HEAD' ? 'GET' : req.method} ${req.url}`;
  return ROUTES.has(route) ? route : 'unmatched';
};

/** How often the CA re-reads the issuers (rotation steps, keys arriving); a refused leaf reloads at once. */
const ISSUER_RELOAD_MS = 5_000;

const MAX_BODY = 16 * 1024;
const GET = ['GET', 'HEAD'];

/** The public key of the caller's client certificate (a signer must not reuse it). */
function peerKey(req: IncomingMessage): KeyObject {
  return new X509Certificate((req.socket as TLSSocket).getPeerCertificate().raw).publicKey;
}

function parseSignRequest(body: Buffer): SignRequest & { actor: string } {
  const j = jsonBody(body);
  const idempotencyKey = j.optStr('idempotencyKey', 128);
  return {
    actor: j.str('actor', 128),
    tenant: j.str('tenant', 64),
    stationId: j.str('stationId', 48),
    csr: j.str('csr', 5500),
    certificateType: j.str('certificateType', 64),
    ...(idempotencyKey ? { idempotencyKey } : {}),
  };
}

/** The audit entry of a certificate handed out: a new one, or one replayed for a retried Idempotency-Key. */
function issuanceEvent(signed: SignedCertificate, tenant: string, actor: string, stationId?: string): AuditEvent {
  return {
    event: signed.replayed ? 'certificate.replayed' : 'certificate.issued',
    actor,
    outcome: 'ok',
    tenant,
    details: {
      kind: signed.certificateType,
      ...(stationId ? { stationId } : {}),
      serialNumber: signed.serialNumber,
      notAfter: signed.notAfter,
      sha256Fingerprint: signed.sha256Fingerprint,
    },
  };
}

/**
 * The CA: internal only, answers only the RA (and the OCSP responder, for its signer certificates)
 * over mutual TLS, and probes and scrapers on a separate plain-HTTP ops port. node:http(s) without a
 * framework because it sits on the issuance hot path; see ARCHITECTURE.md "Hot paths".
 */
export function createCaService(config: CaConfig, init: CaInit, secrets: CaSecrets, overrides: CaOverrides = {}) {
  const log = overrides.logger ?? createLogger('ca');
  const metrics = createMetrics('ca');
  const store: CaStore = overrides.store ?? openStore(config.store);
  const now = overrides.now ?? (() => new Date());
  const issuers = new IssuerSet(store, secrets.loadIssuerSigner, init.publicOcspBase, log, now);
  let server: HttpsServer | undefined;
  let opsServer: Server | undefined;
  let reloadTimer: NodeJS.Timeout | undefined;
  /** One CRL publisher per held issuing CA: the active one and those still serving old certificates. */
  const crls = new Map<string, CrlPublisher>();
  // The CRL is republished before a revocation is answered (RFC 5280 5; A00.FR.702).
  // Issuances and revocations are in the audit log before they are answered (a failed append fails the request).
  const audit = createAuditTrail(store, { log, now, onStoreError: (err) => void metrics.countStoreError('audit-append', err) });
  /** The CA's own TLS key and the service CA's: no OCSP signer may be certified for them. */
  const serviceKeys = [secrets.tls.cert, secrets.tls.ca].map((pem) => new X509Certificate(pem).publicKey);
  const revokeDeps: RevokeDeps = {
    store,
    now,
    log,
    audit,
    publishCrl: async (issuerId) => {
      await crls.get(issuerId)?.publishNow();
    },
  };

  /**
   * Reloads the issuers and starts or stops their CRL publishers. Concurrent calls (the timer, a
   * signer request for an unknown issuer, a refused leaf) share one run, so that an added issuer
   * gets exactly one publisher.
   */
  let reloading: Promise<void> | undefined;
  function reloadIssuers(): Promise<void> {
    reloading ??= applyReload().finally(() => (reloading = undefined));
    return reloading;
  }
  async function applyReload(): Promise<void> {
    const { added, dropped } = await issuers.reload();
    for (const i of dropped) {
      await crls.get(i.id)?.stop();
      crls.delete(i.id);
    }
    for (const i of added) {
      const crl = createCrlPublisher({
        store,
        issuer: i,
        now,
        log,
        nextUpdateSeconds: config.crlNextUpdateSeconds,
        refreshSeconds: config.crlRefreshSeconds,
        onError: (err) => void metrics.countStoreError('crl-publish', err),
      });
      crls.set(i.id, crl);
      await crl.start();
    }
  }

  /**
   * Signs with the active issuing CA. When the store refuses the leaf because a rotation activated
   * another issuer meanwhile, reloads and signs again with the new one: signing never stops.
   */
  async function withActiveIssuer<T>(sign: (issuer: LoadedIssuer) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const issuer = issuers.activeIn();
      if (!issuer) {
        await reloadIssuers();
        if (!issuers.activeIn()) throw new AppError('unavailable', issuers.activeIdIn() ? `the CA does not hold the key of the active issuing CA ${issuers.activeIdIn()} yet` : 'no active issuing CA', undefined, 5);
        continue;
      }
      try {
        return await sign(issuer);
      } catch (e) {
        if (!(e instanceof IssuerNotActiveError) || attempt >= 3) throw e;
        await reloadIssuers();
      }
    }
  }

  /** The ops listener: plain HTTP, so that probes and scrapers need no client certificate; no /v1 route. */
  async function handleOps(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const url = req.url ?? '/';
    if (url !== '/healthz' && url !== '/readyz' && url !== '/metrics')
      throw new AppError('not-found', 'no such route on the ops port (/healthz, /readyz, /metrics); the API is on the TLS port');
    // HEAD is answered like GET: node:http sends the headers (content-length included) without the body.
    if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(GET);
    if (url === '/healthz') return sendJson(res, 200, { status: 'ok' }), 'healthz';
    if (url === '/readyz') {
      const storeOk = await store.ping().then(
        () => true,
        (err: unknown) => {
          metrics.countStoreError('GET /readyz', err);
          return false;
        },
      );
      const checks = { store: storeOk, keys: issuers.activeIn() !== undefined };
      const ready = checks.store && checks.keys;
      // issuerKeys: whether the CA holds each key it should (`pki rotate-* activate` checks this first);
      // issuerKeyErrors: why not (no key yet, wrong passphrase or PIN, a key not matching its certificate).
      return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'unready', checks, activeIssuer: issuers.activeIdIn() ?? null, issuerKeys: issuers.keyStatus(), issuerKeyErrors: issuers.keyProblems() }), 'readyz';
    }
    const text = await metrics.registry.metrics();
    res.writeHead(200, { 'content-type': metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return 'metrics';
  }

  /** The API listener: mutual TLS; the verified client certificate says who calls (service-caller.ts). */
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const url = req.url ?? '/';
    if (!url.startsWith('/v1/')) throw new AppError('not-found', 'no such route');
    // Any service client, no side effect: the RA's readiness check of the whole path, TLS included.
    if (url === '/v1/ping') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed(GET);
      return sendJson(res, 200, { status: 'ok', client: serviceCaller(req) }), 'ping';
    }
    authorizeServiceCaller(req, url);
    if (url === '/v1/ocsp-signers') {
      const j = jsonBody(await readBody(req, MAX_BODY));
      const issuerId = j.str('issuerId', 64);
      if (!issuers.get(issuerId)) await reloadIssuers();
      const started = process.hrtime.bigint();
      const deps = {
        store,
        issuer: issuers.get(issuerId),
        now,
        validitySeconds: config.ocspSignerValiditySeconds,
        perIssuerPerHour: config.ocspSignersPerIssuerPerHour,
        reservedKeys: async () => [...serviceKeys, peerKey(req), ...(await store.listIssuers()).flatMap((i) => [i.certificate, ...(i.crossCertificates ?? [])].map((c) => new X509Certificate(c).publicKey))],
      };
      const signer = await issueOcspSigner(issuerId, j.str('csr', 5500), deps).catch((e: unknown) => {
        metrics.issuances.inc({ kind: 'OcspSigningCertificate', outcome: failedIssuanceOutcome(e) });
        throw e;
      });
      metrics.issuances.inc({ kind: 'OcspSigningCertificate', outcome: 'issued' });
      metrics.signSeconds.observe({ kind: 'OcspSigningCertificate' }, Number(process.hrtime.bigint() - started) / 1e9);
      log.info({ event: 'ocsp-signer.issued', issuer: issuerId, serial: signer.serialNumber, notAfter: signer.notAfter }, 'OCSP signer certificate issued');
      await audit.record({ event: 'ocsp-signer.issued', actor: 'ocsp', outcome: 'ok', details: { issuerId, serialNumber: signer.serialNumber, notAfter: signer.notAfter } });
      return sendJson(res, 201, signer), 'ocsp-signers';
    }
    if (url === '/v1/revoke') {
      const j = jsonBody(await readBody(req, MAX_BODY));
      return sendJson(res, 200, await revokeCertificate(j.str('tenant', 64), j.str('serialNumber', 40), j.str('reason', 32), j.str('actor', 128), revokeDeps)), 'revoke';
    }
    if (url === '/v1/stations/remove') {
      const j = jsonBody(await readBody(req, MAX_BODY));
      return sendJson(res, 200, await removeStation(j.str('tenant', 64), j.str('stationId', 48), j.str('actor', 128), revokeDeps)), 'stations-remove';
    }
    if (url === '/v1/sign-server') {
      const j = jsonBody(await readBody(req, MAX_BODY));
      const tenant = j.str('tenant', 64);
      const idempotencyKey = j.optStr('idempotencyKey', 128);
      const validityHours = j.optNum('validityHours');
      const actor = j.str('actor', 128);
      const started = process.hrtime.bigint();
      try {
        const csr = j.str('csr', 5500);
        const signed = await withActiveIssuer((issuer) =>
          signServerCertificate(
            { tenant, csr, ...(validityHours === undefined ? {} : { validityHours }), ...(idempotencyKey ? { idempotencyKey } : {}) },
            { store, issuer, keyPolicy: config.keyPolicy, leafValiditySeconds: config.leafValiditySeconds, now, serverValidity: config.serverValidity },
          ),
        );
        await audit.record(issuanceEvent(signed, tenant, actor));
        metrics.issuances.inc({ kind: 'CSMSServerCertificate', outcome: signed.replayed ? 'replayed' : 'issued' });
        metrics.signSeconds.observe({ kind: 'CSMSServerCertificate' }, Number(process.hrtime.bigint() - started) / 1e9);
        log.info({ event: 'server-certificate.issued', tenant, serial: signed.serialNumber, notAfter: signed.notAfter, replayed: signed.replayed }, 'CSMS server certificate issued');
        return sendJson(res, 201, signed), 'sign-server';
      } catch (e) {
        metrics.issuances.inc({ kind: 'CSMSServerCertificate', outcome: failedIssuanceOutcome(e) });
        if (e instanceof AppError && e.kind === 'policy') log.info({ event: 'issuance.rejected', tenant, rules: e.violations?.map((v) => v.rule) }, 'server certificate request rejected');
        throw e;
      }
    }
    if (url === '/v1/sign') {
      const started = process.hrtime.bigint();
      const signReq = parseSignRequest(await readBody(req, MAX_BODY));
      try {
        const signed = await withActiveIssuer((issuer) =>
          signChargePointCertificate(signReq, { store, issuer, keyPolicy: config.keyPolicy, leafValiditySeconds: config.leafValiditySeconds, now }),
        );
        await audit.record(issuanceEvent(signed, signReq.tenant, signReq.actor, signReq.stationId));
        metrics.issuances.inc({ kind: 'ChargingStationCertificate', outcome: signed.replayed ? 'replayed' : 'issued' });
        metrics.signSeconds.observe({ kind: 'ChargingStationCertificate' }, Number(process.hrtime.bigint() - started) / 1e9);
        sendJson(res, 201, signed);
      } catch (e) {
        metrics.issuances.inc({ kind: 'ChargingStationCertificate', outcome: failedIssuanceOutcome(e) });
        if (e instanceof AppError && (e.kind === 'policy' || e.kind === 'forbidden'))
          log.info({ event: 'issuance.rejected', tenant: signReq.tenant, stationId: signReq.stationId, rules: e.violations?.map((v) => v.rule) }, 'certificate request rejected');
        throw e;
      }
      return 'sign';
    }
    throw new AppError('not-found', 'no such route');
  }

  return {
    async start(): Promise<{ port: number; opsPort: number }> {
      // Records must survive a crash before a certificate is handed out (ARCHITECTURE.md "Data").
      await store.assertDurable();
      // Stored key hashes up to the store's schema (issue 14.2) before the first certificate.
      const migration = await store.migrate();
      if (migration.from !== migration.to) log.info({ event: 'store.migrated', from: migration.from, to: migration.to, rewritten: migration.rewritten, rewrittenIssuers: migration.rewrittenIssuers, movedRotation: migration.movedRotation }, 'store migrated');
      if (migration.keyCertifiedTwice.length)
        log.warn({ event: 'store.key-certified-twice', serials: migration.keyCertifiedTwice }, 'certificates share a key (issued under two encodings of it): revoke all but one');
      await reloadIssuers();
      reloadTimer = setInterval(
        () =>
          void reloadIssuers().catch((err: unknown) => {
            metrics.countStoreError('issuer-reload', err);
            log.warn({ err }, 'issuer reload failed');
          }),
        ISSUER_RELOAD_MS,
      );
      reloadTimer.unref();
      const serve = (handler: typeof handle) => (req: IncomingMessage, res: ServerResponse) => {
        handler(req, res).then(
          () => {
            metrics.requests.inc({ route: routeOf(req), status: String(res.statusCode) });
            log.debug({ event: 'http.request', route: routeOf(req), status: res.statusCode }, 'request');
          },
          (err: unknown) => {
            const route = routeOf(req);
            if (metrics.countStoreError(route, err)) log.warn({ err: (err as Error).message, route }, 'store unavailable');
            else if (!(err instanceof AppError)) log.error({ err }, 'unexpected error');
            // The CA re-runs the policy (it trusts no caller): its own refusals, by rule.
            metrics.countRejections(err);
            if (!res.headersSent) sendProblem(res, err);
            else res.destroy();
            metrics.requests.inc({ route, status: String(res.statusCode) });
            log.debug({ event: 'http.request', route, status: res.statusCode }, 'request');
          },
        );
      };
      // Issue 7: only clients with a certificate from the service CA get past the handshake.
      server = createHttpsServer(
        { ...serverOptions(config.http), key: secrets.tls.key, cert: secrets.tls.cert, ca: [secrets.tls.ca], requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' },
        serve(handle),
      );
      // A certificate that does not verify is refused without an error of its own: its reason is on the socket.
      server.on('tlsClientError', (err: Error & { code?: string }, socket) =>
        log.warn({ event: 'tls.refused', reason: String(socket.authorizationError ?? err.code ?? err.message), remote: socket.remoteAddress }, 'TLS client refused'),
      );
      applyServerLimits(server, config.http);
      opsServer = applyServerLimits(createServer(serverOptions(config.http), serve(handleOps)), config.http);
      const listen = (s: Server | HttpsServer, port: number) =>
        new Promise<number>((resolve, reject) => {
          s.once('error', reject);
          s.listen(port, config.host, () => {
            s.off('error', reject);
            resolve((s.address() as AddressInfo).port);
          });
        });
      const port = await listen(server, config.port);
      const opsPort = await listen(opsServer, config.opsPort);
      log.info({ port, opsPort, activeIssuer: issuers.activeIdIn(), issuers: issuers.keyStatus() }, 'CA listening');
      return { port, opsPort };
    },
    async stop(): Promise<void> {
      for (const s of [server, opsServer]) {
        await new Promise<void>((resolve) => (s ? s.close(() => resolve()) : resolve()));
        s?.closeAllConnections();
      }
      clearInterval(reloadTimer);
      for (const crl of crls.values()) await crl.stop();
      if (!overrides.store) await store.close();
    },
  };
}
