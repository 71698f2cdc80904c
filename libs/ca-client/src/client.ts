import { Pool } from 'undici';
import { AppError, REQUEST_ID_HEADER, currentRequestId, kindForStatus, serviceClientTlsOptions, type Logger, type RuleViolation, type ServiceTls } from '@evpki/service';
import { CA_API, type CaOperation, type CaRemoveStationRequest, type CaRevokeRequest, type CaServerSignRequest, type CaSignRequest, type CaOcspSignerRequest } from './contract.js';

export interface CaClientOptions {
  /** The CA's API (RA_CA_URL, OCSP_CA_URL): https, mutual TLS. */
  readonly baseUrl: string;
  /** This service's client certificate and key, and the service CA it trusts (issue 7). */
  readonly tls: ServiceTls;
  /** The CN the CA must know this client by (RA_CLIENT_CN, OCSP_CLIENT_CN): `ping` checks it. */
  readonly as: string;
  /** How long the CA may take to send the headers, and then the body, of an answer. */
  readonly timeoutMs: number;
  /** Keep-alive connections at most (the RA signs many certificates at once; the responder asks now and then). */
  readonly connections?: number;
  readonly log?: Logger;
}

const MAX_RESPONSE = 64 * 1024;
/** Retry-After of a CA that is down or gave no answer: it restarts within seconds. */
const UNAVAILABLE_RETRY_SECONDS = 5;

const unavailable = (why: string): AppError => new AppError('unavailable', why, undefined, UNAVAILABLE_RETRY_SECONDS);

/**
 * A service's calls to the CA (contract.ts) over keep-alive HTTPS with its client certificate. The
 * CA's problems come back as AppErrors of the same kind, rules and Retry-After, so that the caller
 * relays them; a CA that cannot be reached or answers nonsense is `unavailable`.
 */
export class CaClient {
  private pool: Pool;
  /** Pools replaced by setTls, closing once their requests are answered. */
  private readonly retiring = new Set<Promise<void>>();

  constructor(private readonly o: CaClientOptions) {
    this.pool = this.poolWith(o.tls);
  }

  private poolWith(tls: ServiceTls): Pool {
    return new Pool(this.o.baseUrl, {
      connections: this.o.connections ?? 4,
      pipelining: 1,
      headersTimeout: this.o.timeoutMs,
      bodyTimeout: this.o.timeoutMs,
      keepAliveTimeout: 30_000,
      connect: serviceClientTlsOptions(tls),
    });
  }

  /**
   * A renewed client certificate (watchServiceTls): later requests go through new connections that
   * present it; requests under way finish on the old connections, which then close. Nothing fails.
   */
  setTls(tls: ServiceTls): void {
    const old = this.pool;
    this.pool = this.poolWith(tls);
    const closing: Promise<void> = old.close().catch(() => undefined).finally(() => this.retiring.delete(closing));
    this.retiring.add(closing);
  }

  /** Calls one operation; its answer on the operation's success status, its problem as an AppError otherwise. */
  async call<Req, Res>(op: CaOperation<Req, Res>, req: Req, opts: { headersTimeout?: number; requestId?: string } = {}): Promise<Res> {
    let res;
    // The request being served goes on in the CA's log lines under the same id (`requestId`: one
    // given explicitly, by a caller that runs no AsyncLocalStorage: the OCSP responder).
    const requestId = opts.requestId ?? currentRequestId();
    const headers = { ...(requestId ? { [REQUEST_ID_HEADER]: requestId } : {}), ...(op.method === 'POST' ? { 'content-type': 'application/json' } : {}) };
    try {
      res = await this.pool.request({
        path: op.path,
        method: op.method,
        headers,
        ...(op.method === 'POST' ? { body: JSON.stringify(req) } : {}),
        ...(opts.headersTimeout ? { headersTimeout: opts.headersTimeout } : {}),
      });
    } catch {
      throw unavailable('the CA is unreachable; try again later');
    }
    const text = await res.body.text();
    if (text.length > MAX_RESPONSE) throw unavailable('the CA answered with an oversized response');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw unavailable('the CA answered with an unreadable response');
    }
    if (res.statusCode === op.okStatus) return body as Res;
    const kind = res.statusCode >= 500 ? 'unavailable' : kindForStatus(res.statusCode);
    const retry = Number(res.headers['retry-after']);
    throw new AppError(
      kind,
      typeof body.detail === 'string' ? body.detail : 'the CA rejected the request',
      Array.isArray(body.violations) ? (body.violations as RuleViolation[]) : undefined,
      // When to ask again: a CA that is down, or a limit it counts (the OCSP signers per issuer and hour).
      kind === 'unavailable' ? (Number.isFinite(retry) ? retry : UNAVAILABLE_RETRY_SECONDS) : kind === 'rate-limited' && retry > 0 ? retry : undefined,
    );
  }

  sign(req: CaSignRequest) {
    return this.call(CA_API.sign, req);
  }

  signServer(req: CaServerSignRequest) {
    return this.call(CA_API.signServer, req);
  }

  revoke(req: CaRevokeRequest) {
    return this.call(CA_API.revoke, req);
  }

  removeStation(req: CaRemoveStationRequest) {
    return this.call(CA_API.removeStation, req);
  }

  ocspSigner(req: CaOcspSignerRequest, opts: { requestId?: string } = {}) {
    return this.call(CA_API.ocspSigner, req, opts);
  }

  /** The whole path, TLS handshake included: true when the CA answers and knows this client by `as`. */
  async ping(): Promise<boolean> {
    try {
      const { client } = await this.call(CA_API.ping, undefined, { headersTimeout: 2000 });
      if (client === this.o.as) return true;
      this.o.log?.warn({ client }, `the CA does not take this client certificate as ${this.o.as}`);
    } catch (err) {
      // An expired or replaced certificate shows here first (the RA's /readyz turns unready).
      this.o.log?.warn({ err: (err as Error).message, code: (err as { code?: string }).code }, 'CA ping failed');
    }
    return false;
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), ...this.retiring]);
  }
}
