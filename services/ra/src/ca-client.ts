import { Pool } from 'undici';
import { AppError, kindForStatus, type RuleViolation } from '@evpki/service';

export interface CaSignRequest {
  readonly tenant: string;
  readonly stationId: string;
  readonly csr: string;
  readonly certificateType: string;
  readonly idempotencyKey?: string;
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

const MAX_RESPONSE = 64 * 1024;

/** RA → CA over keep-alive HTTP with the service credential; CA problems are relayed as AppErrors. */
export function createCaClient(baseUrl: string, token: string, timeoutMs: number) {
  const pool = new Pool(baseUrl, { connections: 64, pipelining: 1, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 30_000 });
  return {
    async sign(req: CaSignRequest): Promise<CaSignResponse> {
      let res;
      try {
        res = await pool.request({
          path: '/v1/sign',
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
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
      if (res.statusCode === 201) return body as unknown as CaSignResponse;
      if (res.statusCode === 401) throw new AppError('unavailable', 'the CA refused the RA credential', undefined, 30);
      const kind = res.statusCode >= 500 ? 'unavailable' : kindForStatus(res.statusCode);
      const retry = Number(res.headers['retry-after']);
      throw new AppError(
        kind,
        typeof body.detail === 'string' ? body.detail : 'the CA rejected the request',
        Array.isArray(body.violations) ? (body.violations as RuleViolation[]) : undefined,
        kind === 'unavailable' ? (Number.isFinite(retry) ? retry : 5) : undefined,
      );
    },
    async ping(): Promise<boolean> {
      try {
        const res = await pool.request({ path: '/healthz', method: 'GET', headersTimeout: 2000 });
        await res.body.dump();
        return res.statusCode === 200;
      } catch {
        return false;
      }
    },
    close: (): Promise<void> => pool.close(),
  };
}
export type CaClient = ReturnType<typeof createCaClient>;
