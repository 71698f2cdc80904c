import type { Command } from './command.js';

// `pki ocsp resign`'s options and help; its implementation (ocsp-resign.ts) is imported when it runs.

export const ocspResignCommand: Command = {
  name: 'ocsp resign',
  summary: 'make the OCSP responders re-sign every pre-signed response now',
  help: `Usage: pki ocsp resign [--issuer ID] [--json] [--quiet]

Marks every certificate in the OCSP pre-signing schedule (of issuer ID, or of every issuer) due now:
the responders sign new responses for them at their next run (OCSP_PRESIGN_INTERVAL_MS), with the
delegated signer they hold then. For example after a delegated OCSP signer was replaced. Expired
certificates are not in the schedule and are not re-signed (a request for one is signed when asked).
Prints how many certificates were requeued (--json: {"requeued": N, "issuer": ID or null}).

Options:
  --issuer ID   only the certificates of this issuing CA (its id, as in pki.json)
  --json        the result as JSON
  -q, --quiet   no progress on stderr
`,
  options: { issuer: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./ocsp-resign.js')).ocspResign(values, positionals, ctx),
};

