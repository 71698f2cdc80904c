import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { SCOPES } from '@evpki/service';

/** One operation of openapi.yaml: its route template and the scopes it needs (all of them). */
export interface Operation {
  /** e.g. 'POST /v1/stations/{stationId}/certificates': bounded, for metrics and the audit log. */
  readonly route: string;
  readonly method: string;
  readonly scopes: readonly string[];
  /** Matches the request path; named groups are the path parameters. */
  readonly match: RegExp;
}

/** The path parameters of a request path that matches `op` (percent-decoding undone). */
export function pathParams(op: Operation, path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(op.match.exec(path)?.groups ?? {})) {
    try {
      out[k] = decodeURIComponent(v);
    } catch {
      out[k] = v;
    }
  }
  return out;
}

interface Spec {
  security?: SecurityRequirement[];
  paths: Record<string, Record<string, { security?: SecurityRequirement[] }>>;
}
type SecurityRequirement = Record<string, string[] | undefined>;

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch']);

/**
 * The scopes each /v1 operation needs, read from openapi.yaml (`security: - bearerAuth: [...]`), so
 * that the contract and its enforcement cannot drift apart. An operation naming no scope, or an
 * unknown one, stops the start.
 */
export interface Operations {
  readonly all: readonly Operation[];
  /** The operation a request is for; undefined when openapi.yaml has none (the validator answers 404). */
  readonly find: (method: string, path: string) => Operation | undefined;
}

export function loadOperations(specPath: string): Operations {
  const spec = parse(readFileSync(specPath, 'utf8')) as Spec;
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      const route = `${method.toUpperCase()} ${path}`;
      const security = op.security ?? spec.security ?? [];
      if (security.length !== 1) throw new Error(`openapi.yaml: ${route} must name exactly one security requirement`);
      const scopes = security[0]!.bearerAuth ?? [];
      const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (!scopes.length || unknown.length) throw new Error(`openapi.yaml: ${route} must name its bearerAuth scopes among ${SCOPES.join(', ')}`);
      const pattern = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([A-Za-z]\w*)\}/g, '(?<$1>[^/]+)');
      ops.push({ route, method: method.toUpperCase(), scopes, match: new RegExp(`^${pattern}$`) });
    }
  }
  return { all: ops, find: (method, path) => ops.find((o) => o.method === method && o.match.test(path)) };
}
