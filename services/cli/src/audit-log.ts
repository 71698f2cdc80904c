import { AUDIT_LIMITS, verifyAuditChain, type AuditCheckpoint, type AuditEntry, type Store } from '@evpki/store';
import { exportBreak, readExportFiles } from './audit-retention.js';
import { CliError } from './cli-error.js';
import type { CommandContext, OptionValues } from './command.js';
import { EXIT } from './exit-codes.js';
import { openPkiStore } from './open-pki-store.js';

/** A whole number option, or exit 2. */
function intOption(values: OptionValues, name: string, min: number, max: number, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new CliError(`--${name} must be a whole number ${min}..${max}`, EXIT.badInput);
  return n;
}

/** One entry on one line: seq, time, event, outcome, actor, tenant, rules, details. */
function entryLine(e: AuditEntry): string {
  const parts = [String(e.seq), e.at, e.event, e.outcome, `actor=${e.actor}`];
  if (e.tenant !== undefined) parts.push(`tenant=${e.tenant}`);
  if (e.rules?.length) parts.push(`rules=${e.rules.join(',')}`);
  if (e.details) for (const [k, v] of Object.entries(e.details)) parts.push(`${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  return parts.join(' ');
}

interface ExportVerification {
  readonly ok: boolean;
  readonly entries: number;
  readonly firstSeq?: number;
  readonly lastSeq?: number;
  readonly message: string;
}

/**
 * Export files (in order) checked on their own and against the retained log: an intact chain (from
 * the genesis hash when it starts at entry 1) that holds the store's checkpoint entry with its hash,
 * or whose last entry is still in the store with the same hash.
 */
async function verifyExport(store: Store, files: readonly string[], checkpoint: AuditCheckpoint): Promise<ExportVerification> {
  const entries = readExportFiles(files);
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (!first || !last) return { ok: false, entries: 0, message: 'the export holds no entries' };
  const base = { entries: entries.length, firstSeq: first.seq, lastSeq: last.seq };
  const broken = exportBreak(entries);
  if (broken) return { ...base, ok: false, message: `the export is not an intact chain: ${broken}` };
  const from = first.seq === 1 ? 'from the genesis hash' : `from entry ${first.seq} (the export before it must end at entry ${first.seq - 1})`;
  const atCheckpoint = entries.find((e) => e.seq === checkpoint.seq);
  if (atCheckpoint) {
    if (atCheckpoint.hash !== checkpoint.hash) return { ...base, ok: false, message: `entry ${checkpoint.seq} in the export is not the store's checkpoint (hash ${checkpoint.hash.slice(0, 16)}…)` };
    return { ...base, ok: true, message: `an intact chain ${from} to entry ${last.seq}, through the store's checkpoint ${checkpoint.seq}` };
  }
  if (last.seq < checkpoint.seq) return { ...base, ok: false, message: `the export ends at entry ${last.seq}, before the store's checkpoint ${checkpoint.seq}: give the later export files too` };
  const [stored] = await store.listAudit({ afterSeq: last.seq - 1, limit: 1 });
  if (stored?.seq !== last.seq || stored.hash !== last.hash) return { ...base, ok: false, message: `entry ${last.seq} in the export is not the store's` };
  return { ...base, ok: true, message: `an intact chain ${from} to entry ${last.seq}, equal to the store's` };
}

/** `pki audit verify` (its options and help: audit-commands.ts). */
export async function auditVerify(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const files = (values.export as string[] | undefined) ?? [];
  const store = openPkiStore(ctx.dataDir, ctx.env);
  try {
    const progress = ctx.progress('entries verified');
    const v = await verifyAuditChain(store, { onProgress: (p) => progress.update(p.verified) });
    progress.finish();
    const exported = files.length ? await verifyExport(store, files, v.checkpoint) : undefined;
    if (ctx.json) ctx.out(JSON.stringify(exported ? { ...v, export: exported } : v) + '\n');
    else {
      const since = v.checkpoint.seq ? ` (entries up to ${v.checkpoint.seq} pruned; checkpoint ${v.checkpoint.hash})` : '';
      if (v.ok) ctx.out(`audit log intact: ${v.verified.toLocaleString('en-US')} entr${v.verified === 1 ? 'y' : 'ies'} verified, head ${v.head.seq} ${v.head.hash}${since}\n`);
      else {
        const b = v.break!;
        ctx.out(`audit log BROKEN at entry ${b.seq} (${b.kind}): ${b.message}\n`);
        ctx.out(`${v.verified.toLocaleString('en-US')} entr${v.verified === 1 ? 'y' : 'ies'} verified before it; the store's head is entry ${v.head.seq}\n`);
      }
      if (exported) ctx.out(`export ${exported.ok ? 'intact' : 'BROKEN'}: ${exported.entries.toLocaleString('en-US')} entries: ${exported.message}\n`);
    }
    return v.ok && (exported?.ok ?? true) ? EXIT.ok : EXIT.failure;
  } finally {
    await store.close();
  }
}

/** `pki audit list` (its options and help: audit-commands.ts). */
export async function auditList(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const tenant = values.tenant as string | undefined;
  if (tenant !== undefined && tenant === '') throw new CliError('--tenant must not be empty', EXIT.badInput);
  const afterSeq = intOption(values, 'after', 0, Number.MAX_SAFE_INTEGER, 0);
  const limit = intOption(values, 'limit', 1, AUDIT_LIMITS.pageSize, 100);
  const store = openPkiStore(ctx.dataDir, ctx.env);
  try {
    const entries = await store.listAudit({ ...(tenant === undefined ? {} : { tenant }), afterSeq, limit });
    const next = entries.length === limit ? entries[entries.length - 1]!.seq : null;
    if (ctx.json) ctx.out(JSON.stringify({ entries, next }) + '\n');
    else {
      for (const e of entries) ctx.out(entryLine(e) + '\n');
      if (next !== null) ctx.err(`pki: more entries: pki audit list${tenant === undefined ? '' : ` --tenant ${tenant}`} --after ${next} --limit ${limit}\n`);
    }
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
