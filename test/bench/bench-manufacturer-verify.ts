/**
 * `make bench-manufacturer`: verifications per second of a station's 3-certificate manufacturer
 * chain (station certificate → issuing CA → root, made by openssl), issue 21's target ≥ 2,000/s:
 *
 *   naive       validatePath (@evpki/pathval) uncached, one chain after the other (the baseline)
 *   in-process  verifyManufacturerChain with createPathValidator and createLeafCache, as the RA runs it
 *   HTTP        POST /v1/manufacturer-certificates/verify on an RA (RA, CA, responder in this
 *               process, LMDB store), closed loop with BENCH_CONC (default 16) connections
 *   HTTP floor  the same route with a chain holding no certificate: what the RA's HTTP path
 *               (token, routing, schema) costs on this machine, without any validation
 *
 * all in the same run, with the ratios. LEAVES (default 200) distinct station certificates are
 * cycled, so the cache holds the CA certificates and, after the first round, the leaves too (a
 * CSMS verifies the same stations again and again). No revocation is configured: this measures
 * the validation (a CRL is fetched once per nextUpdate). Not a test: it asserts no speed, but it
 * exits non-zero when a verification is refused. Results: stdout and bench-results/bench-manufacturer.json.
 * On the shared 2-core dev machine the numbers are indicative only.
 */
import { join } from 'node:path';
import { Pool } from 'undici';
import { createLeafCache, manufacturerFromInput, verifyManufacturerChain } from '@evpki/issuance';
import { createPathValidator, validatePath } from '@evpki/pathval';
import { ROOT, runBench } from '../helpers/processes.js';
import { makeManufacturerPki } from '../helpers/manufacturer-pki.js';
import { api, makeDevPki, startStack } from '../helpers/pki.js';
import { QUICK, f0, f2, grid, log, printBenchResults, writeResults } from './bench-kit.js';
import { cycleSource, raHeaders, runPhase } from './issue/load-client.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 2 : 6));
const CONC = Number(process.env.BENCH_CONC ?? 16);
const LEAVES = Number(process.env.BENCH_LEAVES ?? (QUICK ? 20 : 200));
const TARGET = 2000;

/** Runs `one` in a loop for `seconds`: calls per second (awaited one after the other). */
async function rate(seconds: number, one: (i: number) => Promise<boolean>): Promise<{ perSecond: number; n: number; failed: number }> {
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let n = 0;
  let failed = 0;
  while (performance.now() < end) {
    if (!(await one(n))) failed++;
    n++;
  }
  return { perSecond: n / ((performance.now() - t0) / 1000), n, failed };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  log(`making the manufacturer PKI and ${LEAVES} station certificates with openssl`);
  const mfr = makeManufacturerPki({ keyType: 'p256', name: 'Bench Chargers' });
  const leaves = Array.from({ length: LEAVES }, (_, i) => mfr.issue({ subject: `/O=Bench Chargers/CN=BENCH-${i}`, issuer: mfr.intermediate }));
  const chains = leaves.map((l) => l.pem + mfr.intermediate.pem);
  const built = manufacturerFromInput({ tenant: 'demo', name: 'Bench', roots: mfr.root.pem }, new Date());
  if ('violations' in built) throw new Error(JSON.stringify(built.violations));
  const manufacturers = [built.record];

  log('naive: validatePath, uncached');
  const naive = await rate(SECONDS, async (i) => (await validatePath({ leaf: leaves[i % LEAVES]!.der, intermediates: [mfr.intermediate.der], trustAnchors: [mfr.root.der], at: new Date() })).ok);

  log('in-process: verifyManufacturerChain with createPathValidator');
  const validator = createPathValidator({ cacheSize: 4096 });
  const leafCache = createLeafCache(4096);
  const inProcess = await rate(SECONDS, async (i) => (await verifyManufacturerChain({ chainPem: chains[i % LEAVES]!, manufacturers, at: new Date() }, validator, leafCache)).valid);

  log(`HTTP: POST /v1/manufacturer-certificates/verify, ${CONC} connections`);
  const dev = await makeDevPki();
  const stack = await startStack(dev, { raEnv: { RA_VALIDATE_RESPONSES: 'false' } });
  let http;
  let floor;
  try {
    const add = await api(stack, 'POST', '/v1/manufacturers', { name: 'Bench', roots: mfr.root.pem, intermediates: mfr.intermediate.pem });
    if (add.status !== 201) throw new Error(`adding the manufacturer: ${add.status} ${add.text}`);
    const pool = new Pool(stack.raUrl, { connections: CONC, pipelining: 1 });
    const token = await stack.token('demo', { scopes: ['manufacturer-certificates:verify'] });
    const source = cycleSource(chains.map((chain) => ({ path: '/v1/manufacturer-certificates/verify', body: JSON.stringify({ chain }) })));
    // A short warm-up (JIT, the validator's cache, the token cache), then the measured phase.
    await runPhase({ pool, conc: CONC, source, headers: raHeaders(token), seconds: 1, maxCount: 1e9, expect: 200 });
    http = await runPhase({ pool, conc: CONC, source, headers: raHeaders(token), seconds: SECONDS, maxCount: 1e9, expect: 200, sampleEvery: 500 });
    // The RA's floor for this route on this machine: the same request path (token, routing, schema,
    // handler) with a chain that holds no certificate, refused before any validation.
    const empty = cycleSource([{ path: '/v1/manufacturer-certificates/verify', body: JSON.stringify({ chain: 'no certificate' }) }]);
    floor = await runPhase({ pool, conc: CONC, source: empty, headers: raHeaders(token), seconds: SECONDS, maxCount: 1e9, expect: 200 });
    await pool.close();
    if (http.failed || http.samples.some((s) => !(JSON.parse(s) as { valid: boolean }).valid)) throw new Error(`HTTP verifications failed: ${JSON.stringify(http.failures)} ${http.failureSamples.join(' | ')} ${http.samples.slice(0, 1).join('')}`);
  } finally {
    await stack.stop();
    dev.cleanup();
    mfr.cleanup();
  }
  if (naive.failed || inProcess.failed) throw new Error(`verifications refused: naive ${naive.failed}, in-process ${inProcess.failed}`);

  const rows = [
    ['naive validatePath (uncached)', f0(naive.perSecond), '1.00', ''],
    ['in-process, cached validator', f0(inProcess.perSecond), f2(inProcess.perSecond / naive.perSecond), inProcess.perSecond >= TARGET ? 'meets' : 'below'],
    [`HTTP verify (${CONC} conn., p50 ${f2(http.p50)} ms, p99 ${f2(http.p99)} ms)`, f0(http.perSecond), f2(http.perSecond / naive.perSecond), http.perSecond >= TARGET ? 'meets' : 'below'],
    [`HTTP floor: same route, no certificate (p50 ${f2(floor.p50)} ms)`, f0(floor.perSecond), f2(floor.perSecond / naive.perSecond), ''],
  ];
  process.stdout.write(`\nManufacturer chain verification, 3 certificates, ${LEAVES} station certificates cycled, ${SECONDS} s each (indicative on a shared machine)\n`);
  process.stdout.write(grid(['', 'verifications/s', '× naive', `≥ ${TARGET}/s`], rows) + '\n');
  writeResults(join(ROOT, 'bench-results/bench-manufacturer.json'), 'bench-manufacturer', startedAt, {
    seconds: SECONDS,
    connections: CONC,
    leaves: LEAVES,
    target: TARGET,
    naive: naive.perSecond,
    inProcess: inProcess.perSecond,
    http: { perSecond: http.perSecond, p50: http.p50, p99: http.p99 },
    httpFloor: { perSecond: floor.perSecond, p50: floor.p50, p99: floor.p99 },
    ratios: { inProcess: inProcess.perSecond / naive.perSecond, http: http.perSecond / naive.perSecond },
  });
  printBenchResults('bench-manufacturer', [
    { metric: 'manufacturer chain verify, in-process cached', value: inProcess.perSecond, unit: '/s', target: TARGET, better: 'higher' },
    { metric: 'manufacturer chain verify, HTTP', value: http.perSecond, unit: '/s', target: TARGET, better: 'higher' },
    { metric: 'in-process cached / naive validatePath', value: inProcess.perSecond, unit: '/s', baseline: { name: 'naive validatePath', value: naive.perSecond }, better: 'higher' },
  ]);
}

runBench('bench-manufacturer', main);
