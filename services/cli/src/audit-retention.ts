import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { AUDIT_GENESIS, AUDIT_LIMITS, AUDIT_PRUNED_EVENT, auditEntryHash, type AuditCheckpoint, type AuditEntry, type Store } from '@evpki/store';
import { CliError } from './cli-error.js';
import type { CommandContext, OptionValues } from './command.js';
import type { Progress } from './progress.js';
import { EXIT } from './exit-codes.js';
import { openPkiStore } from './open-pki-store.js';

/*
 * Retention of the audit log: `pki audit export` writes entries (with their hashes) to a JSON Lines
 * file, `pki audit prune` deletes them from the store once that file is checked against it, and
 * records the checkpoint (the last pruned entry's seq and hash) from which `pki audit verify` goes
 * on. An export file is verified on its own with `pki audit verify --export FILE`.
 */

/** The first place where `entries` (consecutive, as exported) are not one intact chain; undefined when they are. */
export function exportBreak(entries: readonly AuditEntry[]): string | undefined {
  let prev: AuditCheckpoint | undefined;
  for (const e of entries) {
    const { hash, ...body } = e;
    if (auditEntryHash(body) !== hash) return `entry ${e.seq} does not match its hash`;
    if (prev && e.seq !== prev.seq + 1) return `entry ${prev.seq} is followed by entry ${e.seq}`;
    if (prev && e.prevHash !== prev.hash) return `entry ${e.seq} does not link to entry ${prev.seq}`;
    if (!prev && e.seq === 1 && e.prevHash !== AUDIT_GENESIS.hash) return 'entry 1 does not start from the genesis hash';
    prev = { seq: e.seq, hash: e.hash };
  }
  return undefined;
}

/** The entries of export files, in the order given (several: consecutive exports). Exit 2 for a file that is not one. */
export function readExportFiles(files: readonly string[]): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new CliError(`cannot read the export file ${file}: ${(e as Error).message}`, EXIT.badInput);
    }
    text.split('\n').forEach((line, i) => {
      if (!line) return;
      let e: AuditEntry;
      try {
        e = JSON.parse(line) as AuditEntry;
      } catch {
        throw new CliError(`${file} line ${i + 1} is not JSON: not an export of \`pki audit export\``, EXIT.badInput);
      }
      if (typeof e !== 'object' || e === null || !Number.isSafeInteger(e.seq) || typeof e.hash !== 'string')
        throw new CliError(`${file} line ${i + 1} is not an audit entry (seq, hash, ...)`, EXIT.badInput);
      out.push(e);
    });
  }
  return out;
}

/** Every retained entry from after `from` while `keep` holds, in pages. */
async function* retained(store: Store, from: number, keep: (e: AuditEntry) => boolean): AsyncGenerator<AuditEntry> {
  for (let after = from; ; ) {
    const page = await store.listAudit({ afterSeq: after, limit: AUDIT_LIMITS.pageSize });
    for (const e of page) {
      if (!keep(e)) return;
      yield e;
    }
    if (page.length < AUDIT_LIMITS.pageSize) return;
    after = page[page.length - 1]!.seq;
  }
}

/** `--before SEQ` or `--before DATE` (ISO 8601): the entries it keeps out. */
function beforeOption(raw: unknown): { seq: number } | { at: string } {
  if (typeof raw !== 'string' || !raw) throw new CliError('--before SEQ or --before DATE (ISO 8601) is required', EXIT.badInput);
  if (/^\d+$/.test(raw)) {
    const seq = Number(raw);
    if (!Number.isSafeInteger(seq) || seq < 1) throw new CliError('--before must be a seq >= 1 or a date', EXIT.badInput);
    return { seq };
  }
  const t = Date.parse(raw);
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(t)) throw new CliError(`--before ${raw} is neither a seq nor an ISO 8601 date`, EXIT.badInput);
  return { at: new Date(t).toISOString() };
}

export const sha256File = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

export interface ExportSummary {
  readonly entries: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly lastHash: string;
}

/**
 * The one exporter (`pki audit export`, `pki audit retain`): the retained entries after
 * `checkpoint` while `keep` holds, checked to form an intact chain from it, written to `tmp`
 * (created 0600, fsynced) unless it is undefined (a dry run); undefined when there is no such
 * entry. The caller gives `tmp` its name, so that the file is there whole or not at all.
 */
export async function exportEntries(store: Store, checkpoint: AuditCheckpoint, keep: (e: AuditEntry) => boolean, tmp: string | undefined, progress: Progress): Promise<ExportSummary | undefined> {
  let fd: number | undefined;
  try {
    let prev = checkpoint;
    let count = 0;
    let first: number | undefined;
    for await (const e of retained(store, checkpoint.seq, keep)) {
      const broken = exportBreak([e]) ?? (e.seq !== prev.seq + 1 || e.prevHash !== prev.hash ? `entry ${e.seq} does not follow entry ${prev.seq}` : undefined);
      if (broken) throw new CliError(`the audit log is broken (${broken}): run pki audit verify; nothing exported`, EXIT.failure);
      if (tmp !== undefined) {
        fd ??= openSync(tmp, 'wx', 0o600);
        writeSync(fd, JSON.stringify(e) + '\n');
      }
      first ??= e.seq;
      prev = { seq: e.seq, hash: e.hash };
      if (++count % 1000 === 0) progress.update(count);
    }
    progress.finish();
    if (fd !== undefined) fsyncSync(fd);
    return first === undefined ? undefined : { entries: count, firstSeq: first, lastSeq: prev.seq, lastHash: prev.hash };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The prune of `pki audit prune` and `pki audit retain`: checks that `file` is an intact chain
 * holding every retained entry after `checkpoint` through entry `through`, each equal to the
 * store's; appends the audit.pruned entry (file name and SHA-256) and prunes. The new checkpoint,
 * or undefined when another prune moved the checkpoint meanwhile (the store's compare-and-set).
 */
export async function pruneExported(store: Store, checkpoint: AuditCheckpoint, through: number, file: string): Promise<AuditCheckpoint | undefined> {
  const exported = readExportFiles([file]);
  const broken = exportBreak(exported);
  if (broken) throw new CliError(`${file} is not an intact chain (${broken}); nothing pruned`, EXIT.failure);
  const bySeq = new Map(exported.map((e) => [e.seq, e]));
  if (!bySeq.has(checkpoint.seq + 1) || !bySeq.has(through))
    throw new CliError(`${file} does not hold entries ${checkpoint.seq + 1}..${through}: export them first (pki audit export --before ${through + 1} --out FILE); nothing pruned`, EXIT.badInput);
  let target: AuditEntry | undefined;
  for await (const e of retained(store, checkpoint.seq, (x) => x.seq <= through)) {
    if (bySeq.get(e.seq)?.hash !== e.hash) throw new CliError(`entry ${e.seq} in ${file} is not the store's: nothing pruned`, EXIT.failure);
    target = e;
  }
  if (target?.seq !== through) {
    if ((await store.auditCheckpoint()).seq >= through) return undefined;
    throw new CliError(`the store's log changed meanwhile (entry ${through} not found); run pki audit verify`, EXIT.tempFail);
  }
  const cp = { seq: target.seq, hash: target.hash };
  // Recorded before the deletion: the retained log names its checkpoint (verifyAuditChain).
  await store.appendAudit(
    [{ event: AUDIT_PRUNED_EVENT, actor: 'cli', outcome: 'ok', details: { throughSeq: cp.seq, throughHash: cp.hash, exportFile: basename(file).slice(0, 200), exportSha256: sha256File(file), entries: cp.seq - checkpoint.seq } }],
    new Date().toISOString(),
  );
  return (await store.pruneAudit(cp, checkpoint)) ? cp : undefined;
}

/** `pki audit export` (its options and help: audit-commands.ts). */
export async function auditExport(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const before = beforeOption(values.before);
  const out = values.out as string | undefined;
  if (!out) throw new CliError('--out FILE is required', EXIT.badInput);
  const store = openPkiStore(ctx.dataDir, ctx.env);
  const tmp = `${out}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const checkpoint = await store.auditCheckpoint();
    const keep = (e: AuditEntry): boolean => ('seq' in before ? e.seq < before.seq : e.at < before.at);
    const s = await exportEntries(store, checkpoint, keep, tmp, ctx.progress('entries exported'));
    if (!s) {
      ctx.out(ctx.json ? JSON.stringify({ file: null, entries: 0, checkpoint }) + '\n' : `nothing to export: no retained entry before ${'seq' in before ? `entry ${before.seq}` : before.at}\n`);
      return EXIT.ok;
    }
    renameSync(tmp, out);
    const result = { file: out, ...s, sha256: sha256File(out), prune: `pki audit prune --before ${s.lastSeq + 1} --export-file ${out}` };
    if (ctx.json) ctx.out(JSON.stringify(result) + '\n');
    else ctx.out(`exported ${s.entries.toLocaleString('en-US')} entries (${s.firstSeq}..${s.lastSeq}, last hash ${s.lastHash}) to ${out}\nto delete them from the store: ${result.prune}\n`);
    return EXIT.ok;
  } finally {
    rmSync(tmp, { force: true });
    await store.close();
  }
}

/** `pki audit prune` (its options and help: audit-commands.ts). */
export async function auditPrune(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const before = beforeOption(values.before);
  if (!('seq' in before)) throw new CliError('--before takes a seq here (pki audit export prints it)', EXIT.badInput);
  const file = values['export-file'] as string | undefined;
  if (!file) throw new CliError('--export-file FILE is required: only exported entries are pruned', EXIT.badInput);
  const through = before.seq - 1;
  const store = openPkiStore(ctx.dataDir, ctx.env);
  try {
    const checkpoint = await store.auditCheckpoint();
    const head = await store.auditHead();
    if (through <= checkpoint.seq) {
      ctx.out(ctx.json ? JSON.stringify({ pruned: 0, checkpoint }) + '\n' : `nothing to prune: entries up to ${checkpoint.seq} were pruned already\n`);
      return EXIT.ok;
    }
    if (through > head.seq) throw new CliError(`--before ${before.seq} is past the log's last entry ${head.seq}`, EXIT.badInput);
    const cp = await pruneExported(store, checkpoint, through, file);
    if (!cp) throw new CliError('the audit log was pruned past this point meanwhile; run pki audit verify', EXIT.tempFail);
    const result = { pruned: cp.seq - checkpoint.seq, firstSeq: checkpoint.seq + 1, checkpoint: cp };
    if (ctx.json) ctx.out(JSON.stringify(result) + '\n');
    else ctx.out(`pruned ${result.pruned.toLocaleString('en-US')} entries (${result.firstSeq}..${cp.seq}); checkpoint ${cp.seq} ${cp.hash}\n`);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
