import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { AppError } from '@evpki/service';
import { DEFAULT_HIERARCHY, ListPositionError, hierarchyNames, hierarchyStatus, nextRotationStep, type CertificateListFilter, type ListPage, type RaStore } from '@evpki/store';
import { contextOf } from './authenticate.js';
import { certificateView, stationView } from './views.js';

/**
 * The operator's lists (issue 19): GET /v1/stations, /v1/certificates, /v1/certificates/expiring
 * and /v1/issuers. Pages come from the store's list indexes (list-index.ts); the validator has
 * checked every parameter's syntax against openapi.yaml before a handler runs.
 */

/** Product rules of the lists, named in their 400s. */
export const LIST_RULES = {
  /** A cursor is the nextCursor of a page of the same list, tenant and filters. */
  cursor: 'List.cursor',
  /** `within` of the expiring list: at most MAX_WITHIN_DAYS. */
  within: 'List.within',
} as const;

/** How far ahead GET /v1/certificates/expiring looks at most. */
export const MAX_WITHIN_DAYS = 400;
const DEFAULT_LIMIT = 50;

/**
 * Cursors: base64url of {v, b, p}: `p` the store's list position (the last index member read), `b`
 * a digest of the list, the tenant and the filters it was given for. A cursor of another list,
 * tenant or filter set is refused (400), and a position only ever reads the caller's own tenant's
 * index, so a forged one shows nothing of another tenant.
 */
interface CursorBody {
  readonly v: 1;
  readonly b: string;
  readonly p: string;
}

const bindingOf = (list: string, tenant: string, filters: Readonly<Record<string, unknown>>): string =>
  createHash('sha256')
    .update(JSON.stringify([list, tenant, Object.entries(filters).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1))]))
    .digest('base64url')
    .slice(0, 22);

const badCursor = (why: string): AppError =>
  new AppError('malformed', `cursor: ${why}`, [{ rule: LIST_RULES.cursor, message: `cursor: ${why}; pass the nextCursor of the previous page with the same filters, or none for the first page` }]);

export function encodeCursor(binding: string, position: string): string {
  return Buffer.from(JSON.stringify({ v: 1, b: binding, p: position } satisfies CursorBody)).toString('base64url');
}

export function decodeCursor(cursor: string, binding: string): string {
  let body: Partial<CursorBody> | null;
  try {
    body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorBody> | null;
  } catch {
    throw badCursor('not a cursor this API gave');
  }
  if (!body || typeof body !== 'object' || body.v !== 1 || typeof body.b !== 'string' || typeof body.p !== 'string') throw badCursor('not a cursor this API gave');
  if (body.b !== binding) throw badCursor('it belongs to another list, tenant or set of filters');
  return body.p;
}

const query = (req: Request, name: string): string | undefined => {
  const v = req.query[name];
  return typeof v === 'string' ? v : undefined;
};

/** The page a request asks for, its cursor checked against the list's binding. */
function pageOf(req: Request, binding: string): ListPage {
  // The validator has coerced limit to an integer within openapi.yaml's bounds.
  const limit = req.query.limit;
  const cursor = query(req, 'cursor');
  return { limit: limit === undefined ? DEFAULT_LIMIT : Number(limit), ...(cursor === undefined ? {} : { after: decodeCursor(cursor, binding) }) };
}

/** A store refusal of the position (a cursor whose digest matched but whose position was forged). */
async function reading<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (e instanceof ListPositionError) throw badCursor('not a cursor this API gave');
    throw e;
  }
}

/** A `within` (`30d`, `12h`) in ms, or a 400 naming the rule. */
export function withinMs(within: string): number {
  const m = /^([1-9][0-9]{0,4})([dh])$/.exec(within);
  const hours = m ? Number(m[1]) * (m[2] === 'd' ? 24 : 1) : NaN;
  if (!(hours <= MAX_WITHIN_DAYS * 24))
    throw new AppError('malformed', `within: ${within} is not a number of days (d) or hours (h) of at most ${MAX_WITHIN_DAYS} days`, [
      { rule: LIST_RULES.within, message: `within: at most ${MAX_WITHIN_DAYS}d (${MAX_WITHIN_DAYS * 24}h), e.g. 30d, 90d or 12h` },
    ]);
  return hours * 3_600_000;
}

/** A serial prefix as serials are stored: lowercase hex without leading zeros. */
const serialPrefixOf = (p: string): string => p.toLowerCase().replace(/^0+(?=.)/, '');

export interface ListDeps {
  readonly store: RaStore;
  readonly now: () => Date;
}

export function listHandlers(d: ListDeps): Record<string, (req: Request, res: Response) => Promise<void>> {
  /** A certificate page as JSON, its next cursor bound like its own. */
  async function sendCertificates(res: Response, tenant: string, filter: CertificateListFilter, page: ListPage, binding: string): Promise<void> {
    const now = new Date(filter.now);
    const result = await reading(() => d.store.findCertificates(tenant, filter, page));
    res.json({ items: result.items.map((c) => certificateView(c, now)), order: result.order, ...(result.next === undefined ? {} : { nextCursor: encodeCursor(binding, result.next) }) });
  }

  return {
    'GET /v1/stations': async (req, res) => {
      const { tenant } = contextOf(res);
      // The validator has coerced it to a boolean.
      const flag: unknown = req.query.allowed;
      const allowed = flag === undefined ? undefined : flag === true || flag === 'true';
      const prefix = query(req, 'q');
      const binding = bindingOf('stations', tenant.id, { allowed, prefix });
      const result = await reading(() => d.store.findStations(tenant.id, { ...(allowed === undefined ? {} : { allowed }), ...(prefix === undefined ? {} : { prefix }) }, pageOf(req, binding)));
      res.json({ items: result.items.map(stationView), ...(result.next === undefined ? {} : { nextCursor: encodeCursor(binding, result.next) }) });
    },

    'GET /v1/certificates': async (req, res) => {
      const { tenant } = contextOf(res);
      const time = (name: string): number | undefined => {
        const v = query(req, name);
        return v === undefined ? undefined : Date.parse(v);
      };
      const raw = {
        stationId: query(req, 'stationId'),
        status: query(req, 'status') as CertificateListFilter['status'],
        kind: query(req, 'kind'),
        notAfterBefore: time('notAfterBefore'),
        notAfterAfter: time('notAfterAfter'),
        issuedSince: time('issuedSince'),
        serialPrefix: query(req, 'serialPrefix') === undefined ? undefined : serialPrefixOf(query(req, 'serialPrefix')!),
      };
      const filter = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) as Omit<CertificateListFilter, 'now'>;
      const binding = bindingOf('certificates', tenant.id, filter);
      await sendCertificates(res, tenant.id, { ...filter, now: d.now().getTime() }, pageOf(req, binding), binding);
    },

    // Not revoked, not expired, notAfter within `within` from now: the notAfter index from now on.
    'GET /v1/certificates/expiring': async (req, res) => {
      const { tenant } = contextOf(res);
      const within = query(req, 'within') ?? '';
      const span = withinMs(within);
      const binding = bindingOf('expiring', tenant.id, { within });
      const now = d.now().getTime();
      await sendCertificates(res, tenant.id, { status: 'good', notAfterAfter: now, notAfterBefore: now + span + 1, now }, pageOf(req, binding), binding);
    },

    // The hierarchies are the PKI's, shared by every tenant: what `pki status --json` shows of each.
    'GET /v1/issuers': async (_req, res) => {
      const now = d.now().getTime();
      const names = await hierarchyNames(d.store);
      if (!names.includes(DEFAULT_HIERARCHY)) names.unshift(DEFAULT_HIERARCHY);
      const hierarchies = [];
      for (const name of names) {
        const s = await hierarchyStatus(d.store, name, now);
        const r = s.rotation;
        const rotation = r && { kind: r.kind, revision: r.revision, step: r.step, nextStep: nextRotationStep(r) ?? null, old: r.old, new: r.new, startedAt: r.startedAt, steps: r.steps };
        hierarchies.push({ name, rotation, issuers: s.issuers });
      }
      res.json({ hierarchies });
    },
  };
}
