import type { Command } from './command.js';

// `pki stations import`'s options and help; its implementation (stations-import.ts) is imported when it runs.

export const IMPORT_LIMITS = {
  /** Bigger files are refused whole (exit 2). */
  maxBytes: 64 * 1024 * 1024,
  maxRows: 1_000_000,
  /** Any field longer than this is refused before the station rules see it. */
  maxField: 1024,
  /** Stations per store write. */
  batch: 2000,
} as const;

const fmt = (n: number): string => n.toLocaleString('en-US');

export const stationsImportCommand: Command = {
  name: 'stations import',
  summary: 'register a tenant\'s charge stations in bulk from a CSV file',
  help: `Usage: pki stations import FILE.csv --tenant ID [--dry-run] [--replace] [--report FILE] [--json] [--quiet]

Registers the charge stations of one tenant from CSV (RFC 4180, UTF-8, a BOM is fine):
  stationId,serialNumber,model,allowed
  CP0001,SN-0001,Wallbox X,true
  "CP:0002",SN-0002,,no
model may be empty (or the column left out); allowed is true/false, 1/0 or yes/no (empty or no
column: true). An optional seccIds column holds the station's ISO 15118 SECC-IDs, separated by
spaces (DE*ABC*E123456; rule V2G.secc-id); without the column the stored ones are kept. A row
listing a SECC-ID another station of the tenant lists (stored, or imported from an earlier line)
is refused, rule PnC-4.3.secc-id-unique. Every row is checked as the RA checks PUT /v1/stations/{stationId} (stationId 1-48 of
A-Z a-z 0-9 . _ : -, serialNumber 1-64 of A-Z a-z 0-9 . _ - and no host name or IP address
(A00.FR.511), model at most 128 characters), plus: the number of fields, quoting, fields over
${IMPORT_LIMITS.maxField} characters, a stationId already imported from an earlier line. Empty lines are skipped.
Refused rows are not written; the others are, in batches of ${fmt(IMPORT_LIMITS.batch)}. Existing stations are left as they
are unless --replace (an identical one is never rewritten). The file may hold at most
${fmt(IMPORT_LIMITS.maxRows)} rows and ${IMPORT_LIMITS.maxBytes / 2 ** 20} MiB.

Options:
  --tenant ID      the tenant (it must exist and not be disabled)
  --dry-run        check and count only; nothing is written
  --replace        update existing stations that differ from the file
  --report FILE    write the refused rows as CSV: line,stationId,rule,message (one line per rule broken)
  --json           the summary as JSON: rows, created, replaced, unchanged, differing, refused, byRule
  -q, --quiet      no progress on stderr

Prints a summary on stdout (rows read, created, replaced, unchanged, refused, refused by rule).
Exit 0: no row refused; 3: some rows refused (the others imported); 2: the file or the tenant is
unusable (nothing written).
`,
  options: {
    tenant: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    replace: { type: 'boolean', default: false },
    report: { type: 'string' },
  },
  positionals: { min: 1, max: 1 },
  run: async (values, positionals, ctx) => (await import('./stations-import.js')).stationsImport(values, positionals, ctx),
};

