import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import {
  AppError,
  SERVER_LIMITS,
  applyServerLimits,
  createLogger,
  createMetrics,
  readBody,
  sendJson,
  sendProblem,
  serviceTokenMatches,
  type Logger,
} from '@evpki/service';
import { StoreUnavailableError, openStore, type Store } from '@evpki/store';
import type { CaConfig } from './config.js';
import { loadIssuer, type LoadedIssuer } from './issuer.js';
import { signChargePointCertificate, type SignRequest } from './sign-certificate.js';
import { signServerCertificate } from './sign-server-certificate.js';
import { jsonBody } from './request-body.js';
import { removeStation, revokeCertificate, type RevokeDeps } from './revoke.js';
import { issueOcspSigner } from './ocsp-signer.js';
import { createCrlPublisher, type CrlPublisher } from './crl-publisher.js';

export interface CaSecrets {
  /** The charge point issuing CA's private key (decrypted in memory only). */
  readonly issuerKey: KeyObject;
  /** The credential the RA presents (RA → CA). */
  readonly clientToken: string;
  /** The credential the OCSP responder presents: it may only ask for delegated signer certificates. */
  readonly ocspClientToken: string;
}

export interface CaOverrides {
  readonly store?: Store;
  readonly now?: () => Date;
  readonly logger?: Logger;
}

export interface CaInit {
  readonly issuerId: string;
  readonly publicOcspBase: string;
}

const MAX_BODY = 16 * 1024;

function parseSignRequest(body: Buffer): SignRequest {
  const j = jsonBody(body);
  const idempotencyKey = j.optStr('idempotencyKey', 128);
  return {
    tenant: j.str('tenant', 64),
    stationId: j.str('stationId', 48),
    csr: j.str('csr', 5500),
    certificateType: j.str('certificateType', 64),
    ...(idempotencyKey ? { idempotencyKey } : {}),
  };
}

/**
 * The CA: internal only, answers only the RA. Plain node:http (three routes) because it sits on
 * the issuance hot path; see ARCHITECTURE.md "Hot paths".
 */
export function createCaService(config: CaConfig, init: CaInit, secrets: CaSecrets, overrides: CaOverrides = {}) {
  const log = overrides.logger ?? createLogger('ca');
  const metrics = createMetrics('ca');
  const store = overrides.store ?? openStore(config.store);
  const now = overrides.now ?? (() => new Date());
  let issuer: LoadedIssuer | undefined;
  let server: Server | undefined;
  let crl: CrlPublisher | undefined;
  // The CRL is republished before a revocation is answered (RFC 5280 5; A00.FR.702).
  const revokeDeps: RevokeDeps = {
    store,
    now,
    log,
    publishCrl: async (issuerId) => {
      if (crl && issuerId === issuer?.id) await crl.publishNow();
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url === '/healthz') return sendJson(res, 200, { status: 'ok' }), 'healthz';
    if (req.method === 'GET' && url === '/readyz') {
      const checks = { store: await store.ping().then(() => true, () => false), keys: issuer !== undefined };
      const ready = checks.store && checks.keys;
      return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'unready', checks }), 'readyz';
    }
    if (req.method === 'GET' && url === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
      return 'metrics';
    }
    if (!url.startsWith('/v1/')) throw new AppError('not-found', 'no such route');
    if (req.method !== 'POST') throw new AppError('malformed', 'use POST');
    if (!issuer) throw new AppError('unavailable', 'issuer not loaded', undefined, 5);
    if (url === '/v1/ocsp-signers') {
      if (!serviceTokenMatches(req.headers.authorization, secrets.ocspClientToken)) throw new AppError('unauthorized', 'only the OCSP responder may ask for signer certificates');
      const j = jsonBody(await readBody(req, MAX_BODY));
      const signer = await issueOcspSigner(j.str('issuerId', 64), j.str('csr', 5500), { store, issuer, now, validitySeconds: config.ocspSignerValiditySeconds });
      log.info({ event: 'ocsp-signer.issued', issuer: issuer.id, serial: signer.serialNumber, notAfter: signer.notAfter }, 'OCSP signer certificate issued');
      return sendJson(res, 201, signer), 'ocsp-signers';
    }
    if (!serviceTokenMatches(req.headers.authorization, secrets.clientToken)) throw new AppError('unauthorized', 'the CA answers only the RA');
    if (url === '/v1/revoke') {
      const j = jsonBody(await readBody(req, MAX_BODY));
      return sendJson(res, 200, await revokeCertificate(j.str('tenant', 64), j.str('serialNumber', 40), j.str('reason', 32), revokeDeps)), 'revoke';
    }
    if (url === '/v1/stations/remove') {
      const j = jsonBody(await readBody(req, MAX_BODY));
      return sendJson(res, 200, await removeStation(j.str('tenant', 64), j.str('stationId', 48), revokeDeps)), 'stations-remove';
    }
    if (url === '/v1/sign-server') {
      const j = jsonBody(await readBody(req, MAX_BODY));
      const tenant = j.str('tenant', 64);
      const idempotencyKey = j.optStr('idempotencyKey', 128);
      const validityHours = j.optNum('validityHours');
      const started = process.hrtime.bigint();
      try {
        const signed = await signServerCertificate(
          { tenant, csr: j.str('csr', 5500), ...(validityHours === undefined ? {} : { validityHours }), ...(idempotencyKey ? { idempotencyKey } : {}) },
          { store, issuer, keyPolicy: config.keyPolicy, leafValiditySeconds: config.leafValiditySeconds, now, metrics, serverValidity: config.serverValidity },
        );
        metrics.issuances.inc({ kind: 'CSMSServerCertificate', outcome: signed.replayed ? 'replayed' : 'issued' });
        metrics.signSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
        log.info({ event: 'server-certificate.issued', tenant, serial: signed.serialNumber, notAfter: signed.notAfter, replayed: signed.replayed }, 'CSMS server certificate issued');
        return sendJson(res, 201, signed), 'sign-server';
      } catch (e) {
        metrics.issuances.inc({ kind: 'CSMSServerCertificate', outcome: 'rejected' });
        if (e instanceof AppError && e.kind === 'policy') log.info({ event: 'issuance.rejected', tenant, rules: e.violations?.map((v) => v.rule) }, 'server certificate request rejected');
        throw e;
      }
    }
    if (url === '/v1/sign') {
      const started = process.hrtime.bigint();
      const signReq = parseSignRequest(await readBody(req, MAX_BODY));
      try {
        const signed = await signChargePointCertificate(signReq, {
          store,
          issuer,
          keyPolicy: config.keyPolicy,
          leafValiditySeconds: config.leafValiditySeconds,
          now,
          metrics,
        });
        metrics.issuances.inc({ kind: 'ChargingStationCertificate', outcome: signed.replayed ? 'replayed' : 'issued' });
        metrics.signSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
        sendJson(res, 201, signed);
      } catch (e) {
        metrics.issuances.inc({ kind: 'ChargingStationCertificate', outcome: 'rejected' });
        if (e instanceof AppError && (e.kind === 'policy' || e.kind === 'forbidden'))
          log.info({ event: 'issuance.rejected', tenant: signReq.tenant, stationId: signReq.stationId, rules: e.violations?.map((v) => v.rule) }, 'certificate request rejected');
        throw e;
      }
      return 'sign';
    }
    throw new AppError('not-found', 'no such route');
  }

  return {
    async start(): Promise<{ port: number }> {
      // Records must survive a crash before a certificate is handed out (ARCHITECTURE.md "Data").
      await store.assertDurable();
      issuer = await loadIssuer(store, init.issuerId, secrets.issuerKey, init.publicOcspBase);
      crl = createCrlPublisher({ store, issuer, now, log, nextUpdateSeconds: config.crlNextUpdateSeconds, refreshSeconds: config.crlRefreshSeconds });
      await crl.start();
      server = createServer({ ...SERVER_LIMITS }, (req, res) => {
        handle(req, res).then(
          (route) => metrics.requests.inc({ route, status: String(res.statusCode) }),
          (err: unknown) => {
            if (err instanceof StoreUnavailableError) log.warn({ err: err.message }, 'store unavailable');
            else if (!(err instanceof AppError)) log.error({ err }, 'unexpected error');
            if (!res.headersSent) sendProblem(res, err);
            else res.destroy();
            metrics.requests.inc({ route: 'error', status: String(res.statusCode) });
          },
        );
      });
      applyServerLimits(server);
      await new Promise<void>((resolve) => server!.listen(config.port, config.host, resolve));
      const port = (server.address() as AddressInfo).port;
      log.info({ port, issuer: issuer.id }, 'CA listening');
      return { port };
    },
    async stop(): Promise<void> {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections();
      await crl?.stop();
      if (!overrides.store) await store.close();
    },
  };
}
