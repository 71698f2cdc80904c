import type { Store } from '@evpki/store';
import { CliError } from './cli-error.js';
import type { Command } from './command.js';
import { EXIT } from './exit-codes.js';
import { openPkiStore } from './open-pki-store.js';

/** Schedule entries per store call: bounded memory and short transactions, whatever the schedule's size. */
const STEP = 1000;

/**
 * Makes every certificate in the OCSP pre-signing schedule (of one issuer, or all) due now, so
 * that the responders replace their pre-signed responses at their next run (within
 * OCSP_PRESIGN_INTERVAL_MS), e.g. after a delegated signer change. Returns how many were requeued.
 */
export async function requeueOcspPresigning(store: Store, o: { issuerId?: string; now: Date; onProgress?: (requeued: number) => void }): Promise<number> {
  let requeued = 0;
  let cursor: string | undefined;
  do {
    const step = await store.requeueOcsp(o.now.getTime(), { ...(o.issuerId === undefined ? {} : { issuerId: o.issuerId }), ...(cursor === undefined ? {} : { cursor }), limit: STEP });
    requeued += step.requeued;
    cursor = step.cursor;
    o.onProgress?.(requeued);
  } while (cursor !== undefined);
  return requeued;
}

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
  async run(values, _positionals, ctx) {
    const issuerId = values.issuer as string | undefined;
    const store = openPkiStore(ctx.dataDir, ctx.env);
    try {
      if (issuerId !== undefined && !(await store.getIssuer(issuerId))) throw new CliError(`no issuer "${issuerId}" in the store`, EXIT.badInput);
      const progress = ctx.progress('certificates requeued');
      const requeued = await requeueOcspPresigning(store, { ...(issuerId === undefined ? {} : { issuerId }), now: new Date(), onProgress: (n) => progress.update(n) });
      progress.finish();
      if (ctx.json) ctx.out(JSON.stringify({ requeued, issuer: issuerId ?? null }) + '\n');
      else ctx.out(`${requeued.toLocaleString('en-US')} certificate(s) ${issuerId ? `of ${issuerId} ` : ''}requeued: the OCSP responders re-sign them at their next pre-signing run\n`);
      return EXIT.ok;
    } finally {
      await store.close();
    }
  },
};
