import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError, SERVER_LIMITS, applyServerLimits, createLogger, createMetrics, sendJson, sendProblem, type Logger } from '@evpki/service';
import { openStore, type Store } from '@evpki/store';
import type { OcspConfig } from './config.js';

export interface OcspOverrides {
  readonly store?: Store;
  readonly logger?: Logger;
}

/**
 * The OCSP responder's HTTP front (node:http: it is a hot path). This first version serves health,
 * readiness and issuer certificates (the AIA caIssuers URL); RFC 6960 responses come with the OCSP issue.
 */
export function createOcspService(config: OcspConfig, overrides: OcspOverrides = {}) {
  const log = overrides.logger ?? createLogger('ocsp');
  const metrics = createMetrics('ocsp');
  const store = overrides.store ?? openStore({ dataDir: config.dataDir });
  let server: Server | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    if (req.method !== 'GET') throw new AppError('malformed', 'use GET');
    if (url === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (url === '/readyz') {
      const checks = { store: await store.ping().then(() => true, () => false), keys: true };
      return sendJson(res, checks.store ? 200 : 503, { status: checks.store ? 'ready' : 'unready', checks });
    }
    if (url === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
      return;
    }
    const m = /^\/issuers\/([a-z0-9-]{1,64})\.der$/.exec(url);
    if (m) {
      const issuer = await store.getIssuer(m[1]!);
      if (!issuer) throw new AppError('not-found', 'no such issuer');
      res.writeHead(200, { 'content-type': 'application/pkix-cert', 'content-length': issuer.certificate.length, 'cache-control': 'public, max-age=3600' });
      res.end(issuer.certificate);
      return;
    }
    throw new AppError('not-found', 'no such route');
  }

  return {
    async start(): Promise<{ port: number }> {
      server = createServer({ ...SERVER_LIMITS }, (req, res) => {
        handle(req, res).catch((err: unknown) => {
          if (!(err instanceof AppError)) log.error({ err }, 'unexpected error');
          sendProblem(res, err);
        });
      });
      applyServerLimits(server);
      await new Promise<void>((resolve) => server!.listen(config.port, config.host, resolve));
      const port = (server.address() as AddressInfo).port;
      log.info({ port }, 'OCSP responder listening');
      return { port };
    },
    async stop(): Promise<void> {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections();
      if (!overrides.store) await store.close();
    },
  };
}
