import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { SCOPES } from '@evpki/service';

/** One operation of openapi.yaml: its route template and the scopes it needs (all of them). */
export interface Operation {
  /** e.g. 'POST /v1/stations/{stationId}/certificates': bounded, for metrics and the audit log. */
  readonly route: string;
  readonly method: string;
  readonly scopes: readonly string[];
  /** Matches the raw request path exactly (case-sensitive, no trailing slash); named groups are the path parameters. */
  readonly match: RegExp;
}

/** A request matched to its operation, with the path parameters of that same match. */
export interface MatchedOperation {
  readonly operation: Operation;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * Whether a raw request path (as sent, before any decoding) is in the only spelling the RA accepts:
 * no percent-encoding (no parameter of openapi.yaml needs it, and an encoded `/`, `.` or `\` would
 * let two spellings name one thing), no empty (`//`) or dot (`.`, `..`) segment. Case and trailing
 * slashes are exact by the operations' patterns.
 */
function isCanonicalPath(path: string): boolean {
  if (path.includes('%') || path.includes('\\')) return false;
  return path
    .split('/')
    .slice(1)
    .every((s) => s !== '' && s !== '.' && s !== '..');
}

export interface Spec {
  security?: SecurityRequirement[];
  paths: Record<string, Record<string, unknown> & { parameters?: unknown[] }>;
  components?: Record<string, Record<string, unknown>>;
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
  /** openapi.yaml as read, for the request schemas (request-schema.ts). */
  readonly spec: Spec;
  /**
   * The operation a request is for, from its raw path (no query), and its path parameters; undefined
   * when openapi.yaml has none for exactly this method and spelling (the RA answers 404).
   */
  readonly match: (method: string, rawPath: string) => MatchedOperation | undefined;
  /** `match`'s operation alone. */
  readonly find: (method: string, rawPath: string) => Operation | undefined;
  /** The methods of the operations at exactly this path (for a 405's Allow); empty when there are none. */
  readonly allowed: (rawPath: string) => string[];
}

export function loadOperations(specPath: string): Operations {
  const spec = parse(readFileSync(specPath, 'utf8')) as Spec;
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    if (!path.startsWith('/v1/')) continue;
    for (const [method, value] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      const op = value as { security?: SecurityRequirement[] };
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
  // OpenAPI 3.1 (Paths Object): concrete paths match before templated ones, so that
  // /v1/certificates/expiring is never taken for /v1/certificates/{serialNumber}, whatever the
  // order of openapi.yaml. Fewer template parameters first; the sort is stable.
  const templated = (o: Operation): number => (o.route.match(/\{/g) ?? []).length;
  ops.sort((a, b) => templated(a) - templated(b));
  const match = (method: string, rawPath: string): MatchedOperation | undefined => {
    if (!isCanonicalPath(rawPath)) return undefined;
    for (const operation of ops) {
      const m = operation.method === method ? operation.match.exec(rawPath) : null;
      if (m) return { operation, params: { ...m.groups } };
    }
    return undefined;
  };
  const allowed = (rawPath: string): string[] => (isCanonicalPath(rawPath) ? ops.filter((o) => o.match.test(rawPath)).map((o) => o.method) : []);
  return { all: ops, spec, match, find: (method, rawPath) => match(method, rawPath)?.operation, allowed };
}
