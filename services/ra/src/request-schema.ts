import type { Request, Response } from 'express';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { AppError, type RuleViolation } from '@evpki/service';
import type { Operation, Spec } from './operations.js';

// ajv-formats is CommonJS: its default export is the plugin itself or a module object holding it.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

/**
 * The RA's request schemas: each openapi.yaml operation's path, query and header parameters and
 * JSON body, compiled once (Ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses) and run for the
 * operation the gate matched (authenticate.ts), so a request is routed once and checked against
 * the schema of exactly the operation that runs. Responses are checked too when asked
 * (RA_VALIDATE_RESPONSES, the tests): a handler answering outside the contract fails loudly.
 *
 * Refusals name the part that broke the contract, `openapi:/body/csr`, `openapi:/query/limit`,
 * `openapi:/params/stationId`, `openapi:/headers/idempotency-key` (rule catalogue: openapi:<path>);
 * a CSR over the size limit is OCPP's rule (A02.FR.03).
 */
export interface RequestSchemas {
  /**
   * Checks the request against its operation: throws AppError 'malformed' naming every violation
   * (at most 20). Query parameters are replaced by their typed values, defaults included.
   */
  check(operation: Operation, req: Request, params: Readonly<Record<string, string>>): void;
  /** Makes `res.json` refuse a body that its operation's response schema for the status does not allow. */
  checkResponses(operation: Operation, res: Response): void;
}

interface ParameterObject {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: object;
}
interface OperationObject {
  parameters?: unknown[];
  requestBody?: unknown;
  responses?: Record<string, unknown>;
}

/** One operation's compiled checks. */
interface Compiled {
  readonly path?: ValidateFunction;
  readonly query?: ValidateFunction;
  readonly queryNames: ReadonlySet<string>;
  readonly headers?: ValidateFunction;
  readonly body?: { readonly validate: ValidateFunction; readonly required: boolean; readonly mediaTypes: readonly string[] };
  readonly responses: ReadonlyMap<string, ValidateFunction>;
}

const MAX_VIOLATIONS = 20;
const SPEC_ID = 'openapi.yaml';

/** A schema taken out of the spec, its local references pointing back into it. */
function rebased(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebased);
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' && v.startsWith('#') ? `${SPEC_ID}${v}` : rebased(v)]));
}

/** JSON Pointer token (RFC 6901). */
const token = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

export function compileRequestSchemas(spec: Spec, operations: readonly Operation[]): RequestSchemas {
  // The spec is one schema document, so every `#/components/...` reference resolves where it is written.
  // Parameters arrive as strings: their own instance coerces to the declared types, as a query string must be read.
  const bodies = newAjv(false);
  const parameters = newAjv(true);
  bodies.addSchema(spec, SPEC_ID);
  parameters.addSchema(spec, SPEC_ID);
  const deref = <T>(o: unknown): T => {
    const ref = (o as { $ref?: string } | undefined)?.$ref;
    if (!ref) return o as T;
    if (!ref.startsWith('#/')) throw new Error(`openapi.yaml: only local references are supported (${ref})`);
    return ref
      .slice(2)
      .split('/')
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((at, k) => (at as Record<string, unknown>)[k], spec) as T;
  };

  const compiled = new Map<string, Compiled>();
  for (const operation of operations) {
    const path = operation.route.slice(operation.method.length + 1);
    const method = operation.method.toLowerCase();
    const item = spec.paths[path]!;
    const op = item[method] as OperationObject;
    const pointer = `${SPEC_ID}#/paths/${token(path)}/${method}`;
    // Operation parameters override the path item's of the same name and location (OpenAPI 3.1, 4.8.9.1).
    const byKey = new Map<string, ParameterObject>();
    for (const p of [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => deref<ParameterObject>(p))) byKey.set(`${p.in}:${p.name}`, p);
    const all = [...byKey.values()];
    const group = (where: ParameterObject['in'], name: (p: ParameterObject) => string, closed: boolean): ValidateFunction | undefined => {
      const ps = all.filter((p) => p.in === where);
      if (!ps.length && !closed) return undefined;
      return parameters.compile({
        type: 'object',
        properties: Object.fromEntries(ps.map((p) => [name(p), rebased(p.schema ?? {})])),
        required: ps.filter((p) => p.required).map(name),
        ...(closed ? { additionalProperties: false } : {}),
      });
    };
    // Header names are case-insensitive: node gives them in lower case.
    const headers = group('header', (p) => p.name.toLowerCase(), false);
    const queryParams = all.filter((p) => p.in === 'query');
    let body: Compiled['body'];
    if (op.requestBody) {
      if ((op.requestBody as { $ref?: string }).$ref) throw new Error(`openapi.yaml: ${operation.route}: request bodies by reference are not supported`);
      const rb = op.requestBody as { required?: boolean; content?: Record<string, { schema?: unknown }> };
      const mediaTypes = Object.keys(rb.content ?? {});
      if (!mediaTypes.every((m) => m === 'application/json')) throw new Error(`openapi.yaml: ${operation.route}: only application/json request bodies are supported`);
      body = { validate: bodies.compile({ $ref: `${pointer}/requestBody/content/application~1json/schema` }), required: rb.required === true, mediaTypes };
    }
    const responses = new Map<string, ValidateFunction>();
    for (const [status, r] of Object.entries(op.responses ?? {})) {
      const content = deref<{ content?: Record<string, { schema?: unknown }> }>(r).content ?? {};
      const json = Object.keys(content).find((m) => m === 'application/json');
      if (json && content[json]!.schema) responses.set(status, bodies.compile({ $ref: `${SPEC_ID}#${responsePointer(r, `/paths/${token(path)}/${method}/responses/${token(status)}`)}/content/application~1json/schema` }));
    }
    compiled.set(operation.route, {
      path: group('path', (p) => p.name, false),
      query: queryParams.length ? group('query', (p) => p.name, true) : undefined,
      queryNames: new Set(queryParams.map((p) => p.name)),
      headers,
      body,
      responses,
    });
  }

  return {
    check(operation, req, params) {
      const c = compiled.get(operation.route)!;
      const violations: RuleViolation[] = [];
      const run = (validate: ValidateFunction | undefined, data: unknown, where: string): void => {
        if (validate && !validate(data)) violations.push(...(validate.errors ?? []).map((e) => violation(where, e)));
      };
      run(c.path, { ...params }, 'params');
      // Unknown parameters are refused (a typo must not silently mean "no filter"); every value is
      // read as one string, so a repeated parameter is refused by its schema instead of half-read.
      const query = { ...(req.query as Record<string, unknown>) };
      if (c.query) run(c.query, query, 'query');
      else for (const name of Object.keys(query)) violations.push({ rule: `openapi:/query/${name}`, message: `/query/${name} is not a parameter of this operation` });
      // A copy: the schemas may coerce or default what they check, and the headers stay as sent.
      if (c.headers) run(c.headers, { ...req.headers }, 'headers');
      if (c.body) {
        const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        const present = req.body !== undefined;
        if (present && !c.body.mediaTypes.includes(mediaType))
          violations.push({ rule: 'openapi:/body', message: `/body has media type ${mediaType || '(none)'}; expected ${c.body.mediaTypes.join(' or ')}` });
        else if (!present && c.body.required) violations.push({ rule: 'openapi:/body', message: '/body is required' });
        else if (present) run(c.body.validate, req.body, 'body');
      }
      if (violations.length) throw new AppError('malformed', 'the request does not match openapi.yaml', violations.slice(0, MAX_VIOLATIONS));
      // Express 5 parses req.query again on every read: the typed values (defaults included) replace it.
      if (c.query) Object.defineProperty(req, 'query', { value: query, writable: true, configurable: true, enumerable: true });
    },

    checkResponses(operation, res) {
      const c = compiled.get(operation.route)!;
      const json = res.json.bind(res);
      res.json = (body: unknown) => {
        const status = String(res.statusCode);
        const validate = c.responses.get(status) ?? c.responses.get(`${status[0]}XX`) ?? c.responses.get('default');
        if (!validate) throw new Error(`${operation.route} answered ${status}, which openapi.yaml does not declare with a JSON body`);
        if (!validate(body)) throw new Error(`${operation.route} ${status}: the response does not match openapi.yaml: ${(validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}`);
        return json(body);
      };
    },
  };
}

function newAjv(coerceTypes: boolean): Ajv2020 {
  // strict: false, as the spec document carries OpenAPI keywords (info, paths, example) that are no schema keywords.
  const ajv = new Ajv2020({ allErrors: true, strict: false, coerceTypes, useDefaults: true, validateFormats: true });
  addFormats(ajv);
  return ajv;
}

/** The JSON Pointer of a response object: where it is written, or where its $ref points. */
function responsePointer(response: unknown, inline: string): string {
  const ref = (response as { $ref?: string }).$ref;
  return ref ? ref.slice(1) : inline;
}

/** An Ajv error as `openapi:/<where><instance path>`, naming the missing or unexpected property itself. */
function violation(where: string, e: ErrorObject): RuleViolation {
  let path = `/${where}${e.instancePath}`;
  if (e.keyword === 'required') path += `/${(e.params as { missingProperty: string }).missingProperty}`;
  else if (e.keyword === 'additionalProperties') path += `/${(e.params as { additionalProperty: string }).additionalProperty}`;
  const message = e.keyword === 'additionalProperties' && where === 'query' ? 'is not a parameter of this operation' : (e.message ?? 'is invalid');
  return { rule: path === '/body/csr' ? 'A02.FR.03' : `openapi:${path}`, message: `${path} ${message}` };
}
