/**
 * Worker thread for bench-scale.ts: the clock of its open-loop load generator. Node's timers fire
 * on whole milliseconds (a request due in 0.5 ms waits ~1 ms), which would add up to a millisecond
 * to every latency measured from the scheduled send time; this thread sleeps with Atomics.wait
 * (sub-millisecond) until each send slot and then wakes the main thread with a message, which
 * sends every request due by then. Slots are absolute times (performance.timeOrigin + now(), the
 * same clock in both threads): `t0 + i * intervalMs` for i < n. Setting stop[0] to 1 ends it.
 */
import { parentPort, workerData } from 'node:worker_threads';

const { t0, intervalMs, n, stop } = workerData as { t0: number; intervalMs: number; n: number; stop: SharedArrayBuffer };
const flag = new Int32Array(stop);
const now = (): number => performance.timeOrigin + performance.now();

for (let i = 0; i < n && Atomics.load(flag, 0) === 0; i++) {
  const wait = t0 + i * intervalMs - now();
  if (wait > 0) Atomics.wait(flag, 0, 0, wait);
  parentPort!.postMessage(i);
}
parentPort!.postMessage(-1);
