/** Memory: what a record costs in Redis, from MEMORY USAGE over a sample. */
import type { Redis } from 'ioredis';
import { TENANT } from '../bench-kit.js';
import { draws } from './answers.js';
import { spkiOf, stationOf, type Population } from './population.js';
import { OCSP_DUE, k } from './redis.js';

/** MEMORY USAGE (bytes, as Redis estimates it) per record over a sample: its keys and its share of the shared ones. */
export async function memorySample(raw: Redis, pop: Population, issuerId: string, n: number): Promise<Record<string, number>> {
  const idx = draws(n, pop.count);
  const sum = { 'c: record + status': 0, 'k: key index': 0, 'o: 2 pre-signed responses': 0, 'sc: share of station index': 0 };
  for (const i of idx) {
    const s = pop.serial(i);
    const hex = pop.hex(i);
    const [c, kk, o, sc, scn] = await Promise.all([
      raw.memory('USAGE', k('c', hex)),
      raw.memory('USAGE', k('k', spkiOf(s))),
      raw.memory('USAGE', k('o', issuerId, hex)),
      raw.memory('USAGE', k('sc', TENANT, stationOf(i))),
      raw.zcard(k('sc', TENANT, stationOf(i))),
    ]);
    sum['c: record + status'] += Number(c ?? 0);
    sum['k: key index'] += Number(kk ?? 0);
    sum['o: 2 pre-signed responses'] += Number(o ?? 0);
    sum['sc: share of station index'] += Number(sc ?? 0) / Math.max(1, scn);
  }
  const out: Record<string, number> = {};
  for (const [key, v] of Object.entries(sum)) out[key] = v / n;
  out['ocspdue: share of the queue'] = Number((await raw.memory('USAGE', OCSP_DUE, 'SAMPLES', 1000)) ?? 0) / Math.max(1, await raw.zcard(OCSP_DUE));
  out['cl: share of the list indexes'] = (await usageOf(raw, `${k('cl', TENANT)}:*`)) / Math.max(1, pop.count);
  return out;
}

/** MEMORY USAGE summed over the keys matching a pattern (every member counted: SAMPLES 0). */
async function usageOf(raw: Redis, pattern: string): Promise<number> {
  let total = 0;
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    const sizes = await Promise.all(keys.map((key) => raw.memory('USAGE', key, 'SAMPLES', 0)));
    for (const n of sizes) total += Number(n ?? 0);
  } while (cursor !== '0');
  return total;
}
