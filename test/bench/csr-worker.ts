/**
 * Worker thread for bench-issue.ts: generates `n` P-256 CSRs (each with its own key) for stations
 * `BENCH-<(offset + i) % stations>` and posts them back. Generation is never timed.
 */
import { generateKeyPairSync } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { buildCsr } from '../helpers/csr.js';

const { n, offset, stations, organization } = workerData as { n: number; offset: number; stations: number; organization: string };
const out: { station: number; csr: string }[] = [];
for (let i = 0; i < n; i++) {
  const station = (offset + i) % stations;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  out.push({ station, csr: buildCsr(privateKey, { o: organization, cn: `BENCH-${station}` }) });
}
parentPort!.postMessage(out);
