import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { JWK } from 'jose';
import {
  AppError,
  applyServerLimits,
  createJwtVerifier,
  createLogger,
  createMetrics,
  toProblem,
  type Logger,
  type RuleViolation,
} from '@evpki/service';
import { StoreUnavailableError, openStore, type Store } from '@evpki/store';
import { createCaClient } from './ca-client.js';
import { createCertificateStatus } from './certificate-status.js';
import type { RaConfig } from './config.js';
import { v1Routes } from './routes.js';

export const OPENAPI_PATH = fileURLToPath(new URL('../../../openapi.yaml', import.meta.url));

export interface RaSecrets {
  /** The credential the RA presents to the CA. */
  readonly caClientToken: string;
  /** Public key that RA bearer tokens are verified with. */
  readonly jwtPublicJwk: JWK;
}

export interface RaInit {
  readonly jwtIssuer: string;
  readonly jwtAudience: string;
}

export interface RaOverrides {
  readonly store?: Store;
  readonly now?: () => Date;
  readonly logger?: Logger;
}

const MAX_BODY = '16kb';

interface ValidatorError {
  status?: number;
  type?: string;
  errors?: { path?: string; message?: string }[];
}

/** Schema errors name the OpenAPI rule they broke; the CSR size limit is OCPP's (A02.FR.03). */
function schemaViolations(err: ValidatorError): RuleViolation[] {
  return (err.errors ?? []).slice(0, 20).map((e) => ({
    rule: e.path === '/body/csr' ? 'A02.FR.03' : `openapi:${e.path ?? 'request'}`,
    message: `${e.path ?? 'request'} ${e.message ?? 'is invalid'}`,
  }));
}

/**
 * The RA: the CSMS-facing API. Authenticates (JWT), validates against openapi.yaml, applies policy
 * early, asks the CA to sign, and answers in OCPP-ready shapes.
 */
export function createRaService(config: RaConfig, init: RaInit, secrets: RaSecrets, overrides: RaOverrides = {}) {
  const log = overrides.logger ?? createLogger('ra');
  const metrics = createMetrics('ra');
  const store = overrides.store ?? openStore(config.store);
  const now = overrides.now ?? (() => new Date());
  const ca = createCaClient(config.caUrl, secrets.caClientToken, config.caTimeoutMs);
  const certificateStatus = createCertificateStatus(
    { ocspUrl: config.ocspUrl, allowedHosts: config.ocspAllowedHosts, timeoutMs: config.ocspTimeoutMs },
    store,
    log,
  );
  let server: Server | undefined;

  async function buildApp() {
    const verify = await createJwtVerifier({
      issuer: config.jwtIssuer ?? init.jwtIssuer,
      audience: config.jwtAudience ?? init.jwtAudience,
      publicJwk: secrets.jwtPublicJwk,
      now,
    });
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.use((req, res, next) => {
      res.on('finish', () => metrics.requests.inc({ route: (req.route as { path?: string } | undefined)?.path ?? 'unmatched', status: String(res.statusCode) }));
      next();
    });

    app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
    app.get('/readyz', async (_req, res) => {
      const checks = { store: await store.ping().then(() => true, () => false), keys: await ca.ping() };
      const ready = checks.store && checks.keys;
      res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unready', checks });
    });
    app.get('/metrics', async (_req, res) => {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });

    // Authentication before validation, so an anonymous caller learns nothing about the schema.
    app.use('/v1', (req, res, next) => {
      verify(req.get('authorization')).then((caller) => {
        res.locals.caller = caller;
        next();
      }, next);
    });
    app.use(express.json({ limit: MAX_BODY, strict: true, type: () => true }));
    app.use(
      OpenApiValidator.middleware({
        apiSpec: OPENAPI_PATH,
        validateRequests: { allowUnknownQueryParameters: false },
        validateResponses: config.validateResponses,
        validateSecurity: false,
        ignoreUndocumented: false,
      }),
    );
    app.use('/v1', v1Routes({ store, ca, keyPolicy: config.keyPolicy, now, metrics, certificateStatus, rateLimits: config.rateLimits }));

    app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
      const v = err as ValidatorError;
      let appErr: unknown = err;
      if (!(err instanceof AppError)) {
        if (v.type === 'entity.too.large') appErr = new AppError('too-large', `request body larger than ${MAX_BODY}`);
        else if (v.type === 'entity.parse.failed') appErr = new AppError('malformed', 'request body is not valid JSON');
        else if (v.status === 400 || v.status === 415) appErr = new AppError('malformed', 'the request does not match openapi.yaml', schemaViolations(v));
        else if (v.status === 404) appErr = new AppError('not-found', 'no such route');
        else if (v.status === 405) appErr = new AppError('malformed', `method ${req.method} is not allowed here`);
        else if (err instanceof StoreUnavailableError) log.warn({ err: err.message, path: req.path }, 'store unavailable');
        else log.error({ err, path: req.path }, 'unexpected error');
      }
      const p = toProblem(appErr);
      res.status(p.status).set(p.headers).end(JSON.stringify(p.body));
    });
    return app;
  }

  return {
    async start(): Promise<{ port: number }> {
      const app = await buildApp();
      server = app.listen(config.port, config.host);
      applyServerLimits(server);
      await new Promise<void>((resolve, reject) => {
        server!.once('listening', resolve);
        server!.once('error', reject);
      });
      const port = (server.address() as AddressInfo).port;
      log.info({ port, ca: config.caUrl }, 'RA listening');
      return { port };
    },
    async stop(): Promise<void> {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections();
      await ca.close();
      await certificateStatus.close();
      if (!overrides.store) await store.close();
    },
  };
}
