import { AUDIT_LIMITS, verifyAuditChain, type AuditEntry } from '@evpki/store';
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

const verifyCommand: Command = {
  name: 'audit verify',
  summary: 'check the hash-chained audit log: no entry changed, removed or reordered',
  help: `Usage: pki audit verify [--json] [--quiet]

Reads the whole audit log in pages from the store (REDIS_URL: the shared Redis; else LMDB in the
data directory) and checks it: each entry's hash recomputed from its content, each entry linked to
the one before (entry 1 to the genesis hash), seqs consecutive from 1, and the last entry equal to
the head the store keeps (a truncated tail). Stops at the first break and names the entry and why:
changed, removed, reordered, duplicate or head-mismatch. Entries appended while it runs are
checked too.

Prints how many entries were verified (--json: {"ok", "verified", "head": {"seq", "hash"}, and
"break": {"seq", "kind", "message"} when broken}).

Exit codes: 0 the log is intact, 1 it is broken, 75 the store is unreachable.
`,
  options: {},
  positionals: { min: 0, max: 0 },
  async run(_values, _positionals, ctx) {
    const store = openPkiStore(ctx.dataDir, ctx.env);
    try {
      const progress = ctx.progress('entries verified');
      const v = await verifyAuditChain(store, { onProgress: (p) => progress.update(p.verified) });
      progress.finish();
      if (ctx.json) ctx.out(JSON.stringify(v) + '\n');
      else if (v.ok) ctx.out(`audit log intact: ${v.verified.toLocaleString('en-US')} entr${v.verified === 1 ? 'y' : 'ies'} verified, head ${v.head.seq} ${v.head.hash}\n`);
      else {
        const b = v.break!;
        ctx.out(`audit log BROKEN at entry ${b.seq} (${b.kind}): ${b.message}\n`);
        ctx.out(`${v.verified.toLocaleString('en-US')} entr${v.verified === 1 ? 'y' : 'ies'} verified before it; the store's head is entry ${v.head.seq}\n`);
      }
      return v.ok ? EXIT.ok : EXIT.failure;
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

/** `pki audit verify`, `pki audit list`. */
export const auditCommands: Command[] = [verifyCommand, listCommand];
