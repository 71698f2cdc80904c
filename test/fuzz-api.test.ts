import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { parse } from 'yaml';
import { CA_API } from '@evpki/ca-client';
import { OPENAPI_PATH } from '@evpki/ra';
import { readServiceTls, serviceClientTlsOptions } from '@evpki/service';
import { CSR_PEM_LABELS, certificateHashData, fromPem, parseCertificate, pemBlocks } from '@evpki/x509';
import { TEST_DIR } from './helpers/fixtures.js';
import { ARMOURS, FUZZ_RUNS, FUZZ_TIMEOUT_MS, armour, fuzzParams, mutatedArb } from './helpers/fuzz.js';
import { newP256Csr } from './helpers/csr.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';

/**
 * Issue 7 "Hostile input", HTTP APIs: every operation of openapi.yaml (enumerated from the file at
 * run time, so operations added later are covered too) gets random and mutated JSON bodies, path
 * parameters, query strings and headers, with a valid bearer token (every scope). The RA must
 * never answer 5xx, and every 4xx is an application/problem+json document with a title and a
 * detail. The CA's internal JSON routes get the same treatment when this stack lets a test reach
 * them.
 */

// ---- openapi.yaml ------------------------------------------------------------------------------

type Schema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  default?: unknown;
};
interface Parameter {
  $ref?: string;
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Schema;
}
interface OperationSpec {
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: { $ref?: string; content?: Record<string, { schema?: Schema; example?: unknown }> };
}
interface Spec {
  paths: Record<string, Record<string, unknown> & { parameters?: Parameter[] }>;
  components: Record<string, Record<string, unknown>>;
}

const spec = parse(readFileSync(OPENAPI_PATH, 'utf8')) as Spec;

function deref<T>(x: T & { $ref?: string }): T {
  let cur: unknown = x;
  for (let i = 0; i < 16 && cur && typeof cur === 'object' && '$ref' in cur; i++) {
    const path = String((cur as { $ref: string }).$ref).replace(/^#\//, '').split('/');
    cur = path.reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], spec);
  }
  return cur as T;
}

interface ApiOperation {
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly pathParams: readonly Parameter[];
  readonly queryParams: readonly Parameter[];
  readonly headerParams: readonly Parameter[];
  readonly body?: { readonly schema: Schema; readonly example?: unknown };
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** Every operation of openapi.yaml, read now: an operation added later is fuzzed without a test change. */
function apiOperations(): ApiOperation[] {
  const out: ApiOperation[] = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of METHODS) {
      const op = item[method] as OperationSpec | undefined;
      if (!op) continue;
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => deref<Parameter>(p));
      const body = op.requestBody ? deref(op.requestBody).content?.['application/json'] : undefined;
      out.push({
        id: op.operationId ?? `${method} ${path}`,
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path'),
        queryParams: params.filter((p) => p.in === 'query'),
        headerParams: params.filter((p) => p.in === 'header'),
        ...(body?.schema ? { body: { schema: body.schema, ...(body.example === undefined ? {} : { example: body.example }) } } : {}),
      });
    }
  }
  return out;
}

/** Values that satisfy a schema (so that requests get past validation into the routes). */
function validArb(s0: Schema, depth = 0): fc.Arbitrary<unknown> {
  const s = deref(s0);
  if (s.enum) return fc.constantFrom(...s.enum);
  if (s.oneOf ?? s.anyOf) return fc.oneof(...(s.oneOf ?? s.anyOf)!.map((x) => validArb(x, depth + 1)));
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'string': {
      const max = Math.min(s.maxLength ?? 64, 200);
      const min = s.minLength ?? 0;
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern)).filter((v) => v.length >= min && v.length <= (s.maxLength ?? Infinity));
      return fc.string({ minLength: min, maxLength: Math.max(min, max) });
    }
    case 'integer':
      return fc.integer({ min: Math.max(s.minimum ?? -1000, -1e9), max: Math.min(s.maximum ?? 1000, 1e9) });
    case 'number': {
      const min = s.exclusiveMinimum ?? s.minimum ?? -1000;
      const max = s.exclusiveMaximum ?? s.maximum ?? 1000;
      return fc.double({ min, max, noNaN: true, noDefaultInfinity: true, minExcluded: s.exclusiveMinimum !== undefined, maxExcluded: s.exclusiveMaximum !== undefined });
    }
    case 'boolean':
      return fc.boolean();
    case 'array':
      return depth > 4 ? fc.constant([]) : fc.array(validArb(s.items ?? {}, depth + 1), { maxLength: 3 });
    case 'object': {
      const props = Object.entries(s.properties ?? {});
      const required = new Set(s.required ?? []);
      const rec: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of props) rec[k] = validArb(v, depth + 1);
      return fc.record(rec, { requiredKeys: props.map(([k]) => k).filter((k) => required.has(k)) });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

// ---- hostile values ----------------------------------------------------------------------------

const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' ', 'a'.repeat(300), '\u0000', '\ud83d\ude00', '$ref'];

/** Values of every wrong kind: types, sizes, numbers out of range, unicode, deep nesting. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, false, 0, -0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 2, -(2 ** 63), 24, 23.999999999, 1e-320, '', ' ', '0', 'null', 'true', '[]', '{}'),
  fc.string({ maxLength: 40, unit: 'grapheme' }),
  fc.string({ maxLength: 40, unit: 'binary' }),
  fc.constantFrom('\u0000', '\ud800', '\u202e', '\ufeff', 'e\u0301', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '../../etc/passwd', '%2e%2e%2f', '<script>', "' OR 1=1 --", '${jndi:ldap://x}', 'http://127.0.0.1:1/'),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 1, max: 2000 }).map((n) => nest(n, 'array')),
  fc.integer({ min: 1, max: 2000 }).map((n) => nest(n, 'object')),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 2000 }),
);

function nest(depth: number, kind: 'array' | 'object'): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  return v;
}

/** An own, enumerable property even for "__proto__" (JSON.stringify writes it; JSON.parse reads it back as own). */
function withKey(o: Record<string, unknown>, k: string, v: unknown): Record<string, unknown> {
  const c = { ...o };
  Object.defineProperty(c, k, { value: v, enumerable: true, configurable: true, writable: true });
  return c;
}

type BodyEdit =
  | { kind: 'replace'; which: number; value: unknown }
  | { kind: 'delete'; which: number }
  | { kind: 'add'; key: string; value: unknown }
  | { kind: 'whole'; value: unknown }
  | { kind: 'csr'; der: Buffer; how: (typeof ARMOURS)[number] };

/** A body as sent: a JSON value, or raw text that may not be JSON at all. */
type Body = { json: unknown } | { raw: string };

const RAW_BODIES = [
  '',
  '{',
  '{"a":',
  '[1,2',
  'null',
  '"a string"',
  '12',
  'NaN',
  '{"a":1,}',
  '{a:1}',
  "{'a':1}",
  '{"a":1} trailing',
  '\ufeff{}',
  '{"a":1,"a":2}',
  '/* comment */ {}',
  '\u0000',
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '['.repeat(5000) + ']'.repeat(5000),
  '{"a":'.repeat(3000) + '1' + '}'.repeat(3000),
  '"' + '\\u0000'.repeat(2000) + '"',
  '{"x":"' + 'y'.repeat(17 * 1024) + '"}',
  '{"x":1e999999}',
  '{"x":-0.0000000000000000000000000000000000001e-999}',
];

function bodyArb(op: ApiOperation, csrSeeds: readonly Buffer[]): fc.Arbitrary<Body | undefined> {
  const base: fc.Arbitrary<unknown> = op.body ? fc.oneof(validArb(op.body.schema), ...(op.body.example === undefined ? [] : [fc.constant(op.body.example)])) : fc.constant({});
  const edit: fc.Arbitrary<BodyEdit> = fc.oneof(
    fc.record({ kind: fc.constant('replace' as const), which: fc.nat(), value: hostileValue }),
    fc.record({ kind: fc.constant('delete' as const), which: fc.nat() }),
    fc.record({ kind: fc.constant('add' as const), key: fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ maxLength: 12 })), value: hostileValue }),
    fc.record({ kind: fc.constant('whole' as const), value: hostileValue }),
    fc.record({ kind: fc.constant('csr' as const), der: mutatedArb(csrSeeds, 3), how: fc.constantFrom(...ARMOURS) }),
  );
  const mutated = fc.tuple(base, fc.array(edit, { maxLength: 3 })).map(([b, edits]) => ({ json: edits.reduce(applyEdit, b) }));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: base.map((json) => ({ json })) },
    { weight: 6, arbitrary: mutated },
    { weight: 1, arbitrary: fc.constantFrom(...RAW_BODIES).map((raw) => ({ raw })) },
  );
}

function applyEdit(body: unknown, e: BodyEdit): unknown {
  if (e.kind === 'whole') return e.value;
  const obj = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const keys = Object.keys(obj);
  switch (e.kind) {
    case 'replace':
      return keys.length ? withKey(obj, keys[e.which % keys.length]!, e.value) : obj;
    case 'delete': {
      if (!keys.length) return obj;
      const { [keys[e.which % keys.length]!]: _gone, ...rest } = obj;
      return rest;
    }
    case 'add':
      return withKey(obj, e.key, e.value);
    case 'csr':
      return withKey(obj, 'csr', armour(e.der, e.how));
  }
}

// ---- path, query and headers -------------------------------------------------------------------

/** encodeURIComponent that does not throw on lone surrogates (they become U+FFFD, as on the wire). */
const pct = (s: string): string => encodeURIComponent(Buffer.from(s, 'utf8').toString('utf8'));

const RAW_SEGMENTS = ['..', '.', '%2e%2e', '%2E', 'a%2Fb', '%2F', '%5C', 'a%00b', '%', '%zz', '%C0%AF', '%ff', ';', 'a;b=c', '~', '%20', 'CP1%3F', 'x'.repeat(5000), '%F0%9F%98%80', 'CP1%23frag'];

function pathValueArb(p: Parameter): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: validArb(p.schema ?? { type: 'string' }).map((v) => pct(String(v))) },
    { weight: 2, arbitrary: fc.string({ maxLength: 60, unit: 'grapheme' }).map(pct) },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_SEGMENTS) },
    { weight: 1, arbitrary: hostileValue.map((v) => pct(typeof v === 'string' ? v : JSON.stringify(v) ?? '')) },
  );
}

const queryArb: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('after', 'limit', 'cursor', '__proto__', 'constructor[prototype][x]', 'a[]', 'a[b][c]', ''), fc.string({ maxLength: 10 })),
      fc.oneof(fc.constantFrom('', '0', '-1', '1e3', '1001', '9007199254740993', 'NaN', 'x', '%', '[]'), fc.string({ maxLength: 20 })),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => pairs.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&'));

/** Printable header values (what an HTTP client can send at all). */
const headerValue = fc.string({ maxLength: 200, unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }).map((s) => s.trim());

const headersArb: fc.Arbitrary<Record<string, string>> = fc.record(
  {
    'content-type': fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/json; charset=utf-16',
      'application/json; charset=latin1',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/merge-patch+json',
      'application/problem+json',
      'application/xml',
      '*/*',
      ';;',
      'application/json; charset=',
    ),
    'idempotency-key': fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/), headerValue, fc.constant('x'.repeat(129))),
    accept: fc.constantFrom('application/json', 'text/html', '*/*', 'application/problem+json', 'image/png;q=0'),
    'content-encoding': fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'bogus', 'gzip, gzip'),
    'x-forwarded-for': fc.constantFrom('127.0.0.1', '::1', 'unknown', '1.2.3.4, 5.6.7.8'),
    'x-fuzz': headerValue,
  },
  { requiredKeys: [] },
);

/** Authorization: mostly a valid token; sometimes none, or a broken one (401 problems). */
function authArb(token: string): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.constant(`Bearer ${token}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('Bearer', 'Bearer ', `bearer ${token}`, `Bearer ${token}x`, `Basic ${Buffer.from('a:b').toString('base64')}`, `Bearer ${token.split('.').slice(0, 2).join('.')}.`, 'Bearer a.b.c', `Bearer ${'x'.repeat(8000)}`),
    },
  );
}

// ---- sending and checking ----------------------------------------------------------------------

interface Sent {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

const agent = new Agent({ connections: 4, keepAliveTimeout: 10_000, headersTimeout: 30_000, bodyTimeout: 30_000 });

async function send(base: string, method: string, path: string, headers: Record<string, string>, body: Body | undefined): Promise<Sent | undefined> {
  let payload: string | undefined;
  if (body) payload = 'raw' in body ? body.raw : JSON.stringify(body.json) ?? 'null';
  try {
    const res = await request(base + path, { method: method as 'GET', headers, body: method === 'GET' || method === 'DELETE' ? (payload === undefined ? null : payload) : (payload ?? null), dispatcher: agent });
    const text = await res.body.text();
    return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), text };
  } catch (e) {
    // Only requests the client itself refuses to send are skipped; a connection the server drops is a failure.
    if ((e as { code?: string }).code === 'UND_ERR_INVALID_ARG') return undefined;
    throw e;
  }
}

const short = (path: string): string => (path.length > 160 ? `${path.slice(0, 160)}… (${path.length} characters)` : path);

/** The OAuth2 token endpoint answers RFC 6749 5.2 errors (openapi.yaml OAuthError), not problem documents. */
const isTokenEndpoint = (method: string, path: string): boolean => method === 'POST' && path.split('?')[0] === '/oauth/token';

function checkAnswer(r: Sent, what: string, oauth = false): void {
  assert.ok(r.status < 500, `${what} → HTTP ${r.status} ${r.text.slice(0, 500)}`);
  if (r.status >= 400 && oauth) {
    assert.match(r.contentType, /^application\/json/, `${what} → ${r.status} with content-type ${r.contentType}`);
    const e = JSON.parse(r.text) as { error?: unknown; error_description?: unknown };
    assert.ok(['invalid_request', 'invalid_client', 'unsupported_grant_type', 'invalid_scope'].includes(e.error as string), `${what}: OAuth error ${r.text.slice(0, 300)}`);
    assert.equal(typeof e.error_description, 'string');
  } else if (r.status >= 400) {
    assert.match(r.contentType, /^application\/problem\+json/, `${what} → ${r.status} with content-type ${r.contentType}`);
    const p = JSON.parse(r.text) as { title?: unknown; detail?: unknown; status?: unknown; violations?: { rule?: unknown }[] };
    assert.equal(typeof p.title, 'string', `${what}: problem title`);
    assert.ok((p.title as string).length > 0);
    assert.equal(typeof p.detail, 'string', `${what}: problem detail ${r.text.slice(0, 300)}`);
    assert.equal(p.status, r.status);
    for (const v of p.violations ?? []) assert.equal(typeof v.rule, 'string', `${what}: violation without a rule`);
  }
}

function objectPrototypeIntact(): void {
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTOTYPE_KEYS, 'Object.prototype was polluted');
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype was polluted');
}
const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

// ---- the tests ---------------------------------------------------------------------------------

const CSR_SEEDS: Buffer[] = readdirSync(`${TEST_DIR}fixtures/csr`)
  .filter((f) => f.endsWith('.csr.pem'))
  .sort()
  .map((f) => fromPem(readFileSync(`${TEST_DIR}fixtures/csr/${f}`, 'utf8'), CSR_PEM_LABELS).der);

const OPERATIONS = apiOperations();

describe('every openapi.yaml operation under hostile requests: never 5xx, every 4xx a problem+json with title and detail', { timeout: FUZZ_TIMEOUT_MS * 2 }, () => {
  let pki: DevPki;
  let stack: Stack;
  let token: string;
  /** Real values the routes know (a registered station, an issued serial, a valid OcspRequestData), so fuzzing also reaches the handlers. */
  let known: { stationId: string; serialNumber: string; statusRequest: Record<string, string> };

  before(async () => {
    pki = await makeDevPki();
    stack = await startStack(pki);
    token = await stack.token();
    await registerStation(stack, 'cp-fuzz', 'CP-0001');
    const r = await api(stack, 'POST', '/v1/stations/cp-fuzz/certificates', { csr: newP256Csr('CP-0001').csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const [leaf, sub] = pemBlocks(r.body.certificateChain, 'CERTIFICATE') as [Buffer, Buffer];
    known = {
      stationId: 'cp-fuzz',
      serialNumber: r.body.serialNumber,
      statusRequest: { ...certificateHashData(parseCertificate(leaf), parseCertificate(sub)), responderURL: 'http://127.0.0.1:8082/ocsp' },
    };
  });
  after(async () => {
    await stack?.stop();
    pki?.cleanup();
  });

  it('openapi.yaml lists the operations (enumerated at run time)', () => {
    const ids = OPERATIONS.map((o) => o.id);
    for (const id of ['putStation', 'signStationCertificate', 'signServerCertificate', 'revokeCertificate', 'getCertificateStatus', 'listTrustAnchors']) assert.ok(ids.includes(id), id);
  });

  for (const op of OPERATIONS) {
    it(`${op.method} ${op.path} (${op.id})`, async () => {
      const knownPath: Record<string, string> = { stationId: known.stationId, serialNumber: known.serialNumber };
      const paramArb = fc.record(
        Object.fromEntries(op.pathParams.map((p) => [p.name, fc.oneof({ weight: 1, arbitrary: fc.constant(encodeURIComponent(knownPath[p.name] ?? 'x')) }, { weight: 3, arbitrary: pathValueArb(p) })])),
      ) as fc.Arbitrary<Record<string, string>>;
      const seededBody = op.id === 'getCertificateStatus' ? fc.constant({ json: known.statusRequest }) : fc.constant(undefined);
      await fc.assert(
        fc.asyncProperty(
          paramArb,
          fc.option(queryArb, { freq: 3 }),
          headersArb,
          authArb(token),
          fc.oneof({ weight: 8, arbitrary: bodyArb(op, CSR_SEEDS) }, { weight: 1, arbitrary: seededBody }),
          async (params, query, headers, auth, body) => {
            const path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => params[name] ?? 'x') + (query ? `?${query}` : '');
            const h: Record<string, string> = { ...headers, ...(auth ? { authorization: auth } : {}) };
            if (!body) delete h['content-encoding'];
            const r = await send(stack.raUrl, op.method, path, h, body);
            if (r) checkAnswer(r, `${op.method} ${short(path)}`, isTokenEndpoint(op.method, path));
          },
        ),
        fuzzParams(0.5),
      );
      objectPrototypeIntact();
    });
  }

  it('methods and paths openapi.yaml does not have: 4xx problems, never 5xx', async () => {
    const methodArb = fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS');
    const pathArb = fc.oneof(
      fc.constantFrom(...OPERATIONS.map((o) => o.path)).map((p) => p.replace(/\{\w+\}/g, 'x')),
      fc.array(fc.constantFrom('v1', 'stations', 'x', '..', '%2e%2e', '%2F', 'certificates', 'audit', '', '%00'), { maxLength: 6 }).map((s) => '/' + s.join('/')),
    );
    await fc.assert(
      fc.asyncProperty(methodArb, pathArb, headersArb, async (method, path, headers) => {
        const r = await send(stack.raUrl, method, path, { ...headers, authorization: `Bearer ${token}` }, method === 'GET' || method === 'OPTIONS' ? undefined : { json: {} });
        if (r) checkAnswer(r, `${method} ${short(path)}`, isTokenEndpoint(method, path));
      }),
      fuzzParams(0.5),
    );
    objectPrototypeIntact();
  });

  describe("the CA's internal JSON routes (mutual TLS, as the RA and the OCSP responder call them)", () => {
    let agents: Record<'ra-client' | 'ocsp-client', Agent>;
    let issuerId = 'x';
    /** The dev PKI's own CA certificates, PEM: a chain for a manufacturer entry that trusts the dev root. */
    let caChainPem = '';
    before(async () => {
      const issuers = await stack.store.listIssuers();
      issuerId = issuers.find((i) => i.role === 'issuing' && i.state === 'active')?.id ?? issuerId;
      caChainPem = issuers.map((i) => `-----BEGIN CERTIFICATE-----\n${i.certificate.toString('base64')}\n-----END CERTIFICATE-----\n`).join('');
      await stack.store.putManufacturer({ tenant: 'demo', name: 'ACME', roots: issuers.filter((i) => i.role === 'root').map((i) => i.certificate), intermediates: [], revocation: { failMode: 'closed' }, mapping: { serialFrom: 'CN', models: 'any' }, autoRegister: true, createdAt: 'c', updatedAt: 'c' });
      const agentFor = (name: 'ra-client' | 'ocsp-client') => new Agent({ connect: serviceClientTlsOptions(readServiceTls(pki.dataDir, name)), connections: 2 });
      agents = { 'ra-client': agentFor('ra-client'), 'ocsp-client': agentFor('ocsp-client') };
    });
    after(async () => {
      await Promise.all(Object.values(agents).map((a) => a.close()));
    });

    /** The CA has no openapi.yaml: its routes and the fields each reads (the contract, libs/ca-client/src/contract.ts). */
    const caRoutes = () => [
      { path: CA_API.sign.path, as: 'ra-client' as const, body: { actor: 'fuzz', tenant: 'demo', stationId: known.stationId, csr: newP256Csr('CP-0001').csr, certificateType: 'ChargingStationCertificate', idempotencyKey: 'k1' } },
      // A first enrolment on a manufacturer certificate (issue 21): the chain the CA validates itself.
      { path: CA_API.sign.path, as: 'ra-client' as const, body: { actor: 'fuzz', tenant: 'demo', stationId: 'cp-mfr-fuzz', csr: newP256Csr('CP-0001').csr, certificateType: 'ChargingStationCertificate', manufacturerName: 'ACME', manufacturerCertificateChain: caChainPem } },
      // A batch of sign requests (CaClient.sign): each item is answered as one call of /v1/sign would be.
      { path: CA_API.signBatch.path, as: 'ra-client' as const, body: { requests: [{ requestId: 'fuzz-1', request: { actor: 'fuzz', tenant: 'demo', stationId: known.stationId, csr: newP256Csr('CP-0001').csr, certificateType: 'ChargingStationCertificate' } }, { request: { actor: 'fuzz', tenant: 'demo', stationId: 'cp-nobody', csr: 'x', certificateType: 'V2GCertificate' } }] } },
      { path: CA_API.signServer.path, as: 'ra-client' as const, body: { actor: 'fuzz', tenant: 'demo', csr: newP256Csr('csms.demo.local').csr, validityHours: 12 } },
      { path: CA_API.revoke.path, as: 'ra-client' as const, body: { actor: 'fuzz', tenant: 'demo', serialNumber: '1f', reason: 'superseded' } },
      { path: CA_API.removeStation.path, as: 'ra-client' as const, body: { actor: 'fuzz', tenant: 'demo', stationId: 'cp-nobody' } },
      { path: CA_API.ocspSigner.path, as: 'ocsp-client' as const, body: { issuerId, csr: newP256Csr('ocsp').csr } },
    ];

    it('every route: never 5xx, every 4xx a problem+json with title and detail', async () => {
      for (const route of caRoutes()) {
        const op: ApiOperation = { id: route.path, method: 'POST', path: route.path, pathParams: [], queryParams: [], headerParams: [], body: { schema: { type: 'object' }, example: route.body } };
        await fc.assert(
          fc.asyncProperty(bodyArb(op, CSR_SEEDS), headersArb, fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT'), async (body, headers, method) => {
            const h: Record<string, string> = { ...headers };
            delete h['content-encoding'];
            const payload = body === undefined ? undefined : 'raw' in body ? body.raw : JSON.stringify(body.json) ?? 'null';
            const res = await request(stack.caUrl + route.path, { method: method as 'POST', headers: h, body: method === 'GET' ? null : (payload ?? null), dispatcher: agents[route.as] });
            const text = await res.body.text();
            checkAnswer({ status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), text }, `CA ${method} ${route.path}`);
            // A batch's own answers: never an internal error, each problem with a detail (503 is
            // the CA's "retry later", e.g. no active issuer for the V2G hierarchy in this dev PKI).
            if (route.path === CA_API.signBatch.path && res.statusCode === 200)
              for (const r of (JSON.parse(text) as { results: { status: number; problem?: { detail?: string } }[] }).results)
                if (r.status !== 201) assert.ok(((r.status >= 400 && r.status < 500) || r.status === 503) && typeof r.problem?.detail === 'string', `CA batch item: ${JSON.stringify(r)}`);
          }),
          fuzzParams(0.2),
        );
      }
      objectPrototypeIntact();
    });
  });

  it('regression: a CSR with malformed RSASSA-PSS parameters is a 422 naming A02.FR.03 at the RA and the CA (was HTTP 500)', async () => {
    const good = CSR_SEEDS[readdirSync(`${TEST_DIR}fixtures/csr`).filter((f) => f.endsWith('.csr.pem')).sort().indexOf('rsa-pss-good.csr.pem')]!;
    // RSASSA-PSS-params [0] hashAlgorithm: its SEQUENCE made a SET.
    const hex = good.toString('hex');
    const at = hex.indexOf('a00f300d0609608648016503040201');
    assert.ok(at > 0);
    const bad = Buffer.from(hex.slice(0, at + 4) + '31' + hex.slice(at + 6), 'hex');
    const csr = armour(bad, 'intact');
    await registerStation(stack, 'cp-pss', 'CP-0001');
    const r = await api(stack, 'POST', '/v1/stations/cp-pss/certificates', { csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(r.status, 422, r.text);
    assert.ok(r.body.violations.some((v: { rule: string; message: string }) => v.rule === 'A02.FR.03' && /parameters are malformed/.test(v.message)), r.text);
    const s = await api(stack, 'POST', '/v1/server-certificates', { csr });
    assert.equal(s.status, 422, s.text);
  });

  it('the RA still answers afterwards (no crash, no wedged connection)', async () => {
    assert.equal((await api(stack, 'GET', '/v1/trust-anchors')).status, 200);
    assert.equal((await send(stack.raUrl, 'GET', '/healthz', {}, undefined))?.status, 200);
  });

  it(`budget: ${FUZZ_RUNS} runs per property (FUZZ_RUNS), ${OPERATIONS.length} operations`, () => {
    assert.ok(OPERATIONS.length >= 10);
  });
});
