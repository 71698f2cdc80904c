import { Pool } from 'undici';
import { AppError, RA_CLIENT_CN, kindForStatus, serviceClientTlsOptions, type Logger, type RuleViolation, type ServiceTls } from '@evpki/service';
import type { RevocationReason } from '@evpki/store';

export interface CaSignRequest {
  readonly tenant: string;
  readonly stationId: string;
  readonly csr: string;
  readonly certificateType: string;
  readonly idempotencyKey?: string;
  /** Who asked (the token's subject), for the CA's audit entry. */
  readonly actor: string;
}

export interface CaServerSignRequest {
  readonly tenant: string;
  readonly csr: string;
  readonly validityHours?: number;
  readonly idempotencyKey?: string;
  readonly actor: string;
}

export interface CaSignResponse {
  readonly certificateChain: string;
  readonly certificateType: string;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly sha256Fingerprint: string;
  readonly replayed: boolean;
}

export interface CaRevokeRequest {
  readonly tenant: string;
  readonly serialNumber: string;
  readonly reason: RevocationReason;
  readonly actor: string;
}

export interface CaRevokeResponse {
  readonly serialNumber: string;
  readonly status: 'revoked';
  readonly revokedAt: string;
  readonly revocationReason: RevocationReason;
  /** False when the certificate was already revoked (with this or a stronger reason). */
  readonly changed: boolean;
}

export interface CaRemoveStationResponse {
  readonly deleted: boolean;
  /** Serial numbers revoked (cessationOfOperation) with the station. */
  readonly revoked: readonly string[];
}

const MAX_RESPONSE = 64 * 1024;

/**
 * RA → CA over keep-alive HTTPS with the RA's client certificate (mutual TLS, issue 7); CA problems
 * are relayed as AppErrors.
 */
export function createCaClient(baseUrl: string, tls: ServiceTls, timeoutMs: number, log?: Logger) {
  const pool = new Pool(baseUrl, {
    connections: 64,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 30_000,
    connect: serviceClientTlsOptions(tls),
  });

  /** POSTs JSON to the CA; returns the body on `okStatus`, throws the CA's problem as an AppError otherwise. */
  async function post<T>(path: string, req: unknown, okStatus: number): Promise<T> {
    let res;
    try {
      res = await pool.request({
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(req),
      });
    } catch {
      throw new AppError('unavailable', 'the CA is unreachable; try again later', undefined, 5);
    }
    const text = await res.body.text();
    if (text.length > MAX_RESPONSE) throw new AppError('unavailable', 'the CA answered with an oversized response', undefined, 5);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new AppError('unavailable', 'the CA answered with an unreadable response', undefined, 5);
    }
    if (res.statusCode === okStatus) return body as unknown as T;
    const kind = res.statusCode >= 500 ? 'unavailable' : kindForStatus(res.statusCode);
    const retry = Number(res.headers['retry-after']);
    throw new AppError(
      kind,
      typeof body.detail === 'string' ? body.detail : 'the CA rejected the request',
      Array.isArray(body.violations) ? (body.violations as RuleViolation[]) : undefined,
      kind === 'unavailable' ? (Number.isFinite(retry) ? retry : 5) : undefined,
    );
  }

  return {
    sign: (req: CaSignRequest): Promise<CaSignResponse> => post('/v1/sign', req, 201),
    signServer: (req: CaServerSignRequest): Promise<CaSignResponse> => post('/v1/sign-server', req, 201),
    /** Revokes one certificate of the tenant; the CA commits it (OCSP, CRL) before answering. */
    revoke: (req: CaRevokeRequest): Promise<CaRevokeResponse> => post('/v1/revoke', req, 200),
    /** Deletes a station and revokes its good certificates (cessationOfOperation) in one write. */
    removeStation: (req: { tenant: string; stationId: string; actor: string }): Promise<CaRemoveStationResponse> => post('/v1/stations/remove', req, 200),
    /** The whole path, TLS handshake included: true when the CA answers and knows this client as the RA. */
    async ping(): Promise<boolean> {
      try {
        const res = await pool.request({ path: '/v1/ping', method: 'GET', headersTimeout: 2000 });
        const body = (await res.body.json()) as { client?: unknown };
        if (res.statusCode === 200 && body.client === RA_CLIENT_CN) return true;
        log?.warn({ status: res.statusCode, client: body.client }, `the CA does not take this RA's client certificate as ${RA_CLIENT_CN}`);
      } catch (err) {
        // An expired or replaced certificate shows here first (the RA's /readyz turns unready).
        log?.warn({ err: (err as Error).message, code: (err as { code?: string }).code }, 'CA ping failed');
      }
      return false;
    },
    close: (): Promise<void> => pool.close(),
  };
}
export type CaClient = ReturnType<typeof createCaClient>;
