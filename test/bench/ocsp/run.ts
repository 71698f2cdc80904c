/** What the steps of one bench-ocsp run share (main.ts): directories, processes, and the results so far. */
import type { Proc, Profile } from '../bench-kit.js';
import type { Scenario } from './scenario.js';

/** What the report (report.ts) and the results file are made of. */
export interface OcspResults {
  readonly scenarios: Scenario[];
  /** Anything that makes the bench exit non-zero. */
  readonly problems: string[];
  /** CPU profile of the responder (BENCH_PROFILE=DIR). */
  readonly profiles: Profile[];
  /** From the responder's start until every certificate had its pre-signed responses. */
  presignSeconds: number;
  /** Size of one pre-signed response (DER). */
  presignedBytes: number;
}

export interface OcspRun extends OcspResults {
  readonly dataDir: string;
  /** Scratch files: PEMs, wrk scripts, openssl's index and signer. */
  readonly work: string;
  /** Every process started: all stopped when the run ends, whatever happens. */
  readonly procs: Proc[];
}
