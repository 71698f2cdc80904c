import { AUDIT_LIMITS, verifyAuditChain, type AuditCheckpoint, type AuditEntry, type Store } from '@evpki/store';
import { auditRetainCommand } from './audit-retain.js';
import { auditRetentionCommands, exportBreak, readExportFiles } from './audit-retention.js';
import { CliError } from './cli-error.js';
import type { Command, OptionValues } from './command.js';
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

const verifyCommand: Command = {
  name: 'audit verify',
  summary: 'check the hash-chained audit log: no entry changed, removed or reordered',
  help: `Usage: pki audit verify [--export FILE ...] [--json] [--quiet]

Reads the whole audit log in pages from the store (REDIS_URL: the shared Redis; else LMDB in the
data directory) and checks it: each entry's hash recomputed from its content, each entry linked to
the one before (entry 1 to the genesis hash; after \`pki audit prune\`, the first retained entry to
the checkpoint's hash), seqs consecutive, the last entry equal to the head the store keeps (a
truncated tail), and the checkpoint named by an audit.pruned entry. Stops at the first break and
names the entry and why: changed, removed, reordered, duplicate, head-mismatch or checkpoint.
Entries appended while it runs are checked too.

With --export FILE (from \`pki audit export\`; several, oldest first, for consecutive exports) the
exported entries are checked too: an intact chain that holds the store's checkpoint entry (or
whose last entry is still in the store), with the same hash.

Prints how many entries were verified (--json: {"ok", "verified", "head": {"seq", "hash"},
"checkpoint": {"seq", "hash"}, "break": {"seq", "kind", "message"} when broken, and with --export
"export": {"ok", "entries", "firstSeq", "lastSeq", "message"}}).

Exit codes: 0 the log (and the export) is intact, 1 it is broken, 2 an export file is unreadable,
75 the store is unreachable.
`,
  options: { export: { type: 'string', multiple: true } },
  positionals: { min: 0, max: 0 },
  async run(values, _positionals, ctx) {
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
  },
};

const listCommand: Command = {
  name: 'audit list',
  summary: 'print audit log entries (of one tenant, or all), oldest first',
  help: `Usage: pki audit list [--tenant ID] [--after SEQ] [--limit N] [--json]

Prints audit log entries in ascending seq: all of them, or with --tenant only that tenant's. One
line each: seq, time, event, outcome, actor, tenant, rule IDs, details. To page on, pass the last
seq printed as --after.

Options:
  --tenant ID   only this tenant's entries
  --after SEQ   entries after this seq (default 0: from the first)
  --limit N     at most N entries, 1..${AUDIT_LIMITS.pageSize} (default 100)
  --json        {"entries": [...], "next": SEQ to pass as --after, or null at the end}
`,
  options: { tenant: { type: 'string' }, after: { type: 'string' }, limit: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(values, _positionals, ctx) {
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
  },
};

/** `pki audit verify`, `pki audit list`, `pki audit export`, `pki audit prune`, `pki audit retain`. */
export const auditCommands: Command[] = [verifyCommand, listCommand, ...auditRetentionCommands, auditRetainCommand];
