import { AUDIT_LIMITS } from '@evpki/store/audit-limits';
import type { Command } from './command.js';

// The audit commands' options and help; each one's implementation is imported when it runs
// (audit-log.ts, audit-retention.ts, audit-retain.ts).

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
  run: async (values, positionals, ctx) => (await import('./audit-log.js')).auditVerify(values, positionals, ctx),
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
  run: async (values, positionals, ctx) => (await import('./audit-log.js')).auditList(values, positionals, ctx),
};

const exportCommand: Command = {
  name: 'audit export',
  summary: 'write old audit entries (with their hashes) to a file, for `pki audit prune`',
  help: `Usage: pki audit export --before SEQ|DATE --out FILE [--json]

Writes the retained audit entries before entry SEQ (or those before DATE, ISO 8601: up to the first
entry at or after it) to FILE, one JSON entry per line with its seq, prevHash and hash, after
checking that they form an intact chain from the store's checkpoint. FILE is written whole or not
at all (mode 0600). Keep it where the audit trail must be kept; then delete the entries from the
store with the command it prints: pki audit prune --before SEQ --export-file FILE.
(\`pki audit retain\` does both, for what is older than a retention period.)

Exit codes: 0 written (or nothing to export), 1 the log is broken (run pki audit verify), 2 bad
options, 75 the store is unreachable.
`,
  options: { before: { type: 'string' }, out: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./audit-retention.js')).auditExport(values, positionals, ctx),
};

const pruneCommand: Command = {
  name: 'audit prune',
  summary: 'delete exported audit entries from the store, keeping the chain verifiable',
  help: `Usage: pki audit prune --before SEQ --export-file FILE [--json]

Deletes the audit entries before entry SEQ from the store (both backends; the tenant indexes too)
and records a checkpoint: entry SEQ-1's seq and hash, from which \`pki audit verify\` verifies the
retained chain. Only what has been exported: FILE (from \`pki audit export\`) must be an intact
chain holding every retained entry before SEQ, each equal to the store's (same hash). An
audit.pruned entry naming the checkpoint and the file's SHA-256 is appended first; running the
command again is safe.

Exit codes: 0 pruned (or nothing to prune), 1 FILE does not match the store, 2 bad options or FILE
does not hold those entries, 75 the store is unreachable or the log was pruned meanwhile.
`,
  options: { before: { type: 'string' }, 'export-file': { type: 'string' } },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./audit-retention.js')).auditPrune(values, positionals, ctx),
};

const retainCommand: Command = {
  name: 'audit retain',
  summary: 'the audit log retention: export and prune what is older than --keep (unattended, e.g. daily)',
  help: `Usage: pki audit retain --keep DURATION --export-dir DIR [--dry-run] [--json]

Keeps the audit log to DURATION (e.g. 400d, 12h, 2w; at least 1 day; default $PKI_AUDIT_RETENTION):
the retained entries from the store's checkpoint up to the first one not older than DURATION are
exported to DIR/audit-<firstSeq>-<lastSeq>.jsonl (mode 0600, whole or not at all, never replacing
a file), checked against the store, and pruned as \`pki audit prune\` does (an audit.pruned entry
with the file's name and SHA-256, then the new checkpoint). Ship the files in DIR to write-once
storage: they are the audit trail of the pruned entries (pki audit verify --export FILE ...).

Safe to re-run, and to run again after a run stopped between export and prune: a file of the same
range is reused when it holds the same entries (else exit 1, the file left as it is), a shorter
one from an interrupted run is pruned with first. Of two runs at once only one prunes an entry.

Options:
  --keep DURATION    how long entries stay in the store: N h, N d or N w (default $PKI_AUDIT_RETENTION)
  --export-dir DIR   where the export files go (created 0700 if missing)
  --dry-run          say what would be exported and pruned; write nothing
  --json             {"keep", "cutoff", "dryRun", "files": [{"file", "firstSeq", "lastSeq", "entries",
                     "sha256", "reused", "pruned"}], "checkpoint": {"seq", "hash"}}

Exit codes: 0 done (or nothing older than DURATION), 1 the log or a file in DIR does not match
the store, 2 bad options, 75 the store is unreachable or changed meanwhile (run again).
`,
  options: { keep: { type: 'string' }, 'export-dir': { type: 'string' }, 'dry-run': { type: 'boolean' } },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./audit-retain.js')).auditRetain(values, positionals, ctx),
};

/** `pki audit verify`, `pki audit list`, `pki audit export`, `pki audit prune`, `pki audit retain`. */
export const auditCommands: Command[] = [verifyCommand, listCommand, exportCommand, pruneCommand, retainCommand];
