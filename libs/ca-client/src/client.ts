import { createRequire } from 'node:module';
import type { Pool } from 'undici';
import type * as Undici from 'undici';
import { AppError, REQUEST_ID_HEADER, kindForStatus, serviceClientTlsOptions, type Logger, type RuleViolation, type ServiceTls } from '@evpki/service';
import { CA_ANSWER_CHARS, CA_API, CA_CONTRACT, type CaOperation, type CaProblem, type CaRemoveStationRequest, type CaRevokeRequest, type CaServerSignRequest, type CaSignRequest, type CaSignResponse, type CaOcspSignerRequest } from './contract.js';

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

/** Retry-After of a CA that is down or gave no answer: it restarts within seconds. */
const UNAVAILABLE_RETRY_SECONDS = 5;

const unavailable = (why: string): AppError => new AppError('unavailable', why, undefined, UNAVAILABLE_RETRY_SECONDS);

/** The CA's problem as the AppError the caller relays: same kind, detail, rules and Retry-After. */
function problemError(status: number, body: Partial<CaProblem>, retryAfter: number): AppError {
  const kind = status >= 500 ? 'unavailable' : kindForStatus(status);
  return new AppError(
    kind,
    typeof body.detail === 'string' ? body.detail : 'the CA rejected the request',
    Array.isArray(body.violations) ? (body.violations as RuleViolation[]) : undefined,
    // When to ask again: a CA that is down, or a limit it counts (the OCSP signers per issuer and hour).
    kind === 'unavailable' ? (Number.isFinite(retryAfter) ? retryAfter : UNAVAILABLE_RETRY_SECONDS) : kind === 'rate-limited' && retryAfter > 0 ? retryAfter : undefined,
  );
}

interface Waiting {
  readonly item: { readonly requestId?: string; readonly request: CaSignRequest };
  resolve(answer: CaSignResponse): void;
  reject(err: unknown): void;
}

let undiciLib: typeof Undici | undefined;

/**
 * A service's calls to the CA (contract.ts) over keep-alive HTTPS with its client certificate. The
 * CA's problems come back as AppErrors of the same kind, rules and Retry-After, so that the caller
 * relays them; a CA that cannot be reached or answers nonsense is `unavailable`.
 */
export class CaClient {
  private pool: Pool;
  /** Pools replaced by setTls, closing once their requests are answered. */
  private readonly retiring = new Set<Promise<void>>();
  /** Sign requests waiting for the next batch (sign). */
  private waiting: Waiting[] = [];

  constructor(private readonly o: CaClientOptions) {
    this.pool = this.poolWith(o.tls);
  }

  private poolWith(tls: ServiceTls): Pool {
    // undici on first use (CommonJS: the same instance as an import): the pki CLI imports this library
    // for its types and constants and never opens a pool (its startup time).
    undiciLib ??= createRequire(import.meta.url)('undici') as typeof Undici;
    return new undiciLib.Pool(this.o.baseUrl, {
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

  /**
   * Calls one operation; its answer on the operation's success status, its problem as an AppError
   * otherwise. `requestId`: the request this call serves, which the CA's log lines then carry too.
   */
  async call<Req, Res>(op: CaOperation<Req, Res>, req: Req, opts: { headersTimeout?: number; requestId?: string } = {}): Promise<Res> {
    let res;
    const { requestId } = opts;
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
    if (text.length > (op.answerChars ?? CA_ANSWER_CHARS)) throw unavailable('the CA answered with an oversized response');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw unavailable('the CA answered with an unreadable response');
    }
    if (res.statusCode === op.okStatus) return body as Res;
    throw problemError(res.statusCode, body, Number(res.headers['retry-after']));
  }

  /**
   * A station certificate. The requests of one turn of the event loop go to the CA together
   * (CA_API.signBatch, at most its max at once): under load the RA pays one TLS record, HTTP
   * exchange and JSON answer per batch, not per certificate. Each request keeps its own answer or
   * problem, and its request id in the CA's log; a batch the CA does not answer fails each of them
   * as unavailable, as one call would (signing is idempotent: a retry is safe).
   */
  sign(req: CaSignRequest, requestId?: string): Promise<CaSignResponse> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item: { ...(requestId ? { requestId } : {}), request: req }, resolve, reject });
      if (this.waiting.length === 1) setImmediate(() => this.sendBatch());
      else if (this.waiting.length >= CA_API.signBatch.max) this.sendBatch();
    });
  }

  private sendBatch(): void {
    const batch = this.waiting;
    if (!batch.length) return;
    this.waiting = [];
    this.call(CA_API.signBatch, { requests: batch.map((w) => w.item) }).then(
      (answer) => {
        const results: unknown = answer.results;
        if (!Array.isArray(results) || results.length !== batch.length) {
          const e = unavailable('the CA answered a batch with the wrong number of results');
          for (const w of batch) w.reject(e);
          return;
        }
        batch.forEach((w, i) => settle(w, results[i] as unknown));
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }

  signServer(req: CaServerSignRequest, requestId?: string) {
    return this.call(CA_API.signServer, req, { requestId });
  }

  revoke(req: CaRevokeRequest, requestId?: string) {
    return this.call(CA_API.revoke, req, { requestId });
  }

  removeStation(req: CaRemoveStationRequest, requestId?: string) {
    return this.call(CA_API.removeStation, req, { requestId });
  }

  ocspSigner(req: CaOcspSignerRequest, requestId?: string) {
    return this.call(CA_API.ocspSigner, req, { requestId });
  }

  /**
   * The whole path, TLS handshake included: true when the CA answers, knows this client by `as`,
   * and serves at least this build's contract level (CA_CONTRACT).
   */
  async ping(): Promise<boolean> {
    try {
      const { client, contract } = await this.call(CA_API.ping, undefined, { headersTimeout: 2000 });
      if (client !== this.o.as) this.o.log?.warn({ client }, `the CA does not take this client certificate as ${this.o.as}`);
      else if (!(typeof contract === 'number' && contract >= CA_CONTRACT))
        this.o.log?.error(
          { contract: contract ?? 1, required: CA_CONTRACT },
          'the CA is older than this service (its contract level is below the one required: it would not count the rate limits); upgrade the CAs first',
        );
      else return true;
    } catch (err) {
      // An expired or replaced certificate shows here first (the RA's /readyz turns unready).
      this.o.log?.warn({ err: (err as Error).message, code: (err as { code?: string }).code }, 'CA ping failed');
    }
    return false;
  }

  async close(): Promise<void> {
    // Requests already taken go out before the connections close.
    this.sendBatch();
    await Promise.all([this.pool.close(), ...this.retiring]);
  }
}

/** One answer of a batch to the request that waits for it. */
function settle(w: Waiting, result: unknown): void {
  const r = (typeof result === 'object' && result !== null ? result : {}) as Partial<{ status: unknown; answer: CaSignResponse; problem: CaProblem | null; retryAfter: number }>;
  if (r.status === CA_API.sign.okStatus && typeof r.answer === 'object' && r.answer !== null) w.resolve(r.answer);
  else if (typeof r.status === 'number' && r.status >= 400 && typeof r.problem === 'object' && r.problem !== null) w.reject(problemError(r.status, r.problem, r.retryAfter ?? Number.NaN));
  else w.reject(unavailable('the CA answered a batch request with neither an answer nor a problem'));
}
