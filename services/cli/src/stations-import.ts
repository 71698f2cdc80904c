import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { Rule, STATION_FIELDS, checkStationRegistration, seccIdKey, seccIdViolations } from '@evpki/policy';
import { seccIdConflictMessage, type SeccIdConflict, type StationRecord, type Store } from '@evpki/store';
import { CliError } from './cli-error.js';
import type { CommandContext, OptionValues } from './command.js';
import { IMPORT_LIMITS } from './stations-import-command.js';
import { csvLine, csvRecords, type CsvRecord } from './csv.js';
import { EXIT } from './exit-codes.js';
import { openPkiStore } from './open-pki-store.js';
import { TENANT_ID } from './token.js';

/**
 * `pki stations import`: registers one tenant's charge stations in bulk from CSV, each row checked
 * with the rules the RA applies to `PUT /v1/stations/{stationId}` (@evpki/policy
 * checkStationRegistration) and the file's own (columns, quoting, duplicates). Good rows are
 * written in batches (Store.putStations); refused rows are listed in the report, never half-written.
 */

// In the command table (pki stations import --help prints them without loading this module).
export { IMPORT_LIMITS } from './stations-import-command.js';

/** The file's own rules; the station rules cite the RA's (openapi:…, A00.FR.511). */
export const CSV_RULE = {
  columns: 'csv:columns',
  quoting: 'csv:quoting',
  fieldLength: 'csv:field-length',
  allowed: 'csv:allowed',
  duplicate: 'csv:duplicate',
} as const;

export const IMPORT_COLUMNS = ['stationId', 'serialNumber', 'model', 'allowed', 'seccIds'] as const;
type Column = (typeof IMPORT_COLUMNS)[number];

const ALLOWED_VALUES: Readonly<Record<string, boolean>> = { true: true, false: false, '1': true, '0': false, yes: true, no: false, '': true };

export interface RefusedRow {
  readonly line: number;
  readonly stationId: string;
  readonly rule: string;
  readonly message: string;
}

export interface ImportCounts {
  readonly tenant: string;
  readonly dryRun: boolean;
  readonly replace: boolean;
  /** Data rows read (the header and empty lines not counted). */
  readonly rows: number;
  readonly created: number;
  readonly replaced: number;
  /** Rows whose station exists already and was left as it is (identical, or different without --replace). */
  readonly unchanged: number;
  /** Of the unchanged: different from the file (--replace would update them). */
  readonly differing: number;
  /** Rows refused (each is in the report once per rule it broke). */
  readonly refused: number;
  /** Refused rows by rule. */
  readonly byRule: Readonly<Record<string, number>>;
}

export interface ImportOptions {
  readonly store: Store;
  readonly tenant: string;
  /** The file's text (a leading BOM is skipped). */
  readonly text: string;
  readonly dryRun: boolean;
  readonly replace: boolean;
  readonly now: Date;
  readonly onRefused?: (row: RefusedRow) => void;
  /** Rows handled so far, of `total`. */
  readonly onProgress?: (done: number, total: number) => void;
  readonly limits?: Partial<Record<keyof typeof IMPORT_LIMITS, number>>;
}

interface Row {
  readonly line: number;
  readonly stationId: string;
  readonly serialNumber: string;
  readonly model?: string;
  readonly allowed: boolean;
  /** ISO 15118 SECC-IDs (the seccIds column, space-separated); undefined without the column: the stored ones are kept. */
  readonly seccIds?: readonly string[];
}

const bad = (message: string): CliError => new CliError(message, EXIT.badInput);

/** Which field holds which column; throws (exit 2) for a header that is not ours. */
function readHeader(header: CsvRecord | undefined): Partial<Record<Column, number>> & { stationId: number; serialNumber: number; width: number } {
  const expected = IMPORT_COLUMNS.join(',');
  if (!header) throw bad(`the file is empty; its first line must be the header ${expected}`);
  if (header.error) throw bad(`line 1 (the header): ${header.error}`);
  const at: Partial<Record<Column, number>> = {};
  header.fields.forEach((raw, i) => {
    const name = IMPORT_COLUMNS.find((c) => c.toLowerCase() === raw.trim().toLowerCase());
    if (!name) throw bad(`line 1 (the header): unknown column "${raw.slice(0, 40)}"; expected ${expected} (model, allowed and seccIds may be left out)`);
    if (at[name] !== undefined) throw bad(`line 1 (the header): column ${name} appears twice`);
    at[name] = i;
  });
  if (at.stationId === undefined || at.serialNumber === undefined) throw bad(`line 1 (the header): stationId and serialNumber are required columns; expected ${expected}`);
  return { ...at, stationId: at.stationId, serialNumber: at.serialNumber, width: header.fields.length };
}

const sameIds = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean => (a ?? []).join(' ') === (b ?? []).join(' ');
const sameStation = (s: StationRecord, r: Row): boolean =>
  s.serialNumber === r.serialNumber && s.model === r.model && s.allowed === r.allowed && (r.seccIds === undefined || sameIds(s.seccIds, r.seccIds));

/** Validates every row, writes the good ones (unless dryRun) and counts. Throws CliError (exit 2) when the file or tenant is unusable. */
export async function importStations(o: ImportOptions): Promise<ImportCounts> {
  const limits = { ...IMPORT_LIMITS, ...o.limits };
  const text = o.text.charCodeAt(0) === 0xfeff ? o.text.slice(1) : o.text;

  // First pass: the header and the row count, before anything is written.
  const first = csvRecords(text);
  const columns = readHeader(first.next().value as CsvRecord | undefined);
  let total = 0;
  for (const _ of first) if (++total > limits.maxRows) throw bad(`the file has more than ${limits.maxRows.toLocaleString('en-US')} rows; split it`);

  const tenant = await o.store.getTenant(o.tenant);
  if (!tenant) throw bad(`tenant "${o.tenant}" does not exist`);
  if (tenant.disabled) throw bad(`tenant "${o.tenant}" is disabled`);

  const at = new Date(o.now).toISOString();
  const byRule: Record<string, number> = {};
  const counts = { rows: 0, created: 0, replaced: 0, unchanged: 0, differing: 0, refused: 0 };
  /** stationId → the line it was accepted from. */
  const seen = new Map<string, number>();
  let batch: Row[] = [];

  const refuse = (line: number, stationId: string, violations: readonly { rule: string; message: string }[]): void => {
    counts.refused++;
    for (const v of violations) {
      byRule[v.rule] = (byRule[v.rule] ?? 0) + 1;
      o.onRefused?.({ line, stationId, rule: v.rule, message: v.message });
    }
  };

  /** --dry-run: the SECC-IDs (seccIdKey) of the stations the rows so far would write, by station id, and their station by SECC-ID. */
  const dryRunSecc = new Map<string, readonly string[]>();
  const dryRunOwner = new Map<string, string>();
  /**
   * --dry-run: what putStations would refuse (PnC-4.3.secc-id-unique): a SECC-ID of the station that
   * a station an earlier row would write lists, or a stored station no row rewrites. Else the
   * station counts as written.
   */
  const dryRunSeccConflict = async (w: StationRecord, replaces: boolean): Promise<SeccIdConflict | undefined> => {
    for (const id of w.seccIds ?? []) {
      const key = seccIdKey(id);
      const owner = dryRunOwner.get(key);
      if (owner !== undefined && owner !== w.stationId) return { seccId: id, otherStationId: owner };
      const stored = await o.store.findStationBySeccId(o.tenant, id);
      if (stored && stored.stationId !== w.stationId && !dryRunSecc.has(stored.stationId)) return { seccId: id, otherStationId: stored.stationId };
    }
    for (const key of dryRunSecc.get(w.stationId) ?? []) dryRunOwner.delete(key);
    const keys = (w.seccIds ?? []).map(seccIdKey);
    // Only what can matter later (a station without SECC-IDs that replaces none holds nothing).
    if (keys.length || replaces) dryRunSecc.set(w.stationId, keys);
    for (const key of keys) dryRunOwner.set(key, w.stationId);
    return undefined;
  };

  const flush = async (): Promise<void> => {
    if (!batch.length) return;
    const rows = batch;
    batch = [];
    const existing = await Promise.all(rows.map((r) => o.store.getStation(o.tenant, r.stationId)));
    const writes: StationRecord[] = [];
    /** The row of each write, and which of them replace a station. */
    const written: Row[] = [];
    const replacing = new Set<number>();
    let wouldReplace = 0;
    rows.forEach((r, i) => {
      const e = existing[i];
      if (e && sameStation(e, r)) return void counts.unchanged++;
      if (e && !o.replace) {
        counts.unchanged++;
        counts.differing++;
        return;
      }
      if (e) {
        wouldReplace++;
        replacing.add(writes.length);
      }
      const seccIds = r.seccIds ?? e?.seccIds ?? [];
      written.push(r);
      writes.push({
        tenant: o.tenant,
        stationId: r.stationId,
        serialNumber: r.serialNumber,
        ...(r.model === undefined ? {} : { model: r.model }),
        allowed: r.allowed,
        ...(seccIds.length ? { seccIds: [...seccIds] } : {}),
        createdAt: e?.createdAt ?? at,
        updatedAt: at,
      });
    });
    if (o.dryRun) {
      let refused = 0;
      for (const [i, w] of writes.entries()) {
        const taken = await dryRunSeccConflict(w, replacing.has(i));
        if (!taken) continue;
        refused++;
        if (replacing.has(i)) wouldReplace--;
        refuse(written[i]!.line, w.stationId, [{ rule: Rule.uniqueSeccId, message: seccIdConflictMessage(w.stationId, taken) }]);
      }
      counts.replaced += wouldReplace;
      counts.created += writes.length - wouldReplace - refused;
      return;
    }
    (await o.store.putStations(writes, { replace: o.replace })).forEach((outcome, i) => {
      if (outcome === 'created') counts.created++;
      else if (outcome === 'replaced') counts.replaced++;
      else if (outcome === 'kept') counts.unchanged++; // created by someone else since it was read
      // PnC-4.3.secc-id-unique: another station of the tenant (stored, or on an earlier line) lists one of its SECC-IDs; not written.
      else refuse(written[i]!.line, written[i]!.stationId, [{ rule: Rule.uniqueSeccId, message: seccIdConflictMessage(written[i]!.stationId, outcome.refused) }]);
    });
  };

  const records = csvRecords(text);
  records.next(); // the header
  for (const rec of records) {
    counts.rows++;
    const row = checkRow(rec, columns, limits.maxField);
    if ('violations' in row) refuse(rec.line, row.stationId, row.violations);
    else {
      const earlier = seen.get(row.stationId);
      if (earlier !== undefined) refuse(rec.line, row.stationId, [{ rule: CSV_RULE.duplicate, message: `stationId "${row.stationId}" is already on line ${earlier} (only the first is imported)` }]);
      else {
        seen.set(row.stationId, rec.line);
        batch.push(row);
        if (batch.length >= limits.batch) await flush();
      }
    }
    o.onProgress?.(counts.rows, total);
  }
  await flush();
  o.onProgress?.(counts.rows, total);
  return { tenant: o.tenant, dryRun: o.dryRun, replace: o.replace, ...counts, byRule };
}

/** One data row: the station it registers, or what is wrong with it. */
function checkRow(
  rec: CsvRecord,
  columns: ReturnType<typeof readHeader>,
  maxField: number,
): Row | { stationId: string; violations: { rule: string; message: string }[] } {
  const f = rec.fields;
  const stationId = (f[columns.stationId] ?? '').slice(0, STATION_FIELDS.stationId.maxLength * 2);
  if (rec.error) return { stationId, violations: [{ rule: CSV_RULE.quoting, message: rec.error }] };
  if (f.length !== columns.width) return { stationId, violations: [{ rule: CSV_RULE.columns, message: `${f.length} field(s); the header has ${columns.width}` }] };
  const long = f.findIndex((v) => v.length > maxField);
  if (long >= 0) {
    const name = IMPORT_COLUMNS.find((c) => columns[c] === long) ?? `field ${long + 1}`;
    return { stationId, violations: [{ rule: CSV_RULE.fieldLength, message: `${name} is ${f[long]!.length} characters; a field holds at most ${maxField}` }] };
  }
  const serialNumber = f[columns.serialNumber]!;
  const model = columns.model === undefined || f[columns.model] === '' ? undefined : f[columns.model]!;
  const allowedText = columns.allowed === undefined ? '' : f[columns.allowed]!;
  const violations: { rule: string; message: string }[] = checkStationRegistration({ stationId: f[columns.stationId]!, serialNumber, ...(model === undefined ? {} : { model }) });
  const allowed = ALLOWED_VALUES[allowedText.trim().toLowerCase()];
  if (allowed === undefined) violations.push({ rule: CSV_RULE.allowed, message: `allowed "${allowedText.slice(0, 20)}" must be true/false, 1/0 or yes/no (empty: true)` });
  const seccIds = columns.seccIds === undefined ? undefined : f[columns.seccIds]!.split(' ').filter(Boolean);
  if (seccIds) violations.push(...seccIdViolations(seccIds));
  if (violations.length) return { stationId, violations };
  return { line: rec.line, stationId, serialNumber, ...(model === undefined ? {} : { model }), allowed: allowed!, ...(seccIds ? { seccIds } : {}) };
}

// ---------------------------------------------------------------------------------------------
// The command

/** The report file: CSV line,stationId,rule,message, written as rows are refused (buffered). */
class ReportWriter {
  private readonly fd: number;
  private pending = '';
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w', 0o644);
    } catch (e) {
      throw bad(`cannot write the report ${path}: ${(e as Error).message}`);
    }
    this.write(['line', 'stationId', 'rule', 'message']);
  }
  write(fields: readonly (string | number)[]): void {
    this.pending += csvLine(fields);
    if (this.pending.length > 64 * 1024) this.flush();
  }
  private flush(): void {
    if (this.pending) writeSync(this.fd, this.pending);
    this.pending = '';
  }
  close(): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
  }
}

/** The file's text: refused (exit 2) when missing, too big or not UTF-8. */
function readImportFile(file: string): string {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw bad(`${file} is not a file`);
    size = st.size;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw bad(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (size > IMPORT_LIMITS.maxBytes) throw bad(`${file} is ${(size / 2 ** 20).toFixed(1)} MiB; at most ${IMPORT_LIMITS.maxBytes / 2 ** 20} MiB (split it)`);
  try {
    // fatal: a file in another encoding is refused rather than imported garbled; the BOM is skipped.
    return new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(file));
  } catch (e) {
    if (e instanceof TypeError) throw bad(`${file} is not UTF-8 text (save it as "CSV UTF-8")`);
    throw bad(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

const fmt = (n: number): string => n.toLocaleString('en-US');
const SHOWN_REFUSALS = 10;

/** `pki stations import` (its options and help: stations-import-command.ts). */
export async function stationsImport(values: OptionValues, positionals: string[], ctx: CommandContext): Promise<number> {
  const file = positionals[0]!;
  const tenant = values.tenant as string | undefined;
  if (!tenant) throw bad('--tenant is required');
  if (!TENANT_ID.test(tenant)) throw bad(`--tenant "${tenant}" is not a tenant id`);
  const text = readImportFile(file);
  const store = openPkiStore(ctx.dataDir, ctx.env);
  let report: ReportWriter | undefined;
  let shown = 0;
  try {
    // Opened before anything is written: an unwritable report path changes nothing.
    if (typeof values.report === 'string') report = new ReportWriter(values.report);
    let progress: ReturnType<typeof ctx.progress> | undefined;
    const counts = await importStations({
      store,
      tenant,
      text,
      dryRun: values['dry-run'] === true,
      replace: values.replace === true,
      now: new Date(),
      onRefused: (r) => {
        report?.write([r.line, r.stationId, r.rule, r.message]);
        if (!report && !ctx.json && shown++ < SHOWN_REFUSALS) ctx.err(`pki: line ${r.line}: ${r.rule}: ${r.message}\n`);
      },
      onProgress: (done, total) => (progress ??= ctx.progress('rows', total)).update(done),
    });
    progress?.finish();
    const result = { ...counts, file, ...(report ? { report: report.path } : {}) };
    if (ctx.json) ctx.out(JSON.stringify(result) + '\n');
    else {
      const lines = [
        `${tenant}: ${fmt(counts.rows)} rows read: ${fmt(counts.created)} created, ${fmt(counts.replaced)} replaced, ${fmt(counts.unchanged)} unchanged, ${fmt(counts.refused)} refused${counts.dryRun ? ' (dry run: nothing written)' : ''}`,
      ];
      if (counts.differing) lines.push(`${fmt(counts.differing)} of the unchanged differ from the file (--replace updates them)`);
      const rules = Object.entries(counts.byRule).sort(([a], [b]) => a.localeCompare(b));
      if (rules.length) lines.push(`refused by rule: ${rules.map(([rule, n]) => `${rule} ${fmt(n)}`).join(', ')}`);
      if (report) lines.push(`refused rows: ${report.path}`);
      else if (counts.refused > SHOWN_REFUSALS) lines.push(`(the first ${SHOWN_REFUSALS} refusals are on stderr; --report FILE lists every one)`);
      ctx.out(lines.join('\n') + '\n');
    }
    return counts.refused ? EXIT.partial : EXIT.ok;
  } finally {
    report?.close();
    await store.close();
  }
}
