import type { Store } from '@evpki/store';
import { CliError } from './cli-error.js';
import type { CommandContext, OptionValues } from './command.js';
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

/** `pki ocsp resign` (its options and help: ocsp-resign-command.ts). */
export async function ocspResign(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
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
}
