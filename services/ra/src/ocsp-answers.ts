import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from '@evpki/service';

/**
 * A tenant's OCSP answers by status, read from our responders' /metrics: the series of
 * pki_ocsp_responses_total whose `tenant` label is exactly that tenant (services/ocsp/src/metrics.ts),
 * summed over method, source and worker (a responder with OCSP_WORKERS > 1 answers every worker's
 * series from any of them: worker-metrics.ts) and over the configured responders. Counters start at
 * zero when a responder starts. Only our own responders are asked (RA_OCSP_METRICS_URLS, set by the
 * operator), never a host a request names. A URL's host name is resolved first, and each of its
 * IPv4 addresses is one responder: a Kubernetes headless Service (k8s/overlays/redis, two
 * responders) names every ready pod, where a ClusterIP Service would reach one of them at random.
 */

/** The statuses a signed answer gives (the OCSP errors carry no tenant). */
export const OCSP_ANSWER_STATUSES = ['good', 'revoked', 'unknown', 'mixed'] as const;
export type OcspAnswerStatus = (typeof OCSP_ANSWER_STATUSES)[number];

export type OcspAnswers =
  | { readonly available: true; readonly responders: number; readonly total: number; readonly byStatus: Readonly<Record<OcspAnswerStatus, number>> }
  | { readonly available: false; readonly reason: string };

export interface OcspAnswersOptions {
  /** One /metrics URL per responder instance (each answers for all its workers). */
  readonly urls: readonly string[];
  readonly timeoutMs: number;
  readonly log: Logger;
  /** The host's IPv4 addresses (DNS A records); default: the system's resolvers. */
  readonly resolve4?: (host: string) => Promise<string[]>;
}

/** A metrics exposition larger than this is not read (tens of thousands of series). */
const MAX_METRICS_BYTES = 16 * 1024 * 1024;
const METRIC = 'pki_ocsp_responses_total{';

/** The labels of one exposition line's `{…}` (Prometheus text format 0.0.4: `\\`, `\"` and `\n` escaped), and where the value starts. */
function labelsOf(line: string, from: number): { labels: Map<string, string>; end: number } | undefined {
  const labels = new Map<string, string>();
  let i = from;
  while (i < line.length && line[i] !== '}') {
    const eq = line.indexOf('="', i);
    if (eq < 0) return undefined;
    const name = line.slice(i, eq);
    let value = '';
    let j = eq + 2;
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] === '\\') {
        j++;
        value += line[j] === 'n' ? '\n' : line[j];
      } else value += line[j];
    }
    if (j >= line.length) return undefined;
    labels.set(name, value);
    i = line[j + 1] === ',' ? j + 2 : j + 1;
  }
  return i < line.length ? { labels, end: i + 1 } : undefined;
}

/** This tenant's answers by status in one exposition. */
export function tenantAnswersIn(exposition: string, tenant: string): Record<OcspAnswerStatus, number> {
  const byStatus = Object.fromEntries(OCSP_ANSWER_STATUSES.map((s) => [s, 0])) as Record<OcspAnswerStatus, number>;
  for (let at = exposition.indexOf(METRIC); at >= 0; at = exposition.indexOf(METRIC, at + METRIC.length)) {
    if (at > 0 && exposition[at - 1] !== '\n') continue;
    const lineEnd = exposition.indexOf('\n', at);
    const line = exposition.slice(at, lineEnd < 0 ? undefined : lineEnd);
    const parsed = labelsOf(line, METRIC.length);
    if (!parsed || parsed.labels.get('tenant') !== tenant) continue;
    const status = parsed.labels.get('status') as OcspAnswerStatus | undefined;
    const value = Number(line.slice(parsed.end).trim().split(' ')[0]);
    if (status !== undefined && status in byStatus && Number.isFinite(value)) byStatus[status] += value;
  }
  return byStatus;
}

async function readLimited(res: Response): Promise<string> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > MAX_METRICS_BYTES) throw new Error(`the metrics are larger than ${MAX_METRICS_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createOcspAnswers(o: OcspAnswersOptions): { forTenant(tenant: string): Promise<OcspAnswers> } {
  const resolver = new Resolver({ timeout: o.timeoutMs, tries: 1 });
  const resolve4 = o.resolve4 ?? ((host: string) => resolver.resolve4(host));
  /** The responders behind a URL: one per address of its host name; an address, or a name DNS does not know (/etc/hosts), as given. */
  async function responders(url: string): Promise<string[]> {
    const u = new URL(url);
    if (isIP(u.hostname.replace(/^\[|\]$/g, ''))) return [url];
    const addresses = await resolve4(u.hostname).catch(() => [] as string[]);
    if (!addresses.length) return [url];
    return [...new Set(addresses)].sort().map((a) => {
      const one = new URL(url);
      one.hostname = a;
      return one.toString();
    });
  }
  async function scrape(url: string): Promise<string> {
    const res = await fetch(url, { signal: AbortSignal.timeout(o.timeoutMs), redirect: 'error', headers: { accept: 'text/plain' } });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    return readLimited(res);
  }
  return {
    async forTenant(tenant) {
      if (!o.urls.length) return { available: false, reason: 'no OCSP responder metrics are configured (RA_OCSP_METRICS_URLS)' };
      const urls = (await Promise.all(o.urls.map(responders))).flat();
      const read = await Promise.allSettled(urls.map(scrape));
      const failed = read.flatMap((r, i) => (r.status === 'rejected' ? [{ url: urls[i], err: (r.reason as Error).message }] : []));
      if (failed.length) {
        // The URLs are internal: logged, not shown to the tenant.
        o.log.warn({ event: 'summary.ocsp-metrics', failed }, 'OCSP responder metrics could not be read');
        return { available: false, reason: `the metrics of ${failed.length} of ${urls.length} OCSP responder(s) could not be read` };
      }
      const byStatus = Object.fromEntries(OCSP_ANSWER_STATUSES.map((s) => [s, 0])) as Record<OcspAnswerStatus, number>;
      for (const r of read) {
        const one = tenantAnswersIn((r as PromiseFulfilledResult<string>).value, tenant);
        for (const s of OCSP_ANSWER_STATUSES) byStatus[s] += one[s];
      }
      return { available: true, responders: urls.length, total: OCSP_ANSWER_STATUSES.reduce((n, s) => n + byStatus[s], 0), byStatus };
    },
  };
}
