import { AppError, OCSP_CLIENT_CN, RA_CLIENT_CN } from '@evpki/service';
import type { RevocationReason } from '@evpki/store';
import { jsonFields, type JsonFields } from './json-body.js';
import type { IssuedCertificate, RateLimits } from '@evpki/issuance';

/**
 * The CA's internal API (mutual TLS, issue 7), declared once for both sides: the CA's route table
 * (services/ca/src/routes.ts) serves these operations and CaClient (client.ts) calls them, so a
 * path, a method, who may call it, the success status and the request and answer types cannot
 * drift apart. The CA has no openapi.yaml: this module is its contract.
 */
export interface CaOperation<Req, Res> {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** The CN of the only service client that may call it (A00.FR.703, deny by default); undefined: any service client. */
  readonly caller: string | undefined;
  /** The status of a success; anything else is a problem+json the client relays as an AppError. */
  readonly okStatus: number;
  /** The request as the CA reads it from the parsed body: a JSON object, each field's type and size checked, the error naming the field. */
  decode(json: unknown): Req;
  /** Types only (never set): the answer's shape, for the route's handler and the client. */
  readonly answer?: Res;
  /** The longest answer the client reads (characters); default CA_ANSWER_CHARS. */
  readonly answerChars?: number;
}

export interface CaSignRequest {
  readonly tenant: string;
  readonly stationId: string;
  readonly csr: string;
  readonly certificateType: string;
  readonly idempotencyKey?: string;
  /** Who asked (the token's subject), for the CA's audit entry. */
  readonly actor: string;
  /**
   * First enrolment on a manufacturer certificate (issue 21): the chain the station presented (PEM,
   * leaf first) and the tenant's manufacturer the RA validated it against (revocation included);
   * the CA validates the path again on its own reads and may register the station.
   */
  readonly manufacturerName?: string;
  readonly manufacturerCertificateChain?: string;
  /** What the RA found of the chain's revocation (the CA makes no outbound requests): recorded in the audit entry. */
  readonly manufacturerRevocation?: ManufacturerRevocationStatus;
  /** The RA's limits (RA_RATE_*; the tenant's record overrides each): the CA counts the request in its issuance write. */
  readonly rateLimits?: RateLimits;
}

/** good: every configured CRL and responder answered; unknown: one could not be reached (fail-open); not-checked: none configured. */
export type ManufacturerRevocationStatus = 'good' | 'unknown' | 'not-checked';
const REVOCATION_STATUSES: readonly string[] = ['good', 'unknown', 'not-checked'];

/** The longest manufacturer chain PEM accepted (openapi.yaml ManufacturerCertificateChain). */
export const MANUFACTURER_CHAIN_CHARS = 12000;

export interface CaServerSignRequest {
  readonly tenant: string;
  readonly csr: string;
  readonly validityHours?: number;
  readonly idempotencyKey?: string;
  readonly actor: string;
  /** As CaSignRequest's (the tenant's window only). */
  readonly rateLimits?: RateLimits;
}

/** An issued certificate (charge point or CSMS server), or the one of an earlier identical request: what issue() answers. */
export type CaSignResponse = IssuedCertificate;

export interface CaRevokeRequest {
  readonly tenant: string;
  readonly serialNumber: string;
  /** A RevocationReason; the CA checks it (RFC5280-5.3.1) and names the rule when it is not one. */
  readonly reason: string;
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

export interface CaRemoveStationRequest {
  readonly tenant: string;
  readonly stationId: string;
  readonly actor: string;
}

export interface CaRemoveStationResponse {
  readonly deleted: boolean;
  /** Serial numbers revoked (cessationOfOperation) with the station. */
  readonly revoked: readonly string[];
}

export interface CaOcspSignerRequest {
  readonly issuerId: string;
  /** PKCS#10 of the responder's own new key (RFC 6960 4.2.2.2). */
  readonly csr: string;
}

export interface CaOcspSignerResponse {
  readonly certificate: string;
  readonly serialNumber: string;
  readonly notAfter: string;
}

export interface CaPingResponse {
  readonly status: 'ok';
  /** The CN of the caller's client certificate, as the CA verified it. */
  readonly client: string;
  /** The contract level this CA serves (CA_CONTRACT); absent from CAs older than level 2. */
  readonly contract?: number;
}

/**
 * The level of this contract, which the CA states in /v1/ping and every client requires at least:
 * 2 = the CA counts the caller's rate limits (`rateLimits`) in the issuance write. An RA in front
 * of an older CA would issue without limits (it only reads the counts); it is not ready instead, so
 * that a rolling upgrade in the wrong order (RAs before CAs) stalls rather than runs unlimited.
 * Raise it when the RA starts relying on something new of the CA.
 */
export const CA_CONTRACT = 2;

/** Field limits: a CSR PEM fits OCPP's 5500 characters (A02.FR.03). */
const CSR_CHARS = 5500;

const operation = <Req, Res>(op: CaOperation<Req, Res>): CaOperation<Req, Res> => op;

/** A problem+json body as the CA sends it (RFC 9457), alone or as one answer of a batch. */
export interface CaProblem {
  readonly status: number;
  readonly detail?: string;
  readonly violations?: readonly { readonly rule: string; readonly message: string }[];
}

/** Many requests of one operation in one call: each with the id of the request it serves. */
export interface CaBatchRequest {
  readonly requests: readonly { readonly requestId?: string; readonly request: unknown }[];
}

/** One answer per request, in order: the operation's answer at its success status, or its problem (and Retry-After). */
export type CaBatchResult<Res> = { readonly status: number; readonly answer: Res } | { readonly status: number; readonly problem: CaProblem; readonly retryAfter?: number };

export interface CaBatchResponse<Res> {
  readonly results: readonly CaBatchResult<Res>[];
}

/** A batch of `each`: the CA runs every request as if it had come alone (its caller, checks, answer, metrics and log). */
export interface CaBatchOperation<Req, Res> extends CaOperation<CaBatchRequest, CaBatchResponse<Res>> {
  readonly each: CaOperation<Req, Res>;
  /** Requests per batch at most (the client sends no more; the CA refuses more). */
  readonly max: number;
}

/** Requests in one batch at most: bounds the body the CA reads (max × its one-request limit) and the answer. */
export const CA_BATCH_MAX = 16;

/** The longest answer the client reads of an operation that declares none. */
export const CA_ANSWER_CHARS = 64 * 1024;

const batchOf = <Req, Res>(each: CaOperation<Req, Res>, path: string): CaBatchOperation<Req, Res> => ({
  method: 'POST',
  path,
  caller: each.caller,
  okStatus: 200,
  each,
  max: CA_BATCH_MAX,
  answerChars: (each.answerChars ?? CA_ANSWER_CHARS) * CA_BATCH_MAX,
  decode(json) {
    const requests = (json as { requests?: unknown } | null)?.requests;
    if (typeof json !== 'object' || json === null || !Array.isArray(requests) || requests.length === 0 || requests.length > CA_BATCH_MAX)
      throw new AppError('malformed', `requests must be an array of 1 to ${CA_BATCH_MAX} requests`);
    return {
      requests: requests.map((item: unknown, i) => {
        const requestId = jsonFields(item).optStr('requestId', 128);
        const request = (item as { request?: unknown }).request;
        if (request === undefined) throw new AppError('malformed', `requests[${i}].request is required`);
        return { ...(requestId ? { requestId } : {}), request };
      }),
    };
  },
});

/** A station's certificate (OCPP SignCertificate); with a manufacturer chain, its first enrolment (zero-touch onboarding). */
const SIGN = operation<CaSignRequest, CaSignResponse>({
  method: 'POST',
  path: '/v1/sign',
  caller: RA_CLIENT_CN,
  okStatus: 201,
  decode(json) {
    const j = jsonFields(json);
    const idempotencyKey = j.optStr('idempotencyKey', 128);
    return {
      actor: j.str('actor', 128),
      tenant: j.str('tenant', 64),
      stationId: j.str('stationId', 48),
      csr: j.str('csr', CSR_CHARS),
      certificateType: j.str('certificateType', 64),
      ...(idempotencyKey ? { idempotencyKey } : {}),
      ...manufacturerOf(j),
      ...rateLimitsOf(j),
    };
  },
});

/** The operations, by name. Field reads are in the order the CA has always checked them (the first bad one is named). */
export const CA_API = {
  /** Any service client, no side effect: the RA's readiness check of the whole path, TLS included. */
  ping: operation<undefined, CaPingResponse>({
    method: 'GET',
    path: '/v1/ping',
    caller: undefined,
    okStatus: 200,
    decode: () => undefined,
  }),

  sign: SIGN,

  /**
   * Many station certificates in one call: CaClient.sign gathers the requests of one turn of the
   * RA's event loop, so that a busy RA pays the TLS record, HTTP parse and answer once per batch
   * rather than once per certificate. Each runs exactly as a call of `sign` would.
   */
  signBatch: batchOf(SIGN, '/v1/sign/batch'),

  /** CSMS server certificates (A00.FR.701). */
  signServer: operation<CaServerSignRequest, CaSignResponse>({
    method: 'POST',
    path: '/v1/sign-server',
    caller: RA_CLIENT_CN,
    okStatus: 201,
    decode(json) {
      const j = jsonFields(json);
      const tenant = j.str('tenant', 64);
      const idempotencyKey = j.optStr('idempotencyKey', 128);
      const validityHours = j.optNum('validityHours');
      const actor = j.str('actor', 128);
      const csr = j.str('csr', CSR_CHARS);
      return { tenant, actor, csr, ...(validityHours === undefined ? {} : { validityHours }), ...(idempotencyKey ? { idempotencyKey } : {}), ...rateLimitsOf(j) };
    },
  }),

  /** Revokes one certificate of the tenant; the CA commits it (OCSP, CRL) before answering. */
  revoke: operation<CaRevokeRequest, CaRevokeResponse>({
    method: 'POST',
    path: '/v1/revoke',
    caller: RA_CLIENT_CN,
    okStatus: 200,
    decode(json) {
      const j = jsonFields(json);
      return { tenant: j.str('tenant', 64), serialNumber: j.str('serialNumber', 40), reason: j.str('reason', 32), actor: j.str('actor', 128) };
    },
  }),

  /** Deletes a station and revokes its good certificates (cessationOfOperation) in one write (A00.FR.702/704). */
  removeStation: operation<CaRemoveStationRequest, CaRemoveStationResponse>({
    method: 'POST',
    path: '/v1/stations/remove',
    caller: RA_CLIENT_CN,
    okStatus: 200,
    // The serials it revoked: up to STATION_REMOVAL_LIMIT (10,000) of at most 40 hex digits each.
    answerChars: 1024 * 1024,
    decode(json) {
      const j = jsonFields(json);
      return { tenant: j.str('tenant', 64), stationId: j.str('stationId', 48), actor: j.str('actor', 128) };
    },
  }),

  /** A delegated OCSP signer certificate for the responder's own key: the only thing the responder may ask for. */
  ocspSigner: operation<CaOcspSignerRequest, CaOcspSignerResponse>({
    method: 'POST',
    path: '/v1/ocsp-signers',
    caller: OCSP_CLIENT_CN,
    okStatus: 201,
    decode(json) {
      const j = jsonFields(json);
      return { issuerId: j.str('issuerId', 64), csr: j.str('csr', CSR_CHARS) };
    },
  }),
} as const;

export type CaApi = typeof CA_API;
export type CaOperationName = keyof CaApi;
/** The request and answer types of an operation. */
export type RequestOf<O> = O extends CaOperation<infer Req, unknown> ? Req : never;
export type AnswerOf<O> = O extends CaOperation<unknown, infer Res> ? Res : never;

/** The RA's rate limits: whole numbers of requests, 0 for off. */
function rateLimitsOf(j: JsonFields): { rateLimits?: RateLimits } {
  const r = j.optFields('rateLimits');
  if (!r) return {};
  const count = (key: keyof RateLimits): number => {
    const n = r.optNum(key);
    if (n === undefined || !Number.isSafeInteger(n) || n < 0) throw new AppError('malformed', `rateLimits.${key} must be a whole number, 0 or more`);
    return n;
  };
  return { rateLimits: { stationCsrsPerDay: count('stationCsrsPerDay'), tenantCsrsPerMinute: count('tenantCsrsPerMinute') } };
}

/** The manufacturer fields of a sign request: both or neither. */
function manufacturerOf(j: JsonFields): Pick<CaSignRequest, 'manufacturerName' | 'manufacturerCertificateChain' | 'manufacturerRevocation'> {
  const manufacturerName = j.optStr('manufacturerName', 64);
  const manufacturerCertificateChain = j.optStr('manufacturerCertificateChain', MANUFACTURER_CHAIN_CHARS);
  const revocation = j.optStr('manufacturerRevocation', 16);
  if ((manufacturerName === undefined) !== (manufacturerCertificateChain === undefined)) throw new AppError('malformed', 'manufacturerName and manufacturerCertificateChain come together');
  if (revocation !== undefined && (!REVOCATION_STATUSES.includes(revocation) || manufacturerName === undefined)) throw new AppError('malformed', 'manufacturerRevocation is good, unknown or not-checked, with a manufacturer chain');
  if (!manufacturerName || !manufacturerCertificateChain) return {};
  return { manufacturerName, manufacturerCertificateChain, ...(revocation ? { manufacturerRevocation: revocation as ManufacturerRevocationStatus } : {}) };
}
