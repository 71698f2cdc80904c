import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Request, Response } from 'express';
import { OPENAPI_PATH, compileRequestSchemas, loadOperations } from '@evpki/ra';
import { AppError } from '@evpki/service';

// The RA's request schemas (services/ra/src/request-schema.ts), compiled from the real openapi.yaml:
// what each part of a request may be, and the rule a refusal names. The HTTP side (the gate, the
// error body) is covered by ra-api, routing, limits, lists-api and fuzz-api.

const operations = loadOperations(OPENAPI_PATH);
const schemas = compileRequestSchemas(operations.spec, operations.all);
const op = (route: string) => operations.all.find((o) => o.route === route)!;
const SIGN = op('POST /v1/stations/{stationId}/certificates');
const LIST = op('GET /v1/certificates');

const CSR = '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n';

function request(parts: { body?: unknown; query?: Record<string, unknown>; headers?: Record<string, string> }): Request {
  return { body: parts.body, query: parts.query ?? {}, headers: { 'content-type': 'application/json', ...parts.headers } } as unknown as Request;
}

/** The rules of the refusal, or [] when the request passed. */
function rulesOf(route: typeof SIGN, req: Request, params: Record<string, string> = { stationId: 'CP-1' }): string[] {
  try {
    schemas.check(route, req, params);
    return [];
  } catch (e) {
    assert.ok(e instanceof AppError && e.kind === 'malformed', String(e));
    return (e.violations ?? []).map((v) => v.rule);
  }
}

describe('request schemas from openapi.yaml', () => {
  it('a well-formed charge point CSR request passes', () => {
    assert.deepEqual(rulesOf(SIGN, request({ body: { csr: CSR, certificateType: 'ChargingStationCertificate' } })), []);
  });

  it('body: missing, extra and oversized fields name their path; the CSR size is OCPP A02.FR.03', () => {
    assert.deepEqual(rulesOf(SIGN, request({ body: { certificateType: 'ChargingStationCertificate' } })), ['A02.FR.03']);
    assert.ok(rulesOf(SIGN, request({ body: { csr: CSR, certificateType: 'ChargingStationCertificate', extra: 1 } })).includes('openapi:/body/extra'));
    assert.deepEqual(rulesOf(SIGN, request({ body: { csr: 'x'.repeat(6000), certificateType: 'ChargingStationCertificate' } })), ['A02.FR.03']);
    assert.deepEqual(rulesOf(SIGN, request({ body: { csr: CSR, certificateType: 'Nonsense' } })), ['openapi:/body/certificateType']);
  });

  it('body: required, JSON only, an object', () => {
    assert.deepEqual(rulesOf(SIGN, request({})), ['openapi:/body']);
    assert.deepEqual(rulesOf(SIGN, request({ body: { csr: CSR, certificateType: 'ChargingStationCertificate' }, headers: { 'content-type': 'text/plain' } })), ['openapi:/body']);
    assert.deepEqual(rulesOf(SIGN, request({ body: [CSR] })), ['openapi:/body']);
  });

  it('path and header parameters: the station id pattern, the Idempotency-Key pattern (any header case)', () => {
    const body = { csr: CSR, certificateType: 'ChargingStationCertificate' };
    assert.deepEqual(rulesOf(SIGN, request({ body }), { stationId: 'x'.repeat(49) }), ['openapi:/params/stationId']);
    assert.deepEqual(rulesOf(SIGN, request({ body, headers: { 'idempotency-key': 'has space' } })), ['openapi:/headers/idempotency-key']);
    assert.deepEqual(rulesOf(SIGN, request({ body, headers: { 'idempotency-key': 'retry-1' } })), []);
  });

  it('query: typed values and defaults replace the strings; unknown and repeated parameters are refused', () => {
    const req = request({ query: { limit: '7', status: 'good' } });
    assert.deepEqual(rulesOf(LIST, req, {}), []);
    assert.equal(req.query.limit, 7);
    const defaulted = request({ query: {} });
    assert.deepEqual(rulesOf(LIST, defaulted, {}), []);
    assert.equal(defaulted.query.limit, 50);
    assert.deepEqual(rulesOf(LIST, request({ query: { limit: 'seven' } }), {}), ['openapi:/query/limit']);
    assert.deepEqual(rulesOf(LIST, request({ query: { limit: ['1', '2'] } }), {}), ['openapi:/query/limit']);
    assert.deepEqual(rulesOf(LIST, request({ query: { limt: '5' } }), {}), ['openapi:/query/limt']);
    assert.deepEqual(rulesOf(LIST, request({ query: { notAfterBefore: 'tomorrow' } }), {}), ['openapi:/query/notAfterBefore']);
    // An operation without query parameters takes none.
    assert.deepEqual(rulesOf(SIGN, request({ body: { csr: CSR, certificateType: 'ChargingStationCertificate' }, query: { debug: '1' } })), ['openapi:/query/debug']);
  });

  it('responses (RA_VALIDATE_RESPONSES): a body outside the contract, or an undeclared status, throws instead of answering', () => {
    const sent: unknown[] = [];
    const res = { statusCode: 201, json: (b: unknown) => (sent.push(b), res) } as unknown as Response;
    schemas.checkResponses(SIGN, res);
    assert.throws(() => res.json({ nothing: true }), /POST \/v1\/stations\/\{stationId\}\/certificates 201: the response does not match openapi.yaml/);
    res.statusCode = 299;
    assert.throws(() => res.json({}), /does not declare/);
    assert.equal(sent.length, 0);
  });
});
