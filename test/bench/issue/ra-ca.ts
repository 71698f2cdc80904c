/**
 * The services: RA and CA as separate processes on the bench PKI's LMDB store (as in production).
 * RA → CA end to end at each concurrency, the CA alone over mutual TLS (the RA's share is the
 * difference), and the RA alone in front of a stub CA.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { readServiceTls, serviceClientTlsOptions } from '@evpki/service';
import { FLOOR_SERVER, NO_RATE_LIMITS, STATIONS, experimentArgs, f0, f2, freePort, log, spawnNode, spawnService, stopProc, waitListening, waitReady, type Proc } from '../bench-kit.js';
import { verifySamples } from './chains.js';
import { CONCURRENCIES, MEASURE_S, ONLY_RA_CA, PREWARM_S, SIDE_S, WARMUP_S } from './config.js';
import { caRequest, cycleSource, listSource, raHeaders, raRequest, runPhase } from './load-client.js';
import type { IssueRun } from './run.js';
import { caSignHistogram, lmdbCommits, toScenario } from './scenario.js';

interface Services {
  readonly ca: Proc;
  readonly ra: Proc;
  readonly caUrl: string;
  readonly caOpsUrl: string;
  readonly raUrl: string;
  readonly pids: { ra: number; ca: number };
}

/** The section: the services started, measured, stopped (the HTTP floors come after, on a machine without them). */
export async function raCaSection(run: IssueRun): Promise<void> {
  const s = await startServices(run);
  const lastSamples = await raToCa(run, s);
  if (!ONLY_RA_CA) await caAlone(run, s);
  if (!ONLY_RA_CA) await raCaRateLimited(run, s);
  if (!ONLY_RA_CA) await raAlone(run, lastSamples);
  await stopProc(s.ra);
  await stopProc(s.ca);
}

/** CA and RA on free ports, the bench stations registered through the RA. */
async function startServices({ dataDir, token, procs, profiles }: IssueRun): Promise<Services> {
  const caPort = await freePort();
  const caOpsPort = await freePort();
  const raPort = await freePort();
  // The CA's API is mutual TLS (issue 7); its /readyz and /metrics are on the plain-HTTP ops port.
  const caUrl = `https://127.0.0.1:${caPort}`;
  const caOpsUrl = `http://127.0.0.1:${caOpsPort}`;
  const raUrl = `http://127.0.0.1:${raPort}`;
  const ca = spawnService('CA', 'ca', { PKI_DATA_DIR: dataDir, CA_PORT: String(caPort), CA_OPS_PORT: String(caOpsPort) }, experimentArgs('ca', profiles));
  procs.push(ca);
  await waitReady(ca, `${caOpsUrl}/readyz`);
  const ra = spawnService('RA', 'ra', { PKI_DATA_DIR: dataDir, RA_PORT: String(raPort), RA_CA_URL: caUrl, ...NO_RATE_LIMITS }, experimentArgs('ra', profiles));
  procs.push(ra);
  await waitReady(ra, `${raUrl}/readyz`);
  log(`CA pid ${ca.child.pid} on ${caPort}, RA pid ${ra.child.pid} on ${raPort}`);

  {
    const p = new Pool(raUrl, { connections: 4 });
    for (let i = 0; i < STATIONS; i++) {
      const r = await p.request({ path: `/v1/stations/bench-${i}`, method: 'PUT', headers: raHeaders(token), body: JSON.stringify({ serialNumber: `BENCH-${i}`, allowed: true }) });
      const t = await r.body.text();
      if (r.statusCode !== 201 && r.statusCode !== 200) throw new Error(`station registration: ${r.statusCode} ${t}`);
    }
    await p.close();
  }
  return { ca, ra, caUrl, caOpsUrl, raUrl, pids: { ra: ra.child.pid!, ca: ca.child.pid! } };
}

/** Pre-warm, then RA → CA end to end at each concurrency; returns the last sampled responses (for the stub CA). */
async function raToCa({ dataDir, token, take, scenarios, verification, problems }: IssueRun, { caOpsUrl, raUrl, pids }: Services): Promise<string[]> {
  // CSRs per RA→CA phase: room for 1.5x the best rate seen so far, and at most 700/s per
  // in-flight request; a phase that runs dry ends early and says so (count-bounded).
  let bestRate = 1500;
  const capFor = (seconds: number, conc: number): number => Math.ceil(seconds * Math.max(600, Math.min(1.5 * bestRate, conc * 700)));

  // --- pre-warm the fresh RA and CA (JIT, lazy validator compilation, heap sizing), not counted
  {
    const warm = await take(capFor(PREWARM_S, 32));
    const pool = new Pool(raUrl, { connections: 32, pipelining: 1, keepAliveTimeout: 60_000 });
    const p = await runPhase({ pool, conc: 32, source: listSource(warm.map(raRequest)), headers: raHeaders(token), seconds: PREWARM_S, maxCount: warm.length, expect: 201 });
    await pool.close();
    if (p.failed) problems.push(`pre-warm: ${p.failed} non-201, e.g. ${p.failureSamples[0] ?? ''}`);
    bestRate = Math.max(bestRate, p.perSecond);
    log(`pre-warm conc 32: ${f0(p.perSecond)} cert/s`);
  }

  // --- RA → CA end to end
  let lastSamples: string[] = [];
  for (const conc of CONCURRENCIES) {
    const warm = await take(Math.min(capFor(WARMUP_S, conc), Math.max(200, conc * 20)));
    const meas = await take(capFor(MEASURE_S, conc));
    const pool = new Pool(raUrl, { connections: conc, pipelining: 1, keepAliveTimeout: 60_000 });
    try {
      await runPhase({ pool, conc, source: listSource(warm.map(raRequest)), headers: raHeaders(token), seconds: WARMUP_S, maxCount: warm.length, expect: 201 });
      const h0 = await caSignHistogram(caOpsUrl);
      const c0 = lmdbCommits(dataDir);
      const src = listSource(meas.map(raRequest));
      const p = await runPhase({ pool, conc, source: src, headers: raHeaders(token), seconds: MEASURE_S, maxCount: meas.length, expect: 201, sampleEvery: 97, pids });
      const commitsPerCert = (lmdbCommits(dataDir) - c0) / Math.max(1, p.ok);
      const h1 = await caSignHistogram(caOpsUrl);
      const dry = src.used() >= meas.length && p.seconds < MEASURE_S * 0.95 ? { note: `count-bounded: used all ${meas.length} pre-generated CSRs` } : {};
      scenarios.push(toScenario('ra-ca', 'RA→CA over mutual TLS, lmdb store', conc, p, { caSignMeanMs: ((h1.sum - h0.sum) / (h1.count - h0.count)) * 1000, commitsPerCert, ...dry }));
      bestRate = Math.max(bestRate, p.perSecond);
      verification[`ra-ca conc ${conc}`] = verifySamples(p.samples);
      if (p.samples.length) lastSamples = p.samples;
      log(`RA→CA conc ${conc}: ${f0(p.perSecond)} cert/s, p50 ${f2(p.p50)} ms, p99 ${f2(p.p99)} ms, failed ${p.failed}, ${f2(commitsPerCert)} store commits per certificate`);
    } finally {
      await pool.close();
    }
  }
  return lastSamples;
}

/**
 * The RA with rate limits on, as deployed (they are on by default: 600 per tenant-minute, 10 per
 * station-day), but too high to refuse anything: what counting costs per certificate (the CA reads
 * the buckets before signing and counts in its issuance write). Measured as a same-run A/B of two fresh RAs
 * in front of the same CA, one with the limits off (the control) and one with them on, each
 * warmed the same way: the main RA above has run every phase before, and a fresh process is
 * slower for its first seconds (JIT, heap sizing), which once showed as a cost of the limits.
 */
async function raCaRateLimited({ dataDir, token, take, procs, profiles, scenarios }: IssueRun, { caUrl, pids }: Services): Promise<void> {
  const sides = [
    { key: 'control', label: 'RA→CA, fresh RA, rate limits off (control)', env: NO_RATE_LIMITS, note: 'the A side: started and warmed like the next row' },
    { key: 'limits', label: 'RA→CA, fresh RA, rate limits on (not reached)', env: { RA_RATE_STATION_CSRS_PER_DAY: '1000000', RA_RATE_TENANT_CSRS_PER_MINUTE: '1000000' }, note: 'RA_RATE_*=1,000,000: every request counted in the issuance write, none refused' },
  ] as const;
  const started: { side: (typeof sides)[number]; ra: Proc; pool: Pool }[] = [];
  try {
    for (const side of sides) {
      const port = await freePort();
      const ra = spawnService(`RA (${side.key})`, 'ra', { PKI_DATA_DIR: dataDir, RA_PORT: String(port), RA_CA_URL: caUrl, ...side.env }, experimentArgs(`ra-${side.key}`, profiles));
      procs.push(ra);
      const url = `http://127.0.0.1:${port}`;
      await waitReady(ra, `${url}/readyz`);
      started.push({ side, ra, pool: new Pool(url, { connections: 32, pipelining: 1, keepAliveTimeout: 60_000 }) });
    }
    for (const { pool } of started) {
      const warm = await take(Math.ceil(PREWARM_S * 1500));
      await runPhase({ pool, conc: 32, source: listSource(warm.map(raRequest)), headers: raHeaders(token), seconds: PREWARM_S, maxCount: warm.length, expect: 201 });
    }
    const rates: number[] = [];
    for (const { side, ra, pool } of started) {
      const meas = await take(Math.ceil(SIDE_S * 1500));
      const c0 = lmdbCommits(dataDir);
      const p = await runPhase({ pool, conc: 32, source: listSource(meas.map(raRequest)), headers: raHeaders(token), seconds: SIDE_S, maxCount: meas.length, expect: 201, pids: { ra: ra.child.pid!, ca: pids.ca } });
      const commitsPerCert = (lmdbCommits(dataDir) - c0) / Math.max(1, p.ok);
      scenarios.push(toScenario('ra-ca-limits', side.label, 32, p, { note: side.note, commitsPerCert }));
      rates.push(p.perSecond);
      log(`${side.label}, conc 32: ${f0(p.perSecond)} cert/s, p50 ${f2(p.p50)} ms, failed ${p.failed}, ${f2(commitsPerCert)} store commits per certificate`);
    }
    log(`rate limits on / off, fresh RAs, conc 32: ${f2(rates[1]! / rates[0]!)}x`);
  } finally {
    for (const { ra, pool } of started) {
      await pool.close();
      await stopProc(ra);
    }
  }
}

/** The CA alone over mutual TLS, as the RA (its client certificate). */
async function caAlone({ dataDir, take, scenarios, verification }: IssueRun, { caUrl, caOpsUrl, pids }: Services): Promise<void> {
  // Calls to the CA authenticate with the RA's client certificate, not a header.
  const caHeaders = { 'content-type': 'application/json' };
  for (const conc of [1, 32]) {
    const warm = await take(Math.max(200, conc * 20));
    const meas = await take(Math.ceil(SIDE_S * (conc === 1 ? 1500 : 4000)));
    const pool = new Pool(caUrl, { connections: conc, pipelining: 1, keepAliveTimeout: 60_000, connect: serviceClientTlsOptions(readServiceTls(dataDir, 'ra-client')) });
    try {
      await runPhase({ pool, conc, source: listSource(warm.map(caRequest)), headers: caHeaders, seconds: WARMUP_S, maxCount: warm.length, expect: 201 });
      const h0 = await caSignHistogram(caOpsUrl);
      const src = listSource(meas.map(caRequest));
      const p = await runPhase({ pool, conc, source: src, headers: caHeaders, seconds: SIDE_S, maxCount: meas.length, expect: 201, sampleEvery: 97, pids: { ca: pids.ca } });
      const h1 = await caSignHistogram(caOpsUrl);
      const dry = src.used() >= meas.length && p.seconds < SIDE_S * 0.95 ? { note: `count-bounded: used all ${meas.length} pre-generated CSRs` } : {};
      scenarios.push(toScenario('ca', 'CA alone (POST /v1/sign)', conc, p, { caSignMeanMs: ((h1.sum - h0.sum) / (h1.count - h0.count)) * 1000, ...dry }));
      verification[`ca conc ${conc}`] = verifySamples(p.samples);
      log(`CA alone conc ${conc}: ${f0(p.perSecond)} cert/s`);
    } finally {
      await pool.close();
    }
  }
}

/** The RA alone: a second, real RA in front of a stub CA that answers a canned sign response (one of `samples`). */
async function raAlone({ dataDir, token, take, procs, profiles, scenarios }: IssueRun, samples: readonly string[]): Promise<void> {
  const canned = samples[0];
  if (!canned) throw new Error('no sample response to can');
  const { certificateChain, certificateType, serialNumber, notBefore, notAfter, sha256Fingerprint } = JSON.parse(canned) as Record<string, string>;
  const cannedFile = join(dataDir, 'canned-sign-response.json');
  writeFileSync(cannedFile, JSON.stringify({ certificateChain, certificateType, serialNumber, notBefore, notAfter, sha256Fingerprint, replayed: false }));
  const stub = spawnNode('stub CA', [FLOOR_SERVER, 'stub-ca', cannedFile, dataDir]);
  procs.push(stub);
  const stubUrl = `https://127.0.0.1:${await waitListening(stub)}`;
  const ra2Port = await freePort();
  const ra2 = spawnService('RA (stub CA)', 'ra', { PKI_DATA_DIR: dataDir, RA_PORT: String(ra2Port), RA_CA_URL: stubUrl, ...NO_RATE_LIMITS }, experimentArgs('ra-stubca', profiles));
  procs.push(ra2);
  const ra2Url = `http://127.0.0.1:${ra2Port}`;
  await waitReady(ra2, `${ra2Url}/readyz`);
  const reqs = (await take(2000)).map(raRequest); // never certified (the stub records nothing), so reusable
  const pool = new Pool(ra2Url, { connections: 32, pipelining: 1, keepAliveTimeout: 60_000 });
  try {
    await runPhase({ pool, conc: 32, source: cycleSource(reqs), headers: raHeaders(token), seconds: PREWARM_S, maxCount: 1e6, expect: 201 });
    const p = await runPhase({ pool, conc: 32, source: cycleSource(reqs), headers: raHeaders(token), seconds: SIDE_S, maxCount: 1e6, expect: 201, pids: { ra: ra2.child.pid!, server: stub.child.pid! } });
    scenarios.push(toScenario('ra', 'RA alone (stub CA, canned reply)', 32, p, { note: '"server" = the stub CA process' }));
    log(`RA alone conc 32: ${f0(p.perSecond)} req/s`);
  } finally {
    await pool.close();
  }
  await stopProc(ra2);
  await stopProc(stub);
}
