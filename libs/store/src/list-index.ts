import type { CertificateRecord, StationRecord } from './records.js';

/**
 * The list indexes of stations and certificates (issue 19), the same in both backends: each index
 * is an ordered set of string members under (tenant, index name), and a page is a range of members
 * read from a position on. LMDB keeps a member as the key ['sx' | 'cx', tenant, ...name, member],
 * Redis as a member of the sorted set `sx|cx:<tenant>:<name>` (all scores 0, ordered by bytes), so
 * both order a page alike. A member is `<sort key> <id>` (or the id alone): ids and sort keys hold
 * no space (station ids and serial numbers by their syntax, sort keys are digits or hex), and a
 * space sorts below every character they hold, so a prefix of the sort key is a prefix range.
 */

/** An index: its name parts under the tenant, e.g. ['issued'] or ['kind', 'V2GCertificate']. */
export type IndexName = readonly string[];

/** One member of one index of a tenant. */
export interface IndexEntry {
  readonly index: IndexName;
  readonly member: string;
}

/** A time as a sort key: epoch ms, zero-padded to 15 digits (up to year 33658), so bytes order as numbers. */
export const timeKey = (ms: number): string => String(Math.min(Math.max(Math.floor(ms), 0), 999_999_999_999_999)).padStart(15, '0');

/** The id at the end of a member. */
export const idOfMember = (member: string): string => member.slice(member.lastIndexOf(' ') + 1);

/** Above every character of a sort key or id: the end of a prefix range. */
const AFTER_PREFIX = '\uffff';

/** A list position (a member of the plan's index) that is no member this list could have produced. */
export class ListPositionError extends Error {
  override readonly name = 'ListPositionError';
}

/** A member as a position: no control character, bounded (station ids and serials are at most 64 and 40 characters). */
export function assertPosition(position: string): void {
  if (position.length < 1 || position.length > 256 || [...position].some((ch) => ch.charCodeAt(0) < 0x20)) throw new ListPositionError('the list position is not one this list gives');
}

// ---- stations ----

export interface StationListFilter {
  /** Only stations with this audit flag (Plug&Charge 4.2). */
  readonly allowed?: boolean;
  /** Only stations whose stationId or serialNumber starts with it (case-sensitive). */
  readonly prefix?: string;
}

/** A page request: at most `limit` items, after `after` (a previous page's `next`). */
export interface ListPage {
  readonly limit: number;
  readonly after?: string;
}

export interface ListResult<T> {
  readonly items: T[];
  /** Where the next page starts (the last index member read); absent when the range is exhausted. */
  readonly next?: string;
}

/** The index entries of a station (all, search terms, audit flag). */
export function stationIndexEntries(s: StationRecord): IndexEntry[] {
  const out: IndexEntry[] = [
    { index: ['all'], member: s.stationId },
    { index: ['q'], member: `${s.stationId} ${s.stationId}` },
    { index: ['allowed', s.allowed ? '1' : '0'], member: s.stationId },
  ];
  if (s.serialNumber !== s.stationId) out.push({ index: ['q'], member: `${s.serialNumber} ${s.stationId}` });
  return out;
}

/** Every index a station may be in (to clear a tenant's station from all of them). */
export const STATION_INDEXES: readonly IndexName[] = [['all'], ['q'], ['allowed', '1'], ['allowed', '0']];

/** How one page of a list is read: an index, a member range [from, to) in it, and what the page keeps. */
export interface ListPlan<R> {
  readonly index: IndexName;
  readonly from: string;
  readonly to: string;
  /** Whether the record of this member belongs on the page (the filters the index does not apply). */
  readonly accept: (record: R, member: string) => boolean;
}

export function stationPlan(tenant: string, f: StationListFilter): ListPlan<StationRecord> {
  const mine = (s: StationRecord) => s.tenant === tenant;
  if (f.prefix !== undefined) {
    const p = f.prefix;
    return {
      index: ['q'],
      from: p,
      to: p + AFTER_PREFIX,
      // A station found by its serial number whose id also starts with the prefix is found by its id.
      accept: (s, member) => mine(s) && (f.allowed === undefined || s.allowed === f.allowed) && !(member.slice(0, member.indexOf(' ')) !== s.stationId && s.stationId.startsWith(p)),
    };
  }
  if (f.allowed !== undefined) return { index: ['allowed', f.allowed ? '1' : '0'], from: '', to: AFTER_PREFIX, accept: (s) => mine(s) && s.allowed === f.allowed };
  return { index: ['all'], from: '', to: AFTER_PREFIX, accept: mine };
}

// ---- certificates ----

export type ListedCertificateStatus = 'good' | 'revoked' | 'expired';

export interface CertificateListFilter {
  readonly stationId?: string;
  readonly status?: ListedCertificateStatus;
  /** The certificate's kind (the API's certificateType). */
  readonly kind?: string;
  /** notAfter < this (epoch ms). */
  readonly notAfterBefore?: number;
  /** notAfter ≥ this (epoch ms). */
  readonly notAfterAfter?: number;
  /** issuedAt ≥ this (epoch ms). */
  readonly issuedSince?: number;
  /** Lowercase hex, as serials are stored. */
  readonly serialPrefix?: string;
  /** What `good` and `expired` are measured against (epoch ms). */
  readonly now: number;
}

/** The order of a certificate page: the index it was read from. */
export type CertificateOrder = 'issuedAt' | 'notAfter' | 'serialNumber';

export interface CertificateListResult extends ListResult<CertificateRecord> {
  readonly order: CertificateOrder;
}

/** The status a certificate has at `now`, as the API reports it (revoked wins over expired). */
export function statusAt(c: Pick<CertificateRecord, 'status' | 'notAfter'>, now: number): ListedCertificateStatus {
  return c.status === 'revoked' ? 'revoked' : Date.parse(c.notAfter) < now ? 'expired' : 'good';
}

/** The index entries of a certificate; `revoked` once it is. */
export function certificateIndexEntries(c: CertificateRecord): IndexEntry[] {
  const issued = `${timeKey(Date.parse(c.issuedAt))} ${c.serial}`;
  const out: IndexEntry[] = [
    { index: ['issued'], member: issued },
    { index: ['notafter'], member: `${timeKey(Date.parse(c.notAfter))} ${c.serial}` },
    { index: ['serial'], member: c.serial },
    { index: ['kind', c.kind], member: issued },
  ];
  if (c.stationId) out.push({ index: ['station', c.stationId], member: issued });
  if (c.status === 'revoked') out.push(...revokedIndexEntries(c));
  return out;
}

/**
 * The entries a revocation adds: the tenant's revoked certificates and those of its kind (by
 * issuance), and the revoked ones by notAfter (schema 5), which the summary subtracts from the
 * notAfter index to count expired and expiring certificates that are not revoked.
 */
export function revokedIndexEntries(c: Pick<CertificateRecord, 'issuedAt' | 'notAfter' | 'serial' | 'kind'>): IndexEntry[] {
  const member = `${timeKey(Date.parse(c.issuedAt))} ${c.serial}`;
  return [
    { index: ['revoked'], member },
    { index: ['revokedkind', c.kind], member },
    { index: ['revokednotafter'], member: `${timeKey(Date.parse(c.notAfter))} ${c.serial}` },
  ];
}

const ORDER_OF: Record<string, CertificateOrder> = { serial: 'serialNumber', notafter: 'notAfter' };
export const orderOf = (index: IndexName): CertificateOrder => ORDER_OF[index[0]!] ?? 'issuedAt';

/**
 * Which index a certificate page is read from, and its range: serialPrefix, else stationId, else
 * status revoked (of the kind, when given), else a notAfter bound, else kind, else status good or
 * expired (notAfter), else issuedAt. Every filter is checked again on the record (accept), so the
 * index only narrows.
 */
export function certificatePlan(tenant: string, f: CertificateListFilter): ListPlan<CertificateRecord> {
  const accept = (c: CertificateRecord): boolean => {
    if (c.tenant !== tenant) return false;
    if (f.stationId !== undefined && c.stationId !== f.stationId) return false;
    if (f.kind !== undefined && c.kind !== f.kind) return false;
    if (f.serialPrefix !== undefined && !c.serial.startsWith(f.serialPrefix)) return false;
    if (f.status !== undefined && statusAt(c, f.now) !== f.status) return false;
    const notAfter = Date.parse(c.notAfter);
    if (f.notAfterBefore !== undefined && !(notAfter < f.notAfterBefore)) return false;
    if (f.notAfterAfter !== undefined && !(notAfter >= f.notAfterAfter)) return false;
    if (f.issuedSince !== undefined && !(Date.parse(c.issuedAt) >= f.issuedSince)) return false;
    return true;
  };
  const issuedRange = { from: f.issuedSince === undefined ? '' : timeKey(f.issuedSince), to: AFTER_PREFIX };
  const plan = (index: IndexName, range: { from: string; to: string }): ListPlan<CertificateRecord> => ({ index, ...range, accept });
  if (f.serialPrefix !== undefined) return plan(['serial'], { from: f.serialPrefix, to: f.serialPrefix + AFTER_PREFIX });
  if (f.stationId !== undefined) return plan(['station', f.stationId], issuedRange);
  if (f.status === 'revoked') return plan(f.kind === undefined ? ['revoked'] : ['revokedkind', f.kind], issuedRange);
  const byNotAfter = () => {
    let lo = f.notAfterAfter ?? 0;
    let hi = f.notAfterBefore;
    if (f.status === 'good') lo = Math.max(lo, f.now);
    if (f.status === 'expired') hi = Math.min(hi ?? f.now, f.now);
    return { from: timeKey(lo), to: hi === undefined ? AFTER_PREFIX : timeKey(hi) };
  };
  if (f.notAfterBefore !== undefined || f.notAfterAfter !== undefined) return plan(['notafter'], byNotAfter());
  if (f.kind !== undefined) return plan(['kind', f.kind], issuedRange);
  if (f.status !== undefined) return plan(['notafter'], byNotAfter());
  return plan(['issued'], issuedRange);
}

// ---- reading a page ----

/** What a backend gives the page reader: members of one index of the tenant, and the records of ids. */
export interface IndexSource<R> {
  /** Up to `n` members in [from, to), in order, each after `after` when given. */
  members(index: IndexName, from: string, to: string, after: string | undefined, n: number): Promise<string[]>;
  /** The records of these ids (undefined where there is none any more). */
  records(ids: readonly string[]): Promise<(R | undefined)[]>;
}

/**
 * Index entries one page reads at most when the plan's index does not apply every filter: a page
 * may then hold fewer than `limit` items and a `next`, but never reads the whole index.
 */
export const LIST_SCAN_BUDGET = 1000;
/** The largest page. */
export const LIST_MAX_LIMIT = 500;

/** One page of a tenant's stations (Store.findStations) from a backend's index source. */
export function findStationsIn(src: IndexSource<StationRecord>, tenant: string, filter: StationListFilter, page: ListPage): Promise<ListResult<StationRecord>> {
  return readPage(src, stationPlan(tenant, filter), page);
}

/** One page of a tenant's certificates (Store.findCertificates) from a backend's index source, with its order. */
export async function findCertificatesIn(src: IndexSource<CertificateRecord>, tenant: string, filter: CertificateListFilter, page: ListPage): Promise<CertificateListResult> {
  const plan = certificatePlan(tenant, filter);
  return { ...(await readPage(src, plan, page)), order: orderOf(plan.index) };
}

/** One page of a plan: index members from `after` (exclusive) on, their records, the ones accepted. */
export async function readPage<R>(src: IndexSource<R>, plan: ListPlan<R>, page: ListPage, budget = LIST_SCAN_BUDGET): Promise<ListResult<R>> {
  const limit = Math.min(Math.max(1, Math.floor(page.limit)), LIST_MAX_LIMIT);
  if (page.after !== undefined) assertPosition(page.after);
  let after = page.after !== undefined && page.after >= plan.from ? page.after : undefined;
  const items: R[] = [];
  let scanned = 0;
  for (;;) {
    // One more than the page still needs, to tell a full last page from one with more after it.
    const want = Math.min(limit - items.length + 1, budget - scanned + 1);
    const members = await src.members(plan.index, plan.from, plan.to, after, want);
    const records = await src.records(members.map(idOfMember));
    for (let i = 0; i < members.length; i++) {
      if (items.length === limit || scanned === budget) return { items, next: after! };
      scanned++;
      after = members[i]!;
      const r = records[i];
      if (r !== undefined && plan.accept(r, members[i]!)) items.push(r);
    }
    if (members.length < want) return { items };
  }
}

// ---- counting (the tenant summary) ----

/** A member range [from, to) of one index of a tenant, to be counted. */
export interface IndexRange {
  readonly index: IndexName;
  readonly from: string;
  readonly to: string;
}

/**
 * What a backend gives the summary: the number of members in each range, read together (one LMDB
 * snapshot, one Redis pipeline of ZLEXCOUNT), within one tenant's indexes only.
 */
export type IndexCounter = (ranges: readonly IndexRange[]) => Promise<number[]>;

/** Days of issuance the summary counts, today (UTC) included. */
export const SUMMARY_DAYS = 30;
/** The expiry horizons the summary counts, in days. */
export const SUMMARY_EXPIRING_DAYS = [30, 90] as const;
const DAY_MS = 86_400_000;

/** A tenant's numbers (GET /v1/summary), exact, counted on its list indexes at `now`. */
export interface TenantSummary {
  readonly stations: { readonly total: number; readonly allowed: number; readonly disallowed: number };
  /** By status as the lists give it (statusAt: revoked wins over expired). */
  readonly certificates: { readonly total: number; readonly good: number; readonly revoked: number; readonly expired: number };
  /** Certificates issued per UTC day, the oldest first, the last one today. */
  readonly issuedPerDay: readonly { readonly day: string; readonly count: number }[];
  /** Good certificates whose notAfter is within the horizon from now (as GET /v1/certificates/expiring?within=<n>d). */
  readonly expiring: readonly { readonly withinDays: number; readonly count: number }[];
}

/**
 * The summary of a tenant from range counts of its indexes (never a record read): statuses by
 * subtraction (revoked wins, so expired = notAfter passed minus those revoked, from the
 * revokednotafter index), issuance per day on the issued index, expiring ranges as the expiring
 * list reads them.
 */
export async function summaryIn(stations: IndexCounter, certificates: IndexCounter, now: number): Promise<TenantSummary> {
  const all = { from: '', to: AFTER_PREFIX };
  const nowKey = timeKey(now);
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const days = Array.from({ length: SUMMARY_DAYS }, (_, i) => today - (SUMMARY_DAYS - 1 - i) * DAY_MS);
  // The expiring list: notAfter in [now, now + span] (notAfterBefore now + span + 1, exclusive).
  const horizons = SUMMARY_EXPIRING_DAYS.map((d) => ({ from: nowKey, to: timeKey(now + d * DAY_MS + 1) }));
  const [s, c] = await Promise.all([
    stations([{ index: ['all'], ...all }, { index: ['allowed', '1'], ...all }, { index: ['allowed', '0'], ...all }]),
    certificates([
      { index: ['serial'], ...all },
      { index: ['revoked'], ...all },
      { index: ['notafter'], from: '', to: nowKey },
      { index: ['revokednotafter'], from: '', to: nowKey },
      ...horizons.flatMap((r) => [{ index: ['notafter'], ...r }, { index: ['revokednotafter'], ...r }]),
      ...days.map((d) => ({ index: ['issued'], from: timeKey(d), to: timeKey(d + DAY_MS) })),
    ]),
  ]);
  const [total, revoked, passed, revokedPassed] = c as [number, number, number, number];
  const expired = passed - revokedPassed;
  const perHorizon = c.slice(4, 4 + 2 * horizons.length);
  return {
    stations: { total: s[0]!, allowed: s[1]!, disallowed: s[2]! },
    certificates: { total, good: total - revoked - expired, revoked, expired },
    issuedPerDay: days.map((d, i) => ({ day: new Date(d).toISOString().slice(0, 10), count: c[4 + 2 * horizons.length + i]! })),
    expiring: SUMMARY_EXPIRING_DAYS.map((withinDays, i) => ({ withinDays, count: perHorizon[2 * i]! - perHorizon[2 * i + 1]! })),
  };
}
