import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditCheckpoint, AuditEntry } from '@evpki/store';
import { exportBreak, exportEntries, pruneExported, readExportFiles, sha256File } from './audit-retention.js';
import { parseDuration } from './duration.js';
import { CliError } from './cli-error.js';
import type { CommandContext, OptionValues } from './command.js';
import { EXIT } from './exit-codes.js';
import { openPkiStore } from './open-pki-store.js';

/*
 * `pki audit retain`: the retention setting of the audit log, run unattended (the CronJob
 * k8s/cronjob-audit-retain.yaml). Export then prune, with the one exporter and the one prune of
 * audit-retention.ts, into files named by their range, so that a re-run, a crash between export and
 * prune, or two runs at once find and reuse what is there.
 */

/** `90d`, `12h`, `2w` in milliseconds; exit 2 for anything else, or under a day (a typo, not a policy), or over 100 years. */
export const parseRetention = (raw: string): number => parseDuration(raw, '--keep', { minHours: 24, maxHours: 100 * 365 * 24, minText: '1 day (24h)', maxText: '100 years' }, '400d');

/** The name of the export of entries first..last in the export directory. */
const exportName = (first: number, last: number): string => `audit-${first}-${last}.jsonl`;

/**
 * A file an earlier run left between export and prune: audit-<first>-<N>.jsonl with the longest
 * range not past `last`. Its content is checked by pruneExported.
 */
function leftover(dir: string, first: number, last: number): { file: string; through: number } | undefined {
  const re = new RegExp(`^audit-${first}-(\\d+)\\.jsonl$`);
  let best: { file: string; through: number } | undefined;
  for (const name of readdirSync(dir)) {
    const through = Number(re.exec(name)?.[1] ?? NaN);
    if (through >= first && through <= last && through > (best?.through ?? 0)) best = { file: join(dir, name), through };
  }
  return best;
}

const sameEntries = (a: readonly AuditEntry[], b: readonly AuditEntry[]): boolean => a.length === b.length && a.every((e, i) => e.seq === b[i]!.seq && e.hash === b[i]!.hash);

/**
 * Gives the finished `tmp` its name without ever replacing a file (a hard link fails on an existing
 * name). An existing file is reused when it holds the same entries (a re-run, or a concurrent
 * run); another one is left alone and the run stops (exit 1).
 */
function place(tmp: string, file: string, dir: string): boolean {
  try {
    linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    let held: AuditEntry[] | undefined;
    try {
      held = readExportFiles([file]);
    } catch {
      held = undefined;
    }
    if (!held || exportBreak(held) || !sameEntries(held, readExportFiles([tmp])))
      throw new CliError(`${file} exists and does not hold the entries it names: it is left as it is; move it away and run again`, EXIT.failure);
    return false;
  }
  const d = openSync(dir, 'r');
  try {
    fsyncSync(d);
  } finally {
    closeSync(d);
  }
  return true;
}

interface Retained {
  readonly file: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly entries: number;
  readonly sha256?: string;
  /** The file was there already (an earlier or a concurrent run). */
  readonly reused: boolean;
  /** Entries this run pruned (0: another run pruned them meanwhile; absent: dry run). */
  readonly pruned?: number;
}

/** `pki audit retain` (its options and help: audit-commands.ts). */
export async function auditRetain(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const keep = (values.keep as string | undefined) ?? ctx.env.PKI_AUDIT_RETENTION;
  if (keep === undefined) throw new CliError('--keep DURATION (or PKI_AUDIT_RETENTION) is required, e.g. --keep 400d', EXIT.badInput);
  const cutoff = new Date(Date.now() - parseRetention(keep)).toISOString();
  const dir = values['export-dir'] as string | undefined;
  if (!dir) throw new CliError('--export-dir DIR is required: only exported entries are pruned', EXIT.badInput);
  const dryRun = values['dry-run'] === true;
  const store = openPkiStore(ctx.dataDir, ctx.env);
  const tmp = join(dir, `.audit-retain-${randomBytes(6).toString('hex')}.tmp`);
  const files: Retained[] = [];
  try {
    if (!dryRun) mkdirSync(dir, { recursive: true, mode: 0o700 });
    let checkpoint = await store.auditCheckpoint();
    // One round per file: normally one; two after an interrupted run (its file, then the rest).
    for (;;) {
      const s = await exportEntries(store, checkpoint, (e) => e.at < cutoff, dryRun ? undefined : tmp, ctx.progress('entries exported'));
      if (!s) break;
      const named = join(dir, exportName(s.firstSeq, s.lastSeq));
      if (dryRun) {
        files.push({ file: named, firstSeq: s.firstSeq, lastSeq: s.lastSeq, entries: s.entries, reused: existsSync(named) });
        break;
      }
      const earlier = leftover(dir, s.firstSeq, s.lastSeq - 1);
      const target = earlier ?? { file: named, through: s.lastSeq };
      const reused = earlier !== undefined || !place(tmp, named, dir);
      rmSync(tmp, { force: true });
      const cp: AuditCheckpoint | undefined = await pruneExported(store, checkpoint, target.through, target.file);
      const now = await store.auditCheckpoint();
      // Lost to a concurrent prune (compare-and-set): it pruned these entries; go on from its checkpoint.
      if (!cp && now.seq <= checkpoint.seq) throw new CliError('the audit log could not be pruned and its checkpoint did not move: run pki audit verify, then run again', EXIT.tempFail);
      files.push({ file: target.file, firstSeq: s.firstSeq, lastSeq: target.through, entries: target.through - checkpoint.seq, sha256: sha256File(target.file), reused, pruned: cp ? cp.seq - checkpoint.seq : 0 });
      checkpoint = now;
      if (!earlier) break;
    }
    const result = { keep, cutoff, dryRun, files, checkpoint };
    if (ctx.json) ctx.out(JSON.stringify(result) + '\n');
    else if (!files.length) ctx.out(`nothing to do: no retained entry older than ${keep} (before ${cutoff}); checkpoint ${checkpoint.seq}\n`);
    else
      for (const f of files) {
        const range = `entries ${f.firstSeq}..${f.lastSeq} (${f.entries.toLocaleString('en-US')}, older than ${keep})`;
        if (dryRun) ctx.out(`would export ${range} to ${f.file}${f.reused ? ' (there already)' : ''} and prune them; nothing written\n`);
        else ctx.out(`${f.reused ? 'reused' : 'exported'} ${range} in ${f.file} (sha256 ${f.sha256}); ${f.pruned ? `pruned them; checkpoint ${checkpoint.seq}` : 'pruned by another run meanwhile'}\n`);
      }
    return EXIT.ok;
  } finally {
    rmSync(tmp, { force: true });
    await store.close();
  }
}
