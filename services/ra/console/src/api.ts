/**
 * The RA's /v1 API as the console calls it. The bearer token lives in this module's memory only:
 * never in a URL, a cookie or web storage, so closing or reloading the tab signs out.
 */
export interface Violation {
  readonly rule: string;
  readonly message: string;
}
export interface Problem {
  readonly type?: string;
  readonly title?: string;
  readonly status?: number;
  readonly detail?: string;
  readonly violations?: readonly Violation[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }
}

export interface Session {
  readonly token: string;
  readonly tenant: string;
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly expiresAt: Date | undefined;
}

let session: Session | undefined;

export const currentSession = (): Session | undefined => session;
export const signOut = (): void => {
  session = undefined;
};

/** The claims of a JWT, read for display only (the RA verifies the token on every request). */
function claimsOf(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) throw new Error('this is not a JWT (header.payload.signature)');
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))) as Record<string, unknown>;
}

/** Signs in with a bearer token, checked against the RA once: a 401 refuses it; a 403 (a scope it lacks) does not. */
export async function signInWithToken(raw: string): Promise<Session> {
  const token = raw.trim().replace(/^Bearer\s+/i, '');
  const claims = claimsOf(token);
  const scope = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : Array.isArray(claims.scope) ? claims.scope.map(String) : [];
  const candidate: Session = {
    token,
    tenant: typeof claims.tenant === 'string' ? claims.tenant : '?',
    subject: typeof claims.sub === 'string' ? claims.sub : '',
    scopes: scope,
    expiresAt: typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : undefined,
  };
  try {
    await request(token, 'GET', '/v1/trust-anchors');
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 403)) throw e;
  }
  session = candidate;
  return candidate;
}

/** OAuth2 client credentials (RFC 6749 4.4): POST /oauth/token with HTTP Basic, then as a bearer token. */
export async function signInWithClient(clientId: string, secret: string): Promise<Session> {
  const res = await fetch('/oauth/token', {
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`)}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
    credentials: 'omit',
    cache: 'no-store',
  });
  const body = (await res.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string };
  if (!res.ok || !body.access_token) throw new ApiError(res.status, { title: body.error ?? `HTTP ${res.status}`, detail: body.error_description ?? 'the token endpoint refused the client' });
  return signInWithToken(body.access_token);
}

/** One /v1 request with the session's token; a problem+json answer becomes an ApiError. */
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  if (!session) throw new ApiError(401, { title: 'Not signed in', detail: 'sign in first' });
  try {
    return await request<T>(session.token, method, path, body);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && session) {
      // The token expired or was refused: back to the sign-in form (app.ts listens).
      session = undefined;
      window.dispatchEvent(new Event('evpki:signed-out'));
    }
    throw e;
  }
}

async function request<T>(token: string, method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, credentials: 'omit', cache: 'no-store', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = { title: `HTTP ${res.status}`, detail: text.slice(0, 300) };
  }
  if (!res.ok) throw new ApiError(res.status, (parsed ?? { title: `HTTP ${res.status}` }));
  return parsed as T;
}

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor?: string;
}

/** A list operation's URL with its query (empty values left out). */
export function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export interface StationView {
  stationId: string;
  serialNumber: string;
  model?: string;
  allowed: boolean;
  seccIds?: string[];
  createdAt: string;
  updatedAt: string;
}
export interface CertificateView {
  serialNumber: string;
  certificateType: string;
  stationId?: string;
  issuerId: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  issuedAt: string;
  status: 'good' | 'revoked' | 'expired';
  sha256Fingerprint: string;
  spkiSha256: string;
  certificate: string;
  revokedAt?: string;
  revocationReason?: string;
}
export interface IssuerView {
  id: string;
  role: string;
  state: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  serialNumber: string;
}
/** GET /v1/summary (openapi.yaml TenantSummary). */
export interface TenantSummaryView {
  tenant: string;
  at: string;
  stations: { total: number; allowed: number; disallowed: number };
  certificates: { total: number; good: number; revoked: number; expired: number };
  issuedPerDay: { day: string; count: number }[];
  expiring: { withinDays: number; count: number }[];
  ocspAnswers:
    | { available: true; responders: number; total: number; byStatus: Record<'good' | 'revoked' | 'unknown' | 'mixed', number> }
    | { available: false; reason: string };
}
export interface HierarchyView {
  name: string;
  rotation: unknown;
  issuers: IssuerView[];
}
export interface AuditEntry {
  seq: number;
  at: string;
  prevHash: string;
  hash: string;
  event: string;
  actor: string;
  outcome: string;
  tenant?: string;
  rules?: string[];
  details?: Record<string, unknown>;
}
