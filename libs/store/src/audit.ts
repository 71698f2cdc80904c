import { createHash } from 'node:crypto';
import { AUDIT_LIMITS } from './audit-limits.js';
import { AuditEventError } from './errors.js';

/**
 * The audit log: append-only and hash-chained. Each entry's hash covers its own fields and the
 * previous entry's hash, so changing, removing or reordering any entry breaks the chain from there
 * on, and the head (the last seq and hash, stored apart) catches a truncated tail.
 */

/** What a caller records. Never a secret, token or private key: see validateAuditEvent. */
export interface AuditEvent {
  /** e.g. 'certificate.issued', 'certificate.rejected', 'certificate.revoked', 'rotation.root.prepare', 'auth.failed'. */
  readonly event: string;
  /** 'ra', 'ca', 'cli', or a token subject. */
  readonly actor: string;
  readonly outcome: AuditOutcome;
  /** Absent for PKI-wide events (rotation). */
  readonly tenant?: string;
  /** Requirement IDs of a rejection, e.g. ['A00.FR.511']. */
  readonly rules?: readonly string[];
  /** serial, stationId, issuerId, …: never secrets. */
  readonly details?: Readonly<Record<string, AuditDetailValue>>;
}

export type AuditOutcome = 'ok' | 'refused' | 'failed';
export type AuditDetailValue = string | number | boolean | null;

/** Events to append, and when they happened (ISO): what a write that also audits itself carries (recordIssuance). */
export interface AuditAppend {
  readonly events: readonly AuditEvent[];
  readonly at: string;
}

/** An event as stored: its place in the chain. */
export interface AuditEntry extends AuditEvent {
  /** 1, 2, … without gaps. */
  readonly seq: number;
  /** When it happened (ISO), as the caller said. */
  readonly at: string;
  /** The previous entry's hash; AUDIT_GENESIS_HASH for entry 1. */
  readonly prevHash: string;
  /** auditEntryHash of this entry: SHA-256, lowercase hex. */
  readonly hash: string;
}

export interface AuditQuery {
  /** Only this tenant's entries (through a per-tenant index). */
  readonly tenant?: string;
  /** Entries after this seq (default 0: from the start). */
  readonly afterSeq?: number;
  readonly limit: number;
}

/** The last entry's seq and hash; seq 0 and AUDIT_GENESIS_HASH for an empty log. */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

/**
 * What `pki audit prune` records when it deletes old entries (after exporting them): the last
 * deleted entry's seq and hash. The retained log continues from it: its first entry links to this
 * hash. AUDIT_GENESIS while nothing was pruned.
 */
export type AuditCheckpoint = AuditHead;

/** The event `pki audit prune` appends (before it deletes) naming the checkpoint; verifyAuditChain requires one for the store's checkpoint. */
export const AUDIT_PRUNED_EVENT = 'audit.pruned';

/** The prevHash of entry 1. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);
export const AUDIT_GENESIS: AuditHead = { seq: 0, hash: AUDIT_GENESIS_HASH };

export { AUDIT_LIMITS } from './audit-limits.js';

const OUTCOMES: ReadonlySet<string> = new Set<AuditOutcome>(['ok', 'refused', 'failed']);
const EVENT_NAME = /^[a-z][a-z0-9]*(?:[._-][a-z0-9]+)*$/;
const DETAIL_KEY = /^[A-Za-z][A-Za-z0-9_.-]*$/;
/** Detail keys that name a secret (compared lowercased, without '-', '_' and '.'). */
const SECRET_KEY = /token|password|passwd|passphrase|privatekey|secret|authorization|credential|cookie|apikey/;
/** Values that are secrets whatever their key: a PEM private key, a bearer header, a JWT. */
const SECRET_VALUE = /PRIVATE KEY-----|^\s*bearer\s+\S|\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/i;

function refuse(message: string): never {
  throw new AuditEventError(`audit event refused: ${message}`);
}

/** `optional`: may be absent; `empty`: may be ''. */
function checkText(what: string, v: unknown, max: number, o: { optional?: boolean; empty?: boolean } = {}): void {
  if (v === undefined && o.optional) return;
  if (typeof v !== 'string') refuse(`${what} must be a string`);
  if (v.length > max || (v.length === 0 && !o.empty)) refuse(`${what} must be ${o.empty ? 'at most ' : '1..'}${max} characters`);
  if (SECRET_VALUE.test(v)) refuse(`${what} looks like a secret (a private key, bearer token or JWT)`);
}

/**
 * Throws AuditEventError for an event the log refuses: a missing or oversized field, or anything
 * that names or looks like a secret (a detail key like token/password/passphrase/privateKey/
 * authorization, a PEM private key, a bearer header, a JWT). Both backends call it before writing.
 */
export function validateAuditEvent(e: AuditEvent): void {
  if (typeof e !== 'object' || e === null) refuse('not an object');
  checkText('event', e.event, AUDIT_LIMITS.eventChars);
  if (!EVENT_NAME.test(e.event)) refuse(`event "${e.event}" must be lowercase words joined by '.', '_' or '-'`);
  checkText('actor', e.actor, AUDIT_LIMITS.actorChars);
  if (!OUTCOMES.has(e.outcome)) refuse(`outcome must be ok, refused or failed`);
  checkText('tenant (left out for PKI-wide events)', e.tenant, AUDIT_LIMITS.tenantChars, { optional: true });
  if (e.rules !== undefined) {
    if (!Array.isArray(e.rules) || e.rules.length > AUDIT_LIMITS.rules) refuse(`rules must be an array of at most ${AUDIT_LIMITS.rules}`);
    for (const r of e.rules) checkText('a rule ID', r, AUDIT_LIMITS.ruleChars);
  }
  if (e.details !== undefined) {
    if (typeof e.details !== 'object' || e.details === null || Array.isArray(e.details)) refuse('details must be an object');
    const keys = Object.keys(e.details);
    if (keys.length > AUDIT_LIMITS.detailKeys) refuse(`details has ${keys.length} keys, at most ${AUDIT_LIMITS.detailKeys}`);
    for (const k of keys) {
      if (k.length > AUDIT_LIMITS.detailKeyChars || !DETAIL_KEY.test(k)) refuse(`details key "${k.slice(0, 80)}" is not a plain name of at most ${AUDIT_LIMITS.detailKeyChars} characters`);
      if (SECRET_KEY.test(k.toLowerCase().replace(/[-_.]/g, ''))) refuse(`details key "${k}" names a secret; secrets, tokens and keys never go into the audit log`);
      const v = e.details[k];
      if (v === null || typeof v === 'boolean') continue;
      if (typeof v === 'number') {
        if (!Number.isFinite(v)) refuse(`details.${k} must be a finite number`);
        continue;
      }
      checkText(`details.${k}`, v, AUDIT_LIMITS.detailValueChars, { empty: true });
    }
  }
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The hash of an entry: SHA-256 (hex) over a versioned canonical encoding of its seq, time,
 * previous hash and event fields (JSON, keys sorted; absent optional fields left out). The one
 * definition both the backends (when appending) and verifyAuditChain use.
 */
export function auditEntryHash(e: Omit<AuditEntry, 'hash'>): string {
  const fields = { v: 1, seq: e.seq, at: e.at, prevHash: e.prevHash, event: e.event, actor: e.actor, outcome: e.outcome, tenant: e.tenant, rules: e.rules, details: e.details };
  return createHash('sha256').update(canonicalJson(fields)).digest('hex');
}

/**
 * Throws AuditEventError when any event of an append is refused (or there are more than
 * `maxEvents`), so that nothing is written. The backends call it before they take the head.
 */
export function validateAuditAppend(events: readonly AuditEvent[], at: string, maxEvents: number = AUDIT_LIMITS.eventsPerAppend): void {
  const isArray: (v: unknown) => boolean = Array.isArray;
  if (!isArray(events)) refuse('events must be an array');
  checkText('at', at, AUDIT_LIMITS.atChars);
  if (events.length > maxEvents) refuse(`at most ${maxEvents} events per append`);
  for (const e of events) validateAuditEvent(e);
}

/**
 * Chains already validated events after `head`: consecutive seqs, each linked to the one before.
 * The entries hold only the event's own fields, copied (later changes by the caller cannot reach
 * them).
 */
export function linkAuditEntries(head: AuditHead, events: readonly AuditEvent[], at: string): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev = head;
  for (const e of events) {
    const body: Omit<AuditEntry, 'hash'> = {
      seq: prev.seq + 1,
      at,
      prevHash: prev.hash,
      event: e.event,
      actor: e.actor,
      outcome: e.outcome,
      ...(e.tenant !== undefined ? { tenant: e.tenant } : {}),
      ...(e.rules !== undefined ? { rules: [...e.rules] } : {}),
      ...(e.details !== undefined ? { details: { ...e.details } } : {}),
    };
    const entry: AuditEntry = { ...body, hash: auditEntryHash(body) };
    out.push(entry);
    prev = entry;
  }
  return out;
}

/** validateAuditAppend, then linkAuditEntries. */
export function chainAuditEntries(head: AuditHead, events: readonly AuditEvent[], at: string): AuditEntry[] {
  validateAuditAppend(events, at);
  return linkAuditEntries(head, events, at);
}

/** A listAudit query checked: afterSeq an integer ≥ 0, limit 1..AUDIT_LIMITS.pageSize. Throws RangeError. */
export function auditPage(q: AuditQuery): { afterSeq: number; limit: number } {
  const afterSeq = q.afterSeq ?? 0;
  if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) throw new RangeError('afterSeq must be an integer >= 0');
  if (!Number.isSafeInteger(q.limit) || q.limit < 1 || q.limit > AUDIT_LIMITS.pageSize) throw new RangeError(`limit must be 1..${AUDIT_LIMITS.pageSize}`);
  return { afterSeq, limit: q.limit };
}

/** What can be wrong with the log, at the first entry where it goes wrong. */
export type AuditBreakKind =
  /** The entry's content does not match its hash, or the next entry does not link to it (changed and re-hashed). */
  | 'changed'
  /** An entry is missing: the next one present has a higher seq. */
  | 'removed'
  /** The entry is there, but not in its place. */
  | 'reordered'
  /** An entry with a seq already verified appears again. */
  | 'duplicate'
  /** The last entry is not the head the store keeps (a truncated tail, or a tail added or changed past the head). */
  | 'head-mismatch'
  /** The store's checkpoint (entries pruned up to it) is not named by an `audit.pruned` entry: entries were removed outside `pki audit prune`. */
  | 'checkpoint';

export interface AuditBreak {
  /** The first entry (seq) that is wrong or missing. */
  readonly seq: number;
  readonly kind: AuditBreakKind;
  readonly message: string;
}

export interface AuditVerification {
  readonly ok: boolean;
  /** Entries verified intact (before the break, if any). */
  readonly verified: number;
  readonly head: AuditHead;
  /** Where the retained log starts from: entries up to it were pruned (AUDIT_GENESIS: none). */
  readonly checkpoint: AuditCheckpoint;
  readonly break?: AuditBreak;
}

/** The part of the store the verifier reads. */
export interface AuditReader {
  listAudit(q: AuditQuery): Promise<AuditEntry[]>;
  auditHead(): Promise<AuditHead>;
  auditCheckpoint(): Promise<AuditCheckpoint>;
}

export interface VerifyAuditOptions {
  /** Entries read per page (default 1000). */
  readonly pageSize?: number;
  /** Called after each page with the number of entries verified so far. */
  readonly onProgress?: (p: { verified: number; headSeq: number }) => void;
}

/**
 * Walks the whole retained log in pages and checks it: every hash recomputed, every prevHash linked
 * to the entry before (the checkpoint's hash for the first retained entry: the genesis hash for
 * entry 1 when nothing was pruned), seqs consecutive, the last entry equal to the head, and a
 * checkpoint named by an `audit.pruned` entry. Stops at the first break and says which entry and why.
 */
export async function verifyAuditChain(store: AuditReader, opts: VerifyAuditOptions = {}): Promise<AuditVerification> {
  const pageSize = Math.max(1, Math.min(opts.pageSize ?? AUDIT_LIMITS.pageSize, AUDIT_LIMITS.pageSize));
  const checkpoint = await store.auditCheckpoint();
  let head = await store.auditHead();
  let prev: AuditHead = checkpoint;
  let verified = 0;
  let checkpointRecorded = checkpoint.seq === 0;
  const broken = (b: AuditBreak): AuditVerification => ({ ok: false, verified, head, checkpoint, break: b });

  for (;;) {
    const page = await store.listAudit({ afterSeq: prev.seq, limit: pageSize });
    for (const e of page) {
      const expected = prev.seq + 1;
      const { hash, ...body } = e;
      if (auditEntryHash(body) !== hash) {
        const claims = e.seq === expected ? '' : ` (it claims seq ${e.seq})`;
        return broken({ seq: expected, kind: 'changed', message: `entry ${expected}${claims} does not match its hash: its content was changed` });
      }
      if (e.seq > expected) {
        // Entry `expected` is either further on (out of place) or gone.
        const ahead = await store.listAudit({ afterSeq: expected - 1, limit: AUDIT_LIMITS.pageSize });
        if (ahead.some((a) => a.seq === expected))
          return broken({ seq: expected, kind: 'reordered', message: `entry ${expected} is out of place: entry ${e.seq} comes before it` });
        const gap = e.seq - expected === 1 ? `entry ${expected} is` : `entries ${expected}..${e.seq - 1} are`;
        return broken({ seq: expected, kind: 'removed', message: `${gap} missing: ${prev.seq ? `entry ${prev.seq}` : 'the start of the log'} is followed by entry ${e.seq}` });
      }
      if (e.seq < expected) return broken({ seq: expected, kind: 'duplicate', message: `a second entry ${e.seq} appears where entry ${expected} belongs` });
      if (e.prevHash !== prev.hash) {
        if (prev.seq === 0) return broken({ seq: 1, kind: 'changed', message: 'entry 1 does not start from the genesis hash' });
        return broken({ seq: prev.seq, kind: 'changed', message: `entry ${e.seq} does not link to entry ${prev.seq}: entry ${prev.seq} was changed (and re-hashed) or replaced` });
      }
      prev = { seq: e.seq, hash: e.hash };
      verified++;
      if (e.event === AUDIT_PRUNED_EVENT && e.details?.throughSeq === checkpoint.seq && e.details.throughHash === checkpoint.hash) checkpointRecorded = true;
    }
    opts.onProgress?.({ verified, headSeq: Math.max(head.seq, prev.seq) });
    if (page.length === pageSize) continue;
    // The end of the log: it must be the head. Entries and head are written together, so a head
    // that moved on meanwhile means appends since; walk on to it.
    head = await store.auditHead();
    if (head.seq > prev.seq) {
      const more = await store.listAudit({ afterSeq: prev.seq, limit: 1 });
      if (more.length) continue;
      const gap = head.seq - prev.seq === 1 ? `entry ${head.seq} is` : `entries ${prev.seq + 1}..${head.seq} are`;
      return broken({ seq: prev.seq + 1, kind: 'head-mismatch', message: `the head is entry ${head.seq}, but the log ends at entry ${prev.seq}: ${gap} missing (a truncated tail)` });
    }
    if (head.seq < prev.seq)
      return broken({ seq: head.seq + 1, kind: 'head-mismatch', message: `the log goes on to entry ${prev.seq} past its head, entry ${head.seq}: entries were added outside the store's append` });
    if (prev.hash !== head.hash)
      return broken({
        seq: head.seq,
        kind: 'head-mismatch',
        message: `entry ${head.seq} is not the head the store keeps (hash ${prev.hash.slice(0, 16)}…, head ${head.hash.slice(0, 16)}…): it was replaced and re-hashed, or the head was changed`,
      });
    if (!checkpointRecorded)
      return broken({
        seq: checkpoint.seq,
        kind: 'checkpoint',
        message: `the log starts after entry ${checkpoint.seq} (the store's checkpoint), but no ${AUDIT_PRUNED_EVENT} entry names it: entries were removed outside \`pki audit prune\``,
      });
    return { ok: true, verified, head, checkpoint };
  }
}

/**
 * `pki audit prune` in the store: deletes every entry up to `through.seq` (with its tenant index
 * rows) and records `through` as the checkpoint, in chunks of `chunk` entries, each an atomic
 * compare-and-set of the checkpoint (`pruneChunk`), so that a large prune never holds the store
 * for long; a chunk that lost to another prune goes on from where that one got. False, deleting
 * nothing, when the entry at through.seq is not there with that hash (or the log was pruned past
 * it); true when `through` is the checkpoint (already, or now).
 * With `from` (the checkpoint the caller read): false as soon as the checkpoint is not, or is no
 * longer, where this prune left it, so that of two prunes from the same checkpoint (two
 * `pki audit retain` at once) exactly one is true.
 */
export async function pruneAuditInChunks(
  store: { listAudit(q: AuditQuery): Promise<AuditEntry[]>; auditCheckpoint(): Promise<AuditCheckpoint> },
  through: AuditCheckpoint,
  pruneChunk: (from: AuditCheckpoint, entries: readonly AuditEntry[], to: AuditCheckpoint) => Promise<boolean>,
  chunk: number = AUDIT_LIMITS.pageSize,
  from?: AuditCheckpoint,
): Promise<boolean> {
  let at = await store.auditCheckpoint();
  if (from && (at.seq !== from.seq || at.hash !== from.hash)) return false;
  if (through.seq <= at.seq) return through.seq === at.seq && through.hash === at.hash;
  const same = (a: AuditCheckpoint, b: AuditCheckpoint): boolean => a.seq === b.seq && a.hash === b.hash;
  const [target] = await store.listAudit({ afterSeq: through.seq - 1, limit: 1 });
  // Gone: not an entry of this log, or another instance pruned through it meanwhile (done, once).
  if (target?.seq !== through.seq || target.hash !== through.hash) return !from && same(await store.auditCheckpoint(), through);
  while (at.seq < through.seq) {
    const entries = (await store.listAudit({ afterSeq: at.seq, limit: chunk })).filter((e) => e.seq <= through.seq);
    const last = entries[entries.length - 1];
    if (!last) {
      // Another instance pruned these entries after we read the checkpoint: go on from where it got.
      const moved = await store.auditCheckpoint();
      if (from || same(moved, at)) return false;
      at = moved;
      continue;
    }
    const to = { seq: last.seq, hash: last.hash };
    if (await pruneChunk(at, entries, to)) at = to;
    else if (from) return false;
    else at = await store.auditCheckpoint();
  }
  return same(at, through);
}
