/** A measured scenario as the report and the results file have it, from a wrk run. */
import type { AbRun } from './ab.js';
import { AB_CONC, CONC } from './config.js';
import type { CpuUse } from './cpu.js';
import type { WrkRun } from './wrk.js';

export type ScenarioId =
  | 'floor-get'
  | 'floor-post'
  | 'presigned-get'
  | 'presigned-post'
  | 'nonce-post'
  | 'openssl-post'
  | 'floor-post-close'
  | 'raw-floor-post-close'
  | 'presigned-post-close'
  | 'openssl-post-close';

export interface Scenario {
  readonly id: ScenarioId;
  readonly label: string;
  readonly conc: number;
  readonly requests: number;
  /** Socket errors + non-2xx + (our responder) answers other than the expected outcome. */
  readonly errors: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly bytesPerResponse: number;
  readonly serverCpuUsPerReq: number;
  readonly cpu: CpuUse;
  /** The load generator's own figures: wrk (keep-alive) or ab (a connection per request). */
  readonly wrk?: WrkRun;
  readonly ab?: AbRun;
  readonly outcomes?: Record<string, number>;
  readonly sanity?: { ok: boolean; detail: string; bodyBytes: number };
  readonly sweep?: { checked: number; bad: number; example?: string };
  readonly note?: string;
}

export function toScenario(id: ScenarioId, label: string, w: WrkRun, extra: { unexpected?: number; outcomes?: Record<string, number>; note?: string } = {}): Scenario {
  const socket = w.socketErrors.connect + w.socketErrors.read + w.socketErrors.write + w.socketErrors.timeout;
  const good = w.requests - w.non2xx - (extra.unexpected ?? 0);
  return {
    id,
    label,
    conc: CONC,
    requests: w.requests,
    errors: socket + w.non2xx + (extra.unexpected ?? 0),
    perSecond: good / w.seconds,
    p50Ms: w.p50Ms,
    p90Ms: w.p90Ms,
    p99Ms: w.p99Ms,
    maxMs: w.maxMs,
    bytesPerResponse: w.requests ? w.bytes / w.requests : NaN,
    serverCpuUsPerReq: w.requests ? (w.cpu.serverCores * w.seconds * 1e6) / w.requests : NaN,
    cpu: w.cpu,
    wrk: w,
    ...(extra.outcomes ? { outcomes: extra.outcomes } : {}),
    ...(extra.note ? { note: extra.note } : {}),
  };
}

/** A scenario from an ab run (no keep-alive); `unexpected`: answers other than the expected outcome (our responder). */
export function abScenario(id: ScenarioId, label: string, a: AbRun, extra: { unexpected?: number; outcomes?: Record<string, number>; note?: string } = {}): Scenario {
  const good = a.requests - a.failed - a.non2xx - (extra.unexpected ?? 0);
  return {
    id,
    label,
    conc: AB_CONC,
    requests: a.requests,
    errors: a.failed + a.non2xx + (extra.unexpected ?? 0),
    perSecond: good / a.seconds,
    p50Ms: a.p50Ms,
    p90Ms: NaN,
    p99Ms: a.p99Ms,
    maxMs: a.maxMs,
    bytesPerResponse: NaN,
    serverCpuUsPerReq: a.requests ? (a.cpu.serverCores * a.seconds * 1e6) / a.requests : NaN,
    cpu: a.cpu,
    ab: a,
    ...(extra.outcomes ? { outcomes: extra.outcomes } : {}),
    ...(extra.note ? { note: extra.note } : {}),
  };
}
