/** What the responder's /metrics says over a run. */
import { outcomesOf } from '../ocsp/shared.js';

/** What the responder's /metrics says: answers by `method/outcome`, GC seconds by kind, event-loop delay. */
export interface ResponderMetrics {
  readonly outcomes: Record<string, number>;
  /** pki_ocsp_nodejs_gc_duration_seconds_sum by kind (major, minor, incremental, weakcb), since start. */
  readonly gcSeconds: Record<string, number>;
  /** Event-loop delay beyond the 10 ms sampling interval (prom-client's monitorEventLoopDelay, reset at every scrape): since the previous scrape. */
  readonly loopDelayMaxMs: number;
  readonly loopDelayP99Ms: number;
}

export async function responderMetrics(url: string): Promise<ResponderMetrics> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const outcomes = outcomesOf(text);
  const gcSeconds: Record<string, number> = {};
  for (const m of text.matchAll(/^pki_ocsp_nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} (\S+)$/gm)) gcSeconds[m[1]!] = Number(m[2]);
  // monitorEventLoopDelay records the whole interval between its 10 ms timer's runs: the delay is what exceeds 10 ms
  const gauge = (name: string): number => Math.max(0, Number(new RegExp(`^pki_ocsp_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000 - 10);
  return { outcomes, gcSeconds, loopDelayMaxMs: gauge('max'), loopDelayP99Ms: gauge('p99') };
}

export const responderOutcomes = async (url: string): Promise<Record<string, number>> => (await responderMetrics(url)).outcomes;

/** The responder's memory (its /metrics, MB): V8's heap, buffers outside it, and the rest of its RSS (native: the allocator's, code). */
export interface ResponderMemory {
  readonly rssMb: number;
  readonly heapMb: number;
  readonly externalMb: number;
  readonly otherMb: number;
}

export async function responderMemory(url: string): Promise<ResponderMemory> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const mb = (name: string): number => Number(new RegExp(`^pki_ocsp_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 1048576;
  const [rssMb, heapMb, externalMb] = [mb('process_resident_memory_bytes'), mb('nodejs_heap_size_total_bytes'), mb('nodejs_external_memory_bytes')];
  return { rssMb, heapMb, externalMb, otherMb: rssMb - heapMb - externalMb };
}
