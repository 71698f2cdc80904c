/** bench-issue's signer section (issue 15): file key vs PKCS#11 token key, in-process, before the services start. */
import { log } from '../bench-kit.js';
import { benchSigners } from '../bench-signers.js';
import type { IssueRun } from './run.js';

export async function signersSection({ signers, problems }: IssueRun): Promise<void> {
  log('signing: file key vs PKCS#11 token key (SoftHSM2)');
  try {
    // The standalone bench's defaults (10,000 signatures per row, 300 with BENCH_QUICK=1): a few seconds.
    signers.push(...(await benchSigners()));
  } catch (e) {
    problems.push(`signer bench: ${(e as Error).message}`);
    return;
  }
  for (const r of signers) if (r.badSignatures) problems.push(`signer bench: ${r.badSignatures} ${r.backend} signatures at concurrency ${r.concurrency} do not verify`);
}
