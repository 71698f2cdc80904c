/**
 * `make bench-lists`: the operator's lists (issue 19) at 1,000,000 certificate records on LMDB.
 * Target: p99 of a filtered page (50 items) ≤ 20 ms from the store.
 *
 *   1. A dev PKI (`pki init --dev`, LMDB store) and RA, CA and OCSP responder in this process on it
 *      (test/helpers/pki.ts startStack; the RA does not validate its responses, as in production).
 *   2. Records: synthetic certificate records written through the store's write path in bulk
 *      (LmdbStore.recordIssuances: recordIssuance's checks and indexes, 5,000 per transaction);
 *      2% are recorded revoked (status, revokedAt, reason: their revoked list index entries are
 *      written with them; revoking one by one, one fsynced transaction each, would take longer
 *      than the rest of the run). 90% of tenant `bench` (10,000 stations,
 *      kinds 80% charge point, 15% V2G, 5% CSMS server), 10% of tenant `bench-other`; issued over
 *      the last two years, valid a year (so about half expired), random serials; the DER is 600
 *      random bytes (the lists never parse it; the API's view PEM-encodes it).
 *   3. At BASELINE_RECORDS (100,000): the naive baseline, a full scan of every certificate record +
 *      filter + sort + page (what a store without list indexes would do; its cost is the scan,
 *      whatever the filter, so it is timed on NAIVE_QUERIES, 3 runs each), and the indexed store
 *      at the same size: p50/p99 per query and the ratio.
 *   4. At the full size: per query (status good/revoked/expired, kind, expiring within 30 days,
 *      station, serial prefix, a filter the index does not apply, default order) p50/p99 of one
 *      page via the store (findCertificates) and via HTTP (GET /v1/certificates…, one keep-alive
 *      connection, sequential), and deep cursor paging (page after page, 500 pages deep).
 *
 * Not a test: exits non-zero when a step fails or a page is wrong, not on a missed target.
 * Results: stdout and bench-results/lists.json. Timings under shared load are indicative.
 *
 * Env knobs: BENCH_LISTS_RECORDS (default 1,000,000), BENCH_QUICK=1 (100,000 records, fewer
 * iterations), BENCH_LISTS_ITERATIONS (store iterations per query, 300; HTTP: a third).
 */
import { randomBytes } from 'node:crypto';
import { setImmediate as turn } from 'node:timers/promises';
import { join } from 'node:path';
import { open } from 'lmdb';
import { LmdbStore, certificatePlan, statusAt, type CertificateListFilter, type CertificateRecord, type IssuanceCoverage } from '@evpki/store';
import { makeDevPki, startStack, type Stack } from '../helpers/pki.js';
import { QUICK, ROOT, f1, f2, grid, log, runBench, writeResults } from './bench-kit.js';

const RECORDS = QUICK ? 100_000 : Number(process.env.BENCH_LISTS_RECORDS ?? 1_000_000);
const BASELINE_RECORDS = Math.min(100_000, RECORDS);
const ITERATIONS = Number(process.env.BENCH_LISTS_ITERATIONS ?? (QUICK ? 100 : 300));
const BATCH = 5_000;
const STATIONS = 10_000;
const LIMIT = 50;
const TARGET_P99_MS = 20;
const DAY = 86_400_000;
const TENANT = 'bench';
const COVERAGE: IssuanceCoverage = { underActiveIssuer: false, hierarchy: 'csms', presignOcsp: false, stationIndex: true };
const KINDS = ['ChargingStationCertificate', 'V2GCertificate', 'CSMSServerCertificate'] as const;

const NOW = Date.now();
const DER = randomBytes(600);

/** Record i of the population (deterministic but for serial and key). */
function record(i: number): CertificateRecord {
  const revoked = i % 50 === 7;
  const tenant = i % 10 === 9 ? 'bench-other' : TENANT;
  const r = (i * 2654435761) % 100;
  const kind = r < 80 ? KINDS[0] : r < 95 ? KINDS[1] : KINDS[2];
  const issued = NOW - 2 * 365 * DAY + Math.floor((i / RECORDS) * 2 * 365 * DAY);
  return {
    serial: randomBytes(16).toString('hex').replace(/^0+/, ''),
    issuerId: 'bench-issuer',
    der: DER,
    kind,
    tenant,
    stationId: kind === 'CSMSServerCertificate' ? '' : `st-${(i * 7919) % STATIONS}`,
    subject: `CN=SN-${i},O=Bench CPO`,
    notBefore: new Date(issued).toISOString(),
    notAfter: new Date(issued + 365 * DAY).toISOString(),
    issuedAt: new Date(issued).toISOString(),
    spkiSha256: randomBytes(32).toString('hex'),
    sha256Fingerprint: randomBytes(32).toString('hex'),
    ...(revoked ? { status: 'revoked', revokedAt: new Date(issued + DAY).toISOString(), revocationReason: 'superseded' } : { status: 'good' }),
  };
}

/** Serials of `bench` kept to pick prefixes and revocations from. */
const sample: string[] = [];

async function load(store: LmdbStore, from: number, to: number): Promise<void> {
  const started = performance.now();
  for (let b = from; b < to; b += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, to - b) }, (_, j) => ({ cert: record(b + j), coverage: COVERAGE }));
    const outcomes = await store.recordIssuances(batch);
    if (outcomes.some((o) => !o.ok)) throw new Error(`records refused: ${JSON.stringify(outcomes.find((o) => !o.ok))}`);
    for (const [j, { cert }] of batch.entries()) if (cert.tenant === TENANT && j % 97 === 0) sample.push(cert.serial);
    if ((b + batch.length - from) % 50_000 === 0) log(`loaded ${b + batch.length - from} of ${to - from}`);
  }
  log(`records ${from}..${to}: ${f1((to - from) / ((performance.now() - started) / 1000))} records/s in bulk`);
}

interface Query {
  readonly name: string;
  /** A fresh filter per iteration (random station, prefix). */
  readonly filter: () => Omit<CertificateListFilter, 'now'>;
  /** The same as API query parameters. */
  readonly params: (f: Omit<CertificateListFilter, 'now'>) => string;
}
const pick = <T>(a: readonly T[]): T => a[Math.floor(Math.random() * a.length)]!;
const iso = (ms: number): string => encodeURIComponent(new Date(ms).toISOString());
/** The queries the naive baseline is timed on (a full scan costs about the same for every filter). */
const NAIVE_QUERIES = new Set(['default (issuedAt)', 'status=revoked', 'expiring within 30d', 'stationId=<random>']);
const QUERIES: readonly Query[] = [
  { name: 'default (issuedAt)', filter: () => ({}), params: () => '' },
  { name: 'status=good', filter: () => ({ status: 'good' }), params: () => 'status=good' },
  { name: 'status=revoked', filter: () => ({ status: 'revoked' }), params: () => 'status=revoked' },
  { name: 'status=expired', filter: () => ({ status: 'expired' }), params: () => 'status=expired' },
  { name: 'kind=V2GCertificate', filter: () => ({ kind: 'V2GCertificate' }), params: () => 'kind=V2GCertificate' },
  { name: 'expiring within 30d', filter: () => ({ status: 'good', notAfterAfter: NOW, notAfterBefore: NOW + 30 * DAY + 1 }), params: () => 'EXPIRING' },
  { name: 'stationId=<random>', filter: () => ({ stationId: `st-${Math.floor(Math.random() * STATIONS)}` }), params: (f) => `stationId=${f.stationId}` },
  { name: 'serialPrefix=<3 hex>', filter: () => ({ serialPrefix: pick(sample).slice(0, 3) }), params: (f) => `serialPrefix=${f.serialPrefix}` },
  { name: 'kind=CSMSServer&status=revoked', filter: () => ({ kind: 'CSMSServerCertificate', status: 'revoked' }), params: () => 'kind=CSMSServerCertificate&status=revoked' },
  { name: 'issuedSince=<30d ago>&kind=V2G', filter: () => ({ issuedSince: NOW - 30 * DAY, kind: 'V2GCertificate' }), params: (f) => `issuedSince=${iso(f.issuedSince!)}&kind=V2GCertificate` },
];

const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};
interface Timing {
  readonly p50: number;
  readonly p99: number;
  readonly n: number;
  /** Items on the last page read (to see the pages are not empty). */
  readonly items: number;
}
async function time(n: number, run: () => Promise<number>): Promise<Timing> {
  const ms: number[] = [];
  let items = 0;
  for (let i = 0; i < n; i++) {
    // A turn of the event loop between runs: the LMDB reads resolve without one (signals, timers).
    await turn();
    const t = performance.now();
    items = await run();
    ms.push(performance.now() - t);
  }
  return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), n, items };
}

/** Every page of a filter must hold only matching records of the tenant. */
function check(name: string, f: CertificateListFilter, items: readonly CertificateRecord[]): void {
  const accept = certificatePlan(TENANT, f).accept;
  const bad = items.find((c) => !accept(c, ''));
  if (bad) throw new Error(`${name}: a record that does not match: ${bad.serial} ${bad.kind} ${statusAt(bad, f.now)}`);
}

/** The naive baseline: every certificate record read, filtered, sorted and paged. */
function naivePage(path: string): (f: CertificateListFilter) => number {
  const db = open({ path, compression: false, readOnly: true });
  return (f) => {
    const plan = certificatePlan(TENANT, f);
    const order = plan.index[0] === 'notafter' ? (c: CertificateRecord) => c.notAfter : plan.index[0] === 'serial' ? (c: CertificateRecord) => c.serial : (c: CertificateRecord) => c.issuedAt;
    const hits: CertificateRecord[] = [];
    for (const { value } of db.getRange({ start: ['cert'], end: ['cert', '\uffff'] })) {
      const c = value as CertificateRecord;
      if (plan.accept(c, '')) hits.push(c);
    }
    hits.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : a.serial < b.serial ? -1 : 1));
    return hits.slice(0, LIMIT).length;
  };
}

async function storePage(store: LmdbStore, q: Query): Promise<number> {
  const f = { ...q.filter(), now: NOW };
  const page = await store.findCertificates(TENANT, f, { limit: LIMIT });
  check(q.name, f, page.items);
  return page.items.length;
}

async function httpPage(stack: Stack, token: string, q: Query): Promise<number> {
  const f = q.filter();
  const params = q.params(f);
  const url = params === 'EXPIRING' ? `${stack.raUrl}/v1/certificates/expiring?within=30d&limit=${LIMIT}` : `${stack.raUrl}/v1/certificates?limit=${LIMIT}${params ? `&${params}` : ''}`;
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { items: unknown[] };
  if (res.status !== 200) throw new Error(`${q.name}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body.items.length;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const pki = await makeDevPki();
  const stack = await startStack(pki, { raEnv: { RA_VALIDATE_RESPONSES: 'false' } });
  try {
    const store = stack.store;
    if (!(store instanceof LmdbStore)) throw new Error('bench-lists runs on the LMDB store');
    const created = new Date(NOW).toISOString();
    for (const id of [TENANT, 'bench-other']) await store.putTenant({ id, cpoName: `${id} CPO`, disabled: false, createdAt: created });
    for (let s = 0; s < STATIONS; s += 1000)
      await store.putStations(Array.from({ length: 1000 }, (_, j) => ({ tenant: TENANT, stationId: `st-${s + j}`, serialNumber: `SN-${s + j}`, allowed: (s + j) % 10 !== 0, createdAt: created, updatedAt: created })), { replace: true });
    const token = await stack.token(TENANT, { scopes: ['certificates:read'] });

    await load(store, 0, BASELINE_RECORDS);
    const naive = naivePage(join(pki.dataDir, 'store'));
    const baseline: Record<string, { naive: Timing; indexed: Timing }> = {};
    for (const q of QUERIES.filter((q) => NAIVE_QUERIES.has(q.name))) {
      baseline[q.name] = {
        naive: await time(3, async () => naive({ ...q.filter(), now: NOW })),
        indexed: await time(ITERATIONS, () => storePage(store, q)),
      };
      log(`baseline ${q.name}: naive p99 ${f1(baseline[q.name]!.naive.p99)} ms, indexed p99 ${f2(baseline[q.name]!.indexed.p99)} ms`);
    }
    const naiveP99 = Math.min(...Object.values(baseline).map((b) => b.naive.p99));

    if (RECORDS > BASELINE_RECORDS) await load(store, BASELINE_RECORDS, RECORDS);
    const full: Record<string, { store: Timing; http: Timing }> = {};
    for (const q of QUERIES) {
      await time(20, () => storePage(store, q)); // warm-up
      full[q.name] = { store: await time(ITERATIONS, () => storePage(store, q)), http: await time(Math.ceil(ITERATIONS / 3), () => httpPage(stack, token, q)) };
      log(`${q.name}: store p99 ${f2(full[q.name]!.store.p99)} ms, HTTP p99 ${f2(full[q.name]!.http.p99)} ms`);
    }

    // Deep paging: page after page by cursor, each page timed.
    const deep: Record<string, Timing & { pages: number }> = {};
    for (const q of [QUERIES[0]!, QUERIES[1]!, QUERIES[3]!]) {
      const ms: number[] = [];
      let after: string | undefined;
      let pages = 0;
      const f = { ...q.filter(), now: NOW };
      do {
        const t = performance.now();
        const page = await store.findCertificates(TENANT, f, { limit: LIMIT, ...(after === undefined ? {} : { after }) });
        ms.push(performance.now() - t);
        check(q.name, f, page.items);
        after = page.next;
        pages++;
      } while (after !== undefined && pages < 500);
      deep[q.name] = { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), n: ms.length, items: LIMIT, pages };
    }

    const worstStore = Math.max(...Object.values(full).map((t) => t.store.p99));
    const lines = [
      `bench-lists: ${RECORDS.toLocaleString('en')} certificate records on LMDB (90% tenant ${TENANT}), pages of ${LIMIT}${QUICK ? ' (BENCH_QUICK)' : ''}; indicative under shared load`,
      '',
      `Naive full scan vs indexed, both at ${BASELINE_RECORDS.toLocaleString('en')} records (ms):`,
      grid(
        ['query', 'naive p50', 'naive p99', 'indexed p50', 'indexed p99', 'ratio p99'],
        QUERIES.filter((q) => baseline[q.name]).map((q) => {
          const b = baseline[q.name]!;
          return [q.name, f1(b.naive.p50), f1(b.naive.p99), f2(b.indexed.p50), f2(b.indexed.p99), `${f1(b.naive.p99 / b.indexed.p99)}x`];
        }),
      ),
      '',
      `Indexed at ${RECORDS.toLocaleString('en')} records, one page (ms; items on the last page):`,
      grid(
        ['query', 'store p50', 'store p99', 'HTTP p50', 'HTTP p99', 'items', 'naive@100k p99 / store p99'],
        QUERIES.map((q) => {
          const t = full[q.name]!;
          return [q.name, f2(t.store.p50), f2(t.store.p99), f2(t.http.p50), f2(t.http.p99), String(t.store.items), `${f1((baseline[q.name]?.naive.p99 ?? naiveP99) / t.store.p99)}x`];
        }),
      ),
      '',
      'Deep paging by cursor (store, each page timed):',
      grid(['query', 'pages', 'p50', 'p99'], Object.entries(deep).map(([name, t]) => [name, String(t.pages), f2(t.p50), f2(t.p99)])),
      '',
      `(naive@100k: the query's own scan where timed, else the fastest scan timed, ${f1(naiveP99)} ms)`,
      `Target: store p99 of a filtered page ≤ ${TARGET_P99_MS} ms: worst ${f2(worstStore)} ms, ${worstStore <= TARGET_P99_MS ? 'met' : 'MISSED'}.`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    writeResults(join(ROOT, 'bench-results/lists.json'), 'bench-lists', startedAt, { records: RECORDS, baselineRecords: BASELINE_RECORDS, limit: LIMIT, baseline, full, deep, targetP99Ms: TARGET_P99_MS, worstStoreP99Ms: worstStore });
  } finally {
    await stack.stop();
    pki.cleanup();
  }
}

runBench('bench-lists', main);
