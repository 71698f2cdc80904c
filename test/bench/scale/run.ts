/** What the steps of one bench-scale run share (main.ts): directories, processes, Redis connections, and the results so far. */
import type { Redis } from 'ioredis';
import type { RedisStore } from '@evpki/store';
import type { Proc, Profile } from '../bench-kit.js';
import type { Phase } from './phases.js';

/** What the report (report.ts) and the results file are made of. */
export interface ScaleResults {
  readonly phases: Phase[];
  /** Anything that makes the bench exit non-zero. */
  readonly problems: string[];
  /** CPU profile of the measured responder (BENCH_PROFILE=DIR). */
  readonly profiles: Profile[];
  /** Size of one pre-signed response (DER). */
  presignedBytes: number;
  /** Size of the template certificate's DER, which every synthetic record carries. */
  templateBytes: number;
}

export interface ScaleRun extends ScaleResults {
  readonly hasWrk: boolean;
  readonly dataDir: string;
  /** Scratch files: PEMs, the serials and the wrk script, responses for openssl. */
  readonly work: string;
  readonly redisDir: string;
  /** Every process started: all stopped when the run ends (in reverse), whatever happens. */
  readonly procs: Proc[];
  /** Connections to Redis, set as they are opened, closed when the run ends. */
  readonly conns: { raw?: Redis; store?: RedisStore; probe?: Redis };
}
