/**
 * The floor (bare node:http, fixed 471-byte body, as many workers as our responder) and our
 * responder, measured per kind of load (GET and POST with keep-alive (wrk); POST without (ab),
 * with the raw TCP floor too; then nonce POST), each kind's runs of the floor and of the responder
 * alternated and pooled, so that a drift of the machine or a burst of other load weighs on both
 * sides of each ratio; each server idles while the other is measured. Every responder scenario is followed by a sanity check of one answer.
 */
import { randomBytes } from 'node:crypto';
import { buildOcspRequest } from '@evpki/ocsp';
import { FLOOR_SERVER, f0, f2, log, pc, serviceEnv, spawnNode, stopProc, waitListening } from '../bench-kit.js';
import { abBody, poolAb, runAb, type AbRun } from './ab.js';
import { answersByWorker, responderOutcomes, sanityCheck, type Target } from './checks.js';
import { AB_ROUNDS, KA_ROUNDS, KA_RUN_S, MEASURE_S, NONCE_BYTES, ONLY_OCSP, PREWARM_S, WARMUP_S, WORKERS } from './config.js';
import type { Requests } from './requests.js';
import type { OcspRun } from './run.js';
import { abScenario, toScenario, type ScenarioId } from './scenario.js';
import type { Setup } from './setup.js';
import { delta } from './shared.js';
import { poolWrk, runWrk, type WrkRun } from './wrk.js';

export async function measureResponderAndFloor({ work, procs, scenarios, problems }: OcspRun, { ocspUrl, ocspProc, issued, files }: Setup, { certIds, getTargets, postTargets, scripts }: Requests): Promise<void> {
  const first = issued[0]!;
  const floor = ONLY_OCSP ? undefined : spawnNode('floor', [FLOOR_SERVER, 'ocsp-floor'], serviceEnv({ FLOOR_WORKERS: String(WORKERS) }));
  if (floor) procs.push(floor);
  const floorUrl = floor ? `http://127.0.0.1:${await waitListening(floor)}` : '';
  // The runtime's ceiling without keep-alive: node:net writing canned bytes, no HTTP (http-floor-server.ts raw-floor).
  const rawFloor = ONLY_OCSP ? undefined : spawnNode('raw floor', [FLOOR_SERVER, 'raw-floor'], serviceEnv({ FLOOR_WORKERS: String(WORKERS) }));
  if (rawFloor) procs.push(rawFloor);
  const rawFloorUrl = rawFloor ? `http://127.0.0.1:${await waitListening(rawFloor)}` : '';
  const ocspPid = ocspProc.child.pid!;
  // pre-warm: JIT, heap sizing, for every kind of request (not counted)
  if (floor) for (const script of [scripts.get, scripts.post]) await runWrk(floorUrl, script, WARMUP_S, floor.child.pid!);
  for (const script of [scripts.get, scripts.post, scripts.nonce]) await runWrk(ocspUrl, script, PREWARM_S, ocspPid);

  /** The responder's answers so far, by outcome and by worker (its /metrics). */
  const observed = async () => ({ outcomes: await responderOutcomes(ocspUrl), byWorker: await answersByWorker(ocspUrl) });
  /** A responder scenario: its outcome counts and spread over workers since `before`, then the sanity check of one answer. */
  const responderScenario = async (id: ScenarioId, label: string, w: WrkRun, before: Awaited<ReturnType<typeof observed>>, check: { expected: string; target: Target; nonce?: Buffer }, runs = ''): Promise<void> => {
    const after = await observed();
    const outcomes = delta(before.outcomes, after.outcomes);
    const unexpected = Object.entries(outcomes).reduce((a, [k, v]) => a + (k === check.expected ? 0 : v), 0);
    const s = toScenario(id, label, w, { unexpected, outcomes, ...workerNote(delta(before.byWorker, after.byWorker)) });
    const c = await sanityCheck(check.target, first.serialHex, files, work, check.nonce);
    scenarios.push({ ...s, sanity: { ok: c.ok, detail: c.detail, bodyBytes: c.bytes } });
    if (!c.ok) problems.push(`${label}: sanity check failed: ${c.detail}`);
    log(`${label}: ${f0(s.perSecond)} req/s${runs}, p50 ${f2(s.p50Ms)} ms, p99 ${f2(s.p99Ms)} ms, errors ${s.errors}, outcomes ${JSON.stringify(outcomes)}`);
  };
  /**
   * Keep-alive (wrk): the floor's runs and the responder's alternated (F R R F F R …, KA_ROUNDS
   * each) and pooled (wrk.ts poolWrk), as the runs without keep-alive are: one burst of other load
   * on the shared machine, or the machine's drift, then weighs on both sides of the ratio.
   */
  const measureKeepAlive = async (kind: { floorId: ScenarioId; floorLabel: string; id: ScenarioId; label: string; script: string; expected: string; target: Target }): Promise<void> => {
    const sides = [
      ...(floor ? [{ url: floorUrl, pid: floor.child.pid!, runs: [] as WrkRun[] }] : []),
      { url: ocspUrl, pid: ocspPid, runs: [] as WrkRun[] },
    ];
    for (const side of sides) await runWrk(side.url, kind.script, WARMUP_S, side.pid);
    const before = await observed();
    for (let round = 0; round < KA_ROUNDS; round++) for (const side of round % 2 ? [...sides].reverse() : sides) side.runs.push(await runWrk(side.url, kind.script, KA_RUN_S, side.pid));
    const runs = (w: readonly WrkRun[]): string => ` over ${w.length} runs (${w.map((r) => f0(r.requests / r.seconds)).join(', ')})`;
    if (floor) {
      const s = toScenario(kind.floorId, kind.floorLabel, poolWrk(sides[0]!.runs));
      scenarios.push(s);
      log(`${kind.floorLabel}: ${f0(s.perSecond)} req/s${runs(sides[0]!.runs)}, p50 ${f2(s.p50Ms)} ms, p99 ${f2(s.p99Ms)} ms, errors ${s.errors}`);
    }
    const ours = sides[sides.length - 1]!.runs;
    await responderScenario(kind.id, kind.label, poolWrk(ours), before, { expected: kind.expected, target: kind.target }, runs(ours));
  };
  // Without keep-alive: ab, one request body (served from memory after the first), AB_ROUNDS runs
  // per side, the floors' and the responder's alternated (F T R R T F F T R …) and pooled (ab.ts poolAb).
  const abFile = abBody(work, postTargets[0]!.body!);
  const measureClose = async (): Promise<void> => {
    const sides: { id: ScenarioId; label: string; url: string; pid: number; runs: AbRun[] }[] = [
      ...(floor ? [{ id: 'floor-post-close' as const, label: `floor: bare node:http POST, ${WORKERS} workers, no keep-alive (ab)`, url: floorUrl, pid: floor.child.pid!, runs: [] }] : []),
      ...(rawFloor ? [{ id: 'raw-floor-post-close' as const, label: `floor: raw node:net canned bytes, ${WORKERS} workers, no keep-alive (ab)`, url: rawFloorUrl, pid: rawFloor.child.pid!, runs: [] }] : []),
      { id: 'presigned-post-close', label: `responder: pre-signed POST, ${WORKERS} workers, no keep-alive (ab)`, url: ocspUrl, pid: ocspPid, runs: [] },
    ];
    for (const side of sides) await runAb(side.url, abFile, side.pid, 1000);
    const o0 = await responderOutcomes(ocspUrl);
    for (let round = 0; round < AB_ROUNDS; round++) for (const side of round % 2 ? [...sides].reverse() : sides) side.runs.push(await runAb(side.url, abFile, side.pid));
    const outcomes = delta(o0, await responderOutcomes(ocspUrl));
    const unexpected = Object.entries(outcomes).reduce((n, [k, v]) => n + (k === 'POST/presigned' ? 0 : v), 0);
    for (const side of sides) {
      const s = abScenario(side.id, side.label, poolAb(side.runs), side.id === 'presigned-post-close' ? { unexpected, outcomes } : {});
      scenarios.push(s);
      log(`${s.label}: ${f0(s.perSecond)} req/s over ${AB_ROUNDS} runs (${side.runs.map((r) => f0(r.perSecond)).join(', ')}), p50 ${f2(s.p50Ms)} ms, p99 ${f2(s.p99Ms)} ms, errors ${s.errors}`);
    }
  };
  await measureKeepAlive({ floorId: 'floor-get', floorLabel: 'floor: bare node:http GET, fixed 471 B', id: 'presigned-get', label: 'responder: pre-signed, GET', script: scripts.get, expected: 'GET/presigned', target: getTargets[0]! });
  await measureKeepAlive({ floorId: 'floor-post', floorLabel: 'floor: bare node:http POST, fixed 471 B', id: 'presigned-post', label: 'responder: pre-signed, POST', script: scripts.post, expected: 'POST/presigned', target: postTargets[0]! });
  await measureClose();
  // Nonce answers (signed live): no floor to compare with, one run against the 12,000/s target.
  const nonce = randomBytes(NONCE_BYTES);
  await runWrk(ocspUrl, scripts.nonce, WARMUP_S, ocspPid);
  const before = await observed();
  const w = await runWrk(ocspUrl, scripts.nonce, MEASURE_S, ocspPid);
  await responderScenario('nonce-post', 'responder: nonce POST (signed live)', w, before, { expected: 'POST/signed', target: { ...postTargets[0]!, body: buildOcspRequest([certIds[0]!], nonce) }, nonce });
  if (floor) await stopProc(floor, 5000);
  if (rawFloor) await stopProc(rawFloor, 5000);
  await stopProc(ocspProc, 5000);
}

/**
 * How the answers of a run spread over the responder's workers (each accepts connections itself:
 * wrk's 64 keep-alive connections may land unevenly), as a scenario note; a worker left out is flagged.
 */
function workerNote(byWorker: Record<string, number>): { note?: string } {
  if (WORKERS < 2) return {};
  const total = Object.values(byWorker).reduce((a, b) => a + b, 0);
  const shares = Array.from({ length: WORKERS }, (_, i) => (byWorker[String(i)] ?? 0) / (total || 1));
  const idle = shares.some((s) => s < 0.25 / WORKERS);
  return { note: `answers by worker: ${shares.map((s, i) => `${i}: ${pc(s)}`).join(', ')}${idle ? ' (a worker barely used: the figure is not for all workers)' : ''}` };
}
