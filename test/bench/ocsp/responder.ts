/**
 * The floor (bare node:http, fixed 471-byte body, as many workers as our responder) and our
 * responder, measured in turn per kind of load (floor GET, responder GET, floor POST, responder
 * POST, floor, raw TCP floor and responder POST without keep-alive (ab), then nonce POST), so that a drift of the
 * machine over the run weighs on both sides of each ratio; each server idles while the other is
 * measured. Every responder scenario is followed by a sanity check of one answer.
 */
import { randomBytes } from 'node:crypto';
import { buildOcspRequest } from '@evpki/ocsp';
import { FLOOR_SERVER, f0, f2, log, pc, serviceEnv, spawnNode, stopProc, waitListening } from '../bench-kit.js';
import { abBody, poolAb, runAb, type AbRun } from './ab.js';
import { answersByWorker, responderOutcomes, sanityCheck, type Target } from './checks.js';
import { AB_ROUNDS, MEASURE_S, NONCE_BYTES, ONLY_OCSP, PREWARM_S, WARMUP_S, WORKERS } from './config.js';
import type { Requests } from './requests.js';
import type { OcspRun } from './run.js';
import { abScenario, toScenario, type ScenarioId } from './scenario.js';
import type { Setup } from './setup.js';
import { delta } from './shared.js';
import { runWrk } from './wrk.js';

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

  const measureFloor = async (id: ScenarioId, label: string, script: string): Promise<void> => {
    if (!floor) return;
    await runWrk(floorUrl, script, WARMUP_S, floor.child.pid!);
    const s = toScenario(id, label, await runWrk(floorUrl, script, MEASURE_S, floor.child.pid!));
    scenarios.push(s);
    log(`${label}: ${f0(s.perSecond)} req/s, p50 ${f2(s.p50Ms)} ms, p99 ${f2(s.p99Ms)} ms, errors ${s.errors}`);
  };
  const measureResponder = async (id: ScenarioId, label: string, script: string, expected: string, target: Target, nonce?: Buffer): Promise<void> => {
    await runWrk(ocspUrl, script, WARMUP_S, ocspPid);
    const [o0, w0] = [await responderOutcomes(ocspUrl), await answersByWorker(ocspUrl)];
    const w = await runWrk(ocspUrl, script, MEASURE_S, ocspPid);
    const outcomes = delta(o0, await responderOutcomes(ocspUrl));
    const unexpected = Object.entries(outcomes).reduce((a, [k, v]) => a + (k === expected ? 0 : v), 0);
    const s = toScenario(id, label, w, { unexpected, outcomes, ...workerNote(delta(w0, await answersByWorker(ocspUrl))) });
    const c = await sanityCheck(target, first.serialHex, files, work, nonce);
    scenarios.push({ ...s, sanity: { ok: c.ok, detail: c.detail, bodyBytes: c.bytes } });
    if (!c.ok) problems.push(`${label}: sanity check failed: ${c.detail}`);
    log(`${label}: ${f0(s.perSecond)} req/s, p50 ${f2(s.p50Ms)} ms, p99 ${f2(s.p99Ms)} ms, errors ${s.errors}, outcomes ${JSON.stringify(outcomes)}`);
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
  await measureFloor('floor-get', 'floor: bare node:http GET, fixed 471 B', scripts.get);
  await measureResponder('presigned-get', 'responder: pre-signed, GET', scripts.get, 'GET/presigned', getTargets[0]!);
  await measureFloor('floor-post', 'floor: bare node:http POST, fixed 471 B', scripts.post);
  await measureResponder('presigned-post', 'responder: pre-signed, POST', scripts.post, 'POST/presigned', postTargets[0]!);
  await measureClose();
  const nonce = randomBytes(NONCE_BYTES);
  await measureResponder('nonce-post', 'responder: nonce POST (signed live)', scripts.nonce, 'POST/signed', { ...postTargets[0]!, body: buildOcspRequest([certIds[0]!], nonce) }, nonce);
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
