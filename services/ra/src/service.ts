import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  AppError,
  RA_CLIENT_CN,
  REQUEST_ID_HEADER,
  acceptRequestId,
  requestScope,
  applyServerLimits,
  serverOptions,
  createAuditTrail,
  createJwtVerifier,
  dataPaths,
  createLogger,
  createMetrics,
  observeAuditLog,
  observeCaUp,
  observeCertificates,
  observeStoreUp,
  serviceCertificate,
  toProblem,
  watchServiceTls,
  type Caller,
  type Logger,
  type ServiceTls,
} from '@evpki/service';
import { StoreUnavailableError, openStore, type RaStore } from '@evpki/store';
import { CaClient } from '@evpki/ca-client';
import { createEnrolment } from './enrol.js';
import { createManufacturerRevocation } from './manufacturer-revocation.js';
import { manufacturerHandlers } from './manufacturer-routes.js';
import { createManufacturerTrust } from './manufacturer-trust.js';
import { createCertificateStatus } from './certificate-status.js';
import { readJwks, type RaConfig } from './config.js';
import { v1Handlers } from './routes.js';
import { authenticate, contextOf, maybeContextOf, requestOf } from './authenticate.js';
import { loadOperations } from './operations.js';
import { compileRequestSchemas } from './request-schema.js';
import { raOpsRoutes } from './ops-routes.js';
import { auditRefusal } from './audit-refusal.js';
import { countFailedRequest, routeLabel, type LabelledRoute } from './request-metrics.js';
import { initialTlsPair, watchTlsFiles } from './tls-files.js';
import { createOAuthTokens } from './oauth-token.js';
import { checkEstQuery, estRoutes, loadEstRoutes } from './est.js';
import { serviceAccountTokens } from './k8s-service-accounts.js';
import { webRoutes } from './web-routes.js';
import { createOcspAnswers } from './ocsp-answers.js';

export const OPENAPI_PATH = fileURLToPath(new URL('../../../openapi.yaml', import.meta.url));

export interface RaSecrets {
  /** The RA's client certificate and key for mutual TLS to the CA, and the service CA it trusts (issue 7). */
  readonly caTls: ServiceTls;
}

export interface RaInit {
  readonly jwtIssuer: string;
  readonly jwtAudience: string;
}

export interface RaOverrides {
  readonly store?: RaStore;
  readonly now?: () => Date;
  readonly logger?: Logger;
}

const MAX_BODY = '16kb';
const MAX_BODY_BYTES = 16 * 1024;

/** What express.json (body-parser) throws for a body it cannot read. */
interface BodyParserError {
  status?: number;
  type?: string;
}

/**
 * The RA: the CSMS-facing API. Authenticates (JWT), validates against openapi.yaml, applies policy
 * early, asks the CA to sign, and answers in OCPP-ready shapes.
 */
export function createRaService(config: RaConfig, init: RaInit, secrets: RaSecrets, overrides: RaOverrides = {}) {
  const log = overrides.logger ?? createLogger('ra');
  const metrics = createMetrics('ra');
  const store: RaStore = overrides.store ?? openStore(config.store);
  const now = overrides.now ?? (() => new Date());
  const ca = new CaClient({ baseUrl: config.caUrl, tls: secrets.caTls, as: RA_CLIENT_CN, timeoutMs: config.caTimeoutMs, connections: config.caConnections, log });
  const certificateStatus = createCertificateStatus(
    { ocspUrl: config.ocspUrl, allowedHosts: config.ocspAllowedHosts, timeoutMs: config.ocspTimeoutMs },
    store,
    log,
  );
  // Manufacturer chains (issue 21): their CRLs and responders through the same guarded client and allow-list.
  const manufacturerRevocation = createManufacturerRevocation({ allowedHosts: config.ocspAllowedHosts, timeoutMs: config.ocspTimeoutMs }, now);
  const manufacturers = createManufacturerTrust({ store, revocation: manufacturerRevocation, now });
  const ocspAnswers = createOcspAnswers({ urls: config.ocspMetricsUrls, timeoutMs: config.ocspTimeoutMs, log });
  let server: Server | undefined;
  let tlsWatch: { stop(): void } | undefined;

  const audit = createAuditTrail(store, {
    log,
    now,
    onStoreError: (err) => void metrics.countStoreError('audit-append', err),
    refusalIntervalMs: config.auditRefusalIntervalSeconds * 1000,
  });
  observeAuditLog(metrics, store);
  // Expiry and health gauges (k8s/monitoring): its client certificate, the store, the CA.
  let clientCertificate = serviceCertificate('ra-client', secrets.caTls.cert);
  let clientTlsWatch: { stop(): void } | undefined;
  let servingCertificate: ReturnType<typeof serviceCertificate> | undefined;
  observeCertificates(metrics, () => (servingCertificate ? [clientCertificate, servingCertificate] : [clientCertificate]));
  observeStoreUp(metrics, store);
  observeCaUp(metrics, () => ca.ping());
  const operations = loadOperations(OPENAPI_PATH);
  const operationOf = operations.find;
  const schemas = compileRequestSchemas(operations.spec, operations.all);
  const enrolment = createEnrolment({ store, ca, keyPolicy: config.keyPolicy, now, rateLimits: config.rateLimits, metrics, manufacturers });
  // The probes and scrapers, then the public web pages (/docs, /console): exact GET paths before the gate.
  const ops = [...raOpsRoutes({ store, metrics, caReady: () => ca.ping() }), ...webRoutes()];
  const estRouteTable = loadEstRoutes(OPENAPI_PATH);
  // Request labels of the routes outside /v1: the ops routes, EST, the token endpoint.
  const otherRoutes: readonly LabelledRoute[] = [
    ...ops.map((r) => ({ method: 'GET', path: r.path, label: r.label })),
    ...estRouteTable,
    { method: 'POST', path: '/oauth/token', label: 'POST /oauth/token' },
  ];
  const handlers = { ...v1Handlers({ store, ca, enrolment, now, certificateStatus, audit, ocspAnswers }), ...manufacturerHandlers({ store, trust: manufacturers, audit, now }) };
  // Each openapi.yaml operation has exactly one handler, and each handler one operation.
  const declared = operations.all.map((o) => o.route).sort();
  if (JSON.stringify(declared) !== JSON.stringify(Object.keys(handlers).sort()))
    throw new Error(`openapi.yaml operations (${declared.join(', ')}) and RA handlers (${Object.keys(handlers).sort().join(', ')}) differ`);

  async function buildApp() {
    const audience = config.jwtAudience ?? init.jwtAudience;
    const oauth = createOAuthTokens({
      keyPath: dataPaths(config.dataDir).raTokenKey,
      audience,
      maxTtlSeconds: config.jwtMaxTtlSeconds,
      clockToleranceSeconds: config.jwtClockSkewSeconds,
      store,
      audit,
      now,
    });
    // The identity provider's tokens, the RA's own from POST /oauth/token (oauth-token.ts), and
    // Kubernetes service account tokens of the mapped accounts (k8s-service-accounts.ts).
    const k8s = config.k8sServiceAccounts
      ? serviceAccountTokens(config.k8sServiceAccounts, { algorithms: config.jwtAlgorithms, clockToleranceSeconds: config.jwtClockSkewSeconds, maxTtlSeconds: config.jwtMaxTtlSeconds, now })
      : (next: (authorization: string | undefined) => Promise<Caller>) => next;
    const verify = k8s(oauth.verifier(createJwtVerifier({
      issuer: config.jwtIssuer ?? init.jwtIssuer,
      audience,
      keys: 'jwksFile' in config.jwtKeys ? { jwks: readJwks(config.jwtKeys.jwksFile) } : config.jwtKeys,
      algorithms: config.jwtAlgorithms,
      clockToleranceSeconds: config.jwtClockSkewSeconds,
      maxTtlSeconds: config.jwtMaxTtlSeconds,
      now,
    })));
    const app = express();
    // Exact routing for the ops routes and for the validator's own matching (it reads these
    // settings), so that it agrees with the gate; /v1 is dispatched by the gate's match alone.
    app.set('case sensitive routing', true);
    app.set('strict routing', true);
    app.disable('x-powered-by');
    app.set('etag', false);
    // The caller's X-Request-Id (or a new one) on the answer, every log line of the request and the
    // call to the CA: everything after runs inside it.
    app.use((req, res, next) => {
      const request = requestScope(log, acceptRequestId(req.headers[REQUEST_ID_HEADER]));
      res.locals.request = request;
      res.setHeader(REQUEST_ID_HEADER, request.id);
      const started = process.hrtime.bigint();
      res.on('finish', () => {
        const route = routeLabel(operationOf, otherRoutes, req);
        metrics.requests.inc({ route, status: String(res.statusCode) });
        // The route template only: never the URL's parameters, the headers or the body.
        request.log.debug({ event: 'http.request', route, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'request');
      });
      next();
    });

    for (const r of ops) app.get(r.path, r.handle);

    // The OAuth2 token endpoint (openapi.yaml, security: []): the client authenticates itself, so
    // it runs before the bearer token gate, with its own small body parsers and RFC 6749 errors.
    app.post('/oauth/token', express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 20 }), express.json({ limit: '4kb', strict: true }), (req, res, next) => {
      oauth.handle(req, res).catch(next);
    });
    // The body parsers' refusals (bad JSON, too large, an unsupported encoding or charset): RFC 6749 invalid_request.
    app.use('/oauth/token', (err: { status?: unknown }, _req: Request, res: Response, next: NextFunction) => {
      if (typeof err.status !== 'number' || err.status < 400 || err.status >= 500) return next(err);
      res.status(400).set({ 'Cache-Control': 'no-store' }).json({ error: 'invalid_request', error_description: 'the body cannot be read as form parameters or JSON (identity encoding, utf-8, at most 4 KiB)' });
    });

    // Authentication before validation, so an anonymous caller learns nothing about the schema.
    // A declared body over the limit is refused before anything else (express.json would first read
    // and discard all of it); the 413 closes the connection (toProblem).
    app.use((req, _res, next) => {
      next(Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES ? new AppError('too-large', `request body larger than ${MAX_BODY}`) : undefined);
    });
    // EST (RFC 7030) for SECC certificates (est.ts): base64 bodies, so before the JSON parser; the
    // enrolment routes check the bearer token as the gate does, before the body is read.
    const est = estRoutes({ store, enrolment, verify, audit, metrics, now });
    // The EST routes as openapi.yaml declares them (x-est; the OPCP spellings are more paths of the same operations).
    for (const r of estRouteTable)
      if (r.method === 'GET') {
        const handle = r.operation === 'csrattrs' ? est.csrattrs : est.cacerts;
        app.get(r.path, (req, res, next) => {
          checkEstQuery(req.query, r.requiredQuery);
          handle(req, res).catch(next);
        });
      } else
        app.post(
          r.path,
          (req, res, next) => {
            checkEstQuery(req.query, r.requiredQuery);
            est.authorize(req, res, r.operation).then(() => next(), next);
          },
          express.text({ type: () => true, limit: MAX_BODY }),
          (req, res, next) => {
            est.enroll(req, res).catch(next);
          },
        );
    // Everything else is an openapi.yaml operation or 404 (deny by default), before the body is read.
    app.use(authenticate({ verify, match: operations.match, allowed: operations.allowed, store, audit, metrics }));
    app.use(express.json({ limit: MAX_BODY, strict: true, type: () => true }));
    // The operation the gate matched and authorized is checked against its own schemas, and runs.
    app.use(async (req: Request, res: Response) => {
      const { operation, params } = contextOf(res);
      schemas.check(operation, req, params);
      if (config.validateResponses) schemas.checkResponses(operation, res);
      await handlers[operation.route]!(req, res);
    });

    app.use(async (err: unknown, req: Request, res: Response, _next: NextFunction) => {
      const v = err as BodyParserError;
      let appErr: unknown = err;
      if (!(err instanceof AppError)) {
        if (v.type === 'entity.too.large') appErr = new AppError('too-large', `request body larger than ${MAX_BODY}`);
        else if (v.type === 'entity.parse.failed') appErr = new AppError('malformed', 'request body is not valid JSON');
        else if (v.status === 400 || v.status === 415)
          appErr = new AppError('malformed', 'the request body cannot be read', [{ rule: 'openapi:/body', message: `/body cannot be read as JSON (identity, gzip or deflate encoding; utf-8): ${v.type ?? 'unreadable'}` }]);
        else if (err instanceof StoreUnavailableError) requestOf(res).log.warn({ err: err.message, path: req.path }, 'store unavailable');
        else requestOf(res).log.error({ err, path: req.path }, 'unexpected error');
      }
      const ctx = maybeContextOf(res);
      countFailedRequest(metrics, routeLabel(operationOf, otherRoutes, req), req, appErr, err, ctx !== undefined);
      if (ctx && appErr instanceof AppError) await auditRefusal(audit, ctx, appErr);
      const p = toProblem(appErr);
      res.status(p.status).set(p.headers).end(JSON.stringify(p.body));
    });
    return app;
  }

  return {
    async start(): Promise<{ port: number }> {
      const app = await buildApp();
      // Created with the limits' options: the header size and how often timeouts are checked are set only here.
      if (config.tls) {
        // HTTPS: bearer tokens and CSRs cross this listener. The files are polled, and a new valid
        // pair replaces the served one for new connections (open ones keep theirs).
        const first = initialTlsPair(config.tls);
        // A client certificate is asked for, never required or judged by the handshake: only EST
        // simplereenroll reads it, and checks it against the store itself (secc-client-cert.ts).
        const https = createHttpsServer({ ...serverOptions(config.http), ...first.options, requestCert: true, rejectUnauthorized: false }, app);
        servingCertificate = serviceCertificate('ra-server', first.pair.cert);
        tlsWatch = watchTlsFiles(config.tls, first.pair, (options, pair) => {
          https.setSecureContext(options);
          servingCertificate = serviceCertificate('ra-server', pair.cert);
        }, log);
        server = https;
      } else server = createServer(serverOptions(config.http), app);
      applyServerLimits(server, config.http);
      server.listen(config.port, config.host);
      await new Promise<void>((resolve, reject) => {
        server!.once('listening', resolve);
        server!.once('error', reject);
      });
      const port = (server.address() as AddressInfo).port;
      // A renewed client certificate to the CA (pki service-certs renew): the next connection presents it.
      clientTlsWatch = watchServiceTls(config.dataDir, 'ra-client', config.serviceTlsReloadMs, (renewed) => {
        ca.setTls(renewed);
        clientCertificate = serviceCertificate('ra-client', renewed.cert);
      }, log);
      log.info({ port, tls: config.tls !== undefined, ca: config.caUrl }, 'RA listening');
      return { port };
    },
    async stop(): Promise<void> {
      tlsWatch?.stop();
      clientTlsWatch?.stop();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections();
      await ca.close();
      await certificateStatus.close();
      await manufacturerRevocation.close();
      // The refusal counts still pending go into the log before the store closes.
      await audit.close();
      if (!overrides.store) await store.close();
    },
  };
}
