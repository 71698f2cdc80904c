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
import { IssuerNotActiveError, IssuerSet } from './issuer-set.js';
import type { LoadedIssuer } from './issuer.js';
import { signChargePointCertificate, type SignRequest } from './sign-certificate.js';
import { signServerCertificate } from './sign-server-certificate.js';
import { jsonBody } from './request-body.js';
import { removeStation, revokeCertificate, type RevokeDeps } from './revoke.js';
import { issueOcspSigner } from './ocsp-signer.js';
import { createCrlPublisher, type CrlPublisher } from './crl-publisher.js';

export interface CaSecrets {
  /**
   * Reads and decrypts an issuing CA's private key (kept in memory only); throws when it is not
   * there (yet). Called for each charge point sub-CA the store lists, so keys of a rotation's new
   * issuer are picked up once they are mounted.
   */
  readonly loadIssuerKey: (issuerId: string) => KeyObject;
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
  readonly publicOcspBase: string;
}

/** How often the CA re-reads the issuers (rotation steps, keys arriving); a refused leaf reloads at once. */
const ISSUER_RELOAD_MS = 5_000;

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
  const issuers = new IssuerSet(store, secrets.loadIssuerKey, init.publicOcspBase, log, now);
  let server: Server | undefined;
  let reloadTimer: NodeJS.Timeout | undefined;
  /** One CRL publisher per held issuing CA: the active one and those still serving old certificates. */
  const crls = new Map<string, CrlPublisher>();
  // The CRL is republished before a revocation is answered (RFC 5280 5; A00.FR.702).
  const revokeDeps: RevokeDeps = {
    store,
    now,
    log,
    publishCrl: async (issuerId) => {
      await crls.get(issuerId)?.publishNow();
    },
  };

  /** Reloads the issuers and starts or stops their CRL publishers. */
  async function reloadIssuers(): Promise<void> {
    const { added, dropped } = await issuers.reload();
    for (const i of dropped) {
      await crls.get(i.id)?.stop();
      crls.delete(i.id);
    }
    for (const i of added) {
      const crl = createCrlPublisher({ store, issuer: i, now, log, nextUpdateSeconds: config.crlNextUpdateSeconds, refreshSeconds: config.crlRefreshSeconds });
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
      const issuer = issuers.active;
      if (!issuer) {
        await reloadIssuers();
        if (!issuers.active) throw new AppError('unavailable', issuers.activeIssuerId ? `the CA does not hold the key of the active issuing CA ${issuers.activeIssuerId} yet` : 'no active issuing CA', undefined, 5);
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

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const url = req.url ?? '/';
    if (req.method === 'GET' && url === '/healthz') return sendJson(res, 200, { status: 'ok' }), 'healthz';
    if (req.method === 'GET' && url === '/readyz') {
      const checks = { store: await store.ping().then(() => true, () => false), keys: issuers.active !== undefined };
      const ready = checks.store && checks.keys;
      // issuerKeys: whether the CA holds each key it should (`pki rotate-* activate` checks this first).
      return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'unready', checks, activeIssuer: issuers.activeIssuerId ?? null, issuerKeys: issuers.keyStatus() }), 'readyz';
    }
    if (req.method === 'GET' && url === '/metrics') {
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
      return 'metrics';
    }
    if (!url.startsWith('/v1/')) throw new AppError('not-found', 'no such route');
    if (req.method !== 'POST') throw new AppError('malformed', 'use POST');
    if (url === '/v1/ocsp-signers') {
      if (!serviceTokenMatches(req.headers.authorization, secrets.ocspClientToken)) throw new AppError('unauthorized', 'only the OCSP responder may ask for signer certificates');
      const j = jsonBody(await readBody(req, MAX_BODY));
      const issuerId = j.str('issuerId', 64);
      if (!issuers.get(issuerId)) await reloadIssuers();
      const signer = await issueOcspSigner(issuerId, j.str('csr', 5500), { store, issuer: issuers.get(issuerId), now, validitySeconds: config.ocspSignerValiditySeconds });
      log.info({ event: 'ocsp-signer.issued', issuer: issuerId, serial: signer.serialNumber, notAfter: signer.notAfter }, 'OCSP signer certificate issued');
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
        const csr = j.str('csr', 5500);
        const signed = await withActiveIssuer((issuer) =>
          signServerCertificate(
            { tenant, csr, ...(validityHours === undefined ? {} : { validityHours }), ...(idempotencyKey ? { idempotencyKey } : {}) },
            { store, issuer, keyPolicy: config.keyPolicy, leafValiditySeconds: config.leafValiditySeconds, now, metrics, serverValidity: config.serverValidity },
          ),
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
        const signed = await withActiveIssuer((issuer) =>
          signChargePointCertificate(signReq, { store, issuer, keyPolicy: config.keyPolicy, leafValiditySeconds: config.leafValiditySeconds, now, metrics }),
        );
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
      await reloadIssuers();
      reloadTimer = setInterval(() => void reloadIssuers().catch((err: unknown) => log.warn({ err }, 'issuer reload failed')), ISSUER_RELOAD_MS);
      reloadTimer.unref();
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
      log.info({ port, activeIssuer: issuers.activeIssuerId, issuers: issuers.keyStatus() }, 'CA listening');
      return { port };
    },
    async stop(): Promise<void> {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server?.closeAllConnections();
      clearInterval(reloadTimer);
      for (const crl of crls.values()) await crl.stop();
      if (!overrides.store) await store.close();
    },
  };
}
