/**
 * `make bench-ocsp`: OCSP responder throughput with `wrk` (keep-alive, closed loop, concurrency
 * 64): pre-signed responses over GET and POST, and requests with a nonce (signed live), next to
 * two references measured in the same run under the same load generator:
 *
 *   - an HTTP floor: a bare node:http server answering every GET and POST with a fixed 471-byte
 *     body (test/bench/http-floor-server.ts, mode ocsp-floor);
 *   - `openssl ocsp` as a responder (`-multi 2`) for the same CA and the same certificates, with a
 *     delegated P-256 signer certified by our CA (the kind our responder uses).
 *
 * Every scenario rotates over requests for BENCH_CERTS different certificates (2,000), so the
 * store is really read. Ratios are printed against the targets of the issue: pre-signed at least
 * 70% of the floor and 4x `openssl ocsp`, nonce requests at least 8,000/s.
 *
 * Not a test: it asserts nothing about speed (timings never go into unit tests); it exits non-zero only when a
 * response is wrong (a sanity check fails: not successful, not good, does not verify, nonce not
 * echoed) or a scenario has errors. Results: stdout and bench-results/ocsp.json.
 *
 * Env knobs (`make bench-ocsp` needs none): BENCH_SECONDS (measured seconds per scenario, default
 * 10), BENCH_CONC (connections, default 64), BENCH_QUICK=1 (about a minute), BENCH_CERTS
 * (certificates to rotate over), BENCH_PROFILE=DIR (the responder runs with --cpu-prof into DIR and
 * a breakdown is printed; slows it down), BENCH_SERVICE_IMPORT=FILE (the responder starts with
 * `node --import FILE`), BENCH_ONLY=ocsp (only our responder's scenarios: no floor, no openssl).
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Agent, Pool, request } from 'undici';
import { buildOcspRequest, encodeCertId, issuerHashes } from '@evpki/ocsp';
import { readManifest, readServiceTls, serviceClientTlsOptions, type ServiceTls } from '@evpki/service';
import { openStore } from '@evpki/store';
import { buildCsr, parseCertificate, pemBlocks, serialFromHex, toPem, type ParsedCertificate } from '@evpki/x509';
import {
  CERT_TYPE, CORES, CPO, FLOOR_SERVER, PROFILE_DIR, QUICK, ROOT, SERVICE_IMPORT, STATIONS, TENANT, log, sleep,
  cleanup, freePort, initDevPki, killGroup, runBench, serviceEnv, spawnNode, spawnProc, spawnService, stopAll, stopProc, tempDir, waitListening, waitReady, type Proc,
  cpuSeconds, machineCpu, machineShares, processTree, statFields,
  makeCsrs, type CsrItem,
  analyseProfiles, experimentArgs, profilesJson, readBusyProfile, shareLines, sharesBy, v8PseudoFrame, type CallFrame, type Profile,
  f0, f2, grid, pc, problemLines, writeResults,
} from './bench-kit.js';

// ---------------------------------------------------------------------------------------------
// Configuration

const RESULTS = join(ROOT, 'bench-results/ocsp.json');

/** wrk takes whole seconds. */
const MEASURE_S = Math.max(1, Math.round(Number(process.env.BENCH_SECONDS ?? (QUICK ? 3 : 10))));
const WARMUP_S = QUICK ? 1 : 3;
/** A freshly started Node server needs some thousands of requests before its cost settles (JIT, heap sizing). */
const PREWARM_S = QUICK ? 2 : 5;
const CONC = Number(process.env.BENCH_CONC ?? 64);
const CERTS = Number(process.env.BENCH_CERTS ?? (QUICK ? 500 : 2000));
const ONLY_OCSP = process.env.BENCH_ONLY === 'ocsp';
const NONCE_BYTES = 16;
const TARGET = { vsFloor: 0.7, vsOpenssl: 4, noncePerSecond: 8000 } as const;

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc: a server's process tree (openssl -multi forks), wrk (a reaped child
// of this process: cutime/cstime) and the machine.

interface ServerCpu {
  /** All threads of all processes of the server. */
  readonly all: number;
  /** The root process's main thread (for node: the JS thread). */
  readonly main: number;
}

function serverCpu(root: number): ServerCpu {
  let all = 0;
  let main = 0;
  for (const pid of processTree(root)) {
    try {
      all += cpuSeconds(statFields(`/proc/${pid}/stat`), 11, 12);
      if (pid === root) main = cpuSeconds(statFields(`/proc/${pid}/task/${pid}/stat`), 11, 12);
    } catch {
      /* gone */
    }
  }
  return { all, main };
}

interface Snap {
  readonly server: ServerCpu;
  readonly self: number;
  readonly reaped: number;
  readonly machine: number[];
}

function snap(serverPid: number): Snap {
  const f = statFields('/proc/self/stat');
  return { server: serverCpu(serverPid), self: cpuSeconds(f, 11, 12), reaped: cpuSeconds(f, 13, 14), machine: machineCpu() };
}

interface CpuUse {
  /** Cores (CPU seconds per second) used by the server, all threads and processes. */
  readonly serverCores: number;
  /** Busy share of the server's main thread (node: the JS thread; 1 = saturated). */
  readonly serverMainBusy: number;
  readonly wrkCores: number;
  readonly machineBusyCores: number;
  readonly softirqCores: number;
  /** Busy cores not explained by the server, wrk, this process or softirq: other tenants; > 0.15 means a noisy run. */
  readonly otherLoadCores: number;
}

function cpuBetween(a: Snap, b: Snap, seconds: number): CpuUse {
  const m = machineShares(a.machine, b.machine);
  const busy = m.busy * CORES;
  const softirq = m.softirq * CORES;
  const server = (b.server.all - a.server.all) / seconds;
  const wrk = (b.reaped - a.reaped) / seconds;
  const self = (b.self - a.self) / seconds;
  return {
    serverCores: server,
    serverMainBusy: (b.server.main - a.server.main) / seconds,
    wrkCores: wrk,
    machineBusyCores: busy,
    softirqCores: softirq,
    otherLoadCores: Math.max(0, busy - server - wrk - self - softirq),
  };
}

// ---------------------------------------------------------------------------------------------
// wrk: Lua scripts with pre-built raw HTTP requests, rotated per request; results from done().

/** A Lua string literal for any bytes (decimal escapes, always three digits). */
function luaString(b: Buffer): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22) s += '\\"';
    else if (c === 0x5c) s += '\\\\';
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\${String(c).padStart(3, '0')}`;
  }
  return s + '"';
}

const LUA_DONE = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"max_us":%.0f,"mean_us":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
`;

/** A wrk script that sends the given raw requests in turn (one Lua state per wrk thread). */
function rotationScript(file: string, raw: readonly Buffer[]): string {
  writeFileSync(
    file,
    `local reqs = {\n${raw.map(luaString).join(',\n')}\n}\nlocal n = #reqs\nlocal i = 0\n` +
      `function request()\n  i = i + 1\n  if i > n then i = 1 end\n  return reqs[i]\nend\n` +
      LUA_DONE,
  );
  return file;
}

/**
 * A wrk script for nonce requests: each pre-built request ends with its nonce's bytes (the nonce
 * is the last element of the DER), so every request gets NONCE_BYTES fresh random bytes there.
 */
function nonceScript(file: string, heads: readonly Buffer[]): string {
  const rnd = Array.from({ length: NONCE_BYTES }, () => 'rnd(0, 255)').join(', ');
  writeFileSync(
    file,
    `local heads = {\n${heads.map(luaString).join(',\n')}\n}\nlocal n = #heads\nlocal i = 0\n` +
      `local char, rnd = string.char, math.random\nmath.randomseed(os.time())\n` +
      `function request()\n  i = i + 1\n  if i > n then i = 1 end\n  return heads[i] .. char(${rnd})\nend\n` +
      LUA_DONE,
  );
  return file;
}

interface WrkRun {
  readonly requests: number;
  readonly seconds: number;
  readonly bytes: number;
  readonly socketErrors: { connect: number; read: number; write: number; timeout: number };
  readonly non2xx: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
  readonly cpu: CpuUse;
}

async function runWrk(url: string, script: string, seconds: number, serverPid: number): Promise<WrkRun> {
  const a = snap(serverPid);
  const t0 = performance.now();
  const p = spawnProc('wrk', 'wrk', ['-t1', `-c${CONC}`, `-d${seconds}s`, '--timeout', '5s', '--latency', '-s', script, url], process.env);
  const code = await new Promise<number | null>((r) => p.child.once('exit', (c) => r(c)));
  const wall = (performance.now() - t0) / 1000;
  const b = snap(serverPid);
  const m = /WRKJSON (\{.*\})/.exec(p.output());
  if (code !== 0 || !m) throw new Error(`wrk failed (exit ${code}):\n${p.output()}`);
  const j = JSON.parse(m[1]!) as Record<string, number>;
  const n = (k: string): number => j[k] ?? NaN;
  return {
    requests: n('requests'),
    seconds: n('duration_us') / 1e6,
    bytes: n('bytes'),
    socketErrors: { connect: n('connect'), read: n('read'), write: n('write'), timeout: n('timeout') },
    non2xx: n('status'),
    p50Ms: n('p50_us') / 1000,
    p90Ms: n('p90_us') / 1000,
    p99Ms: n('p99_us') / 1000,
    maxMs: n('max_us') / 1000,
    meanMs: n('mean_us') / 1000,
    cpu: cpuBetween(a, b, wall),
  };
}

// ---------------------------------------------------------------------------------------------
// Certificates: CSRs in worker threads (never timed), signed by the CA over HTTP.

interface Issued {
  readonly serialHex: string;
  readonly notAfter: Date;
  readonly station: number;
}

/** Issues at the CA directly, as the RA does (its client certificate: mutual TLS). */
async function issueAll(caUrl: string, raTls: ServiceTls, csrs: readonly CsrItem[]): Promise<Issued[]> {
  const pool = new Pool(caUrl, { connections: 16, connect: serviceClientTlsOptions(raTls) });
  const out: Issued[] = [];
  let i = 0;
  try {
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (i < csrs.length) {
          const c = csrs[i++]!;
          const r = await pool.request({
            path: '/v1/sign',
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ tenant: TENANT, stationId: `bench-${c.station}`, csr: c.csr, certificateType: CERT_TYPE, actor: 'bench' }),
          });
          const text = await r.body.text();
          if (r.statusCode !== 201) throw new Error(`CA /v1/sign answered ${r.statusCode}: ${text.slice(0, 400)}`);
          const der = pemBlocks((JSON.parse(text) as { certificateChain: string }).certificateChain, 'CERTIFICATE')[0]!;
          const cert = parseCertificate(der);
          out.push({ serialHex: cert.serialHex, notAfter: cert.notAfter, station: c.station });
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return out;
}

/** A delegated OCSP signer for `issuerId`, certified by the CA the way our responder gets its own. */
async function obtainSigner(caUrl: string, ocspTls: ServiceTls, issuerId: string): Promise<{ certPem: string; keyPem: string }> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const dispatcher = new Agent({ connect: serviceClientTlsOptions(ocspTls) });
  let status: number;
  let text: string;
  try {
    const res = await request(`${caUrl}/v1/ocsp-signers`, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ issuerId, csr: buildCsr(privateKey, { cn: `OCSP Signer ${issuerId} (openssl bench)` }) }),
    });
    status = res.statusCode;
    text = await res.body.text();
  } finally {
    await dispatcher.close();
  }
  if (status !== 201) throw new Error(`CA /v1/ocsp-signers answered ${status}: ${text.slice(0, 400)}`);
  return { certPem: (JSON.parse(text) as { certificate: string }).certificate, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** openssl's index.txt time format. */
function indexTime(d: Date): string {
  return d.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');
}
const evenHex = (h: string): string => (h.length % 2 ? '0' + h : h);

// ---------------------------------------------------------------------------------------------
// Response checks

/** responseStatus of a DER OCSPResponse (0 = successful), or -1 when it does not look like one. */
function ocspResponseStatus(der: Buffer): number {
  if (der[0] !== 0x30 || der.length < 5) return -1;
  const l = der[1]!;
  const off = l < 0x80 ? 2 : 2 + (l & 0x7f);
  return der[off] === 0x0a && der[off + 1] === 1 ? der[off + 2]! : -1;
}

interface Files {
  readonly root: string;
  readonly sub: string;
}

interface Target {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: Buffer;
}

/**
 * One request through fetch, the response checked with the OpenSSL CLI: successful, signed by a
 * signer that chains to the root, the certificate good; with a nonce, the nonce echoed.
 */
async function sanityCheck(t: Target, serialHex: string, files: Files, work: string, nonce?: Buffer): Promise<{ ok: boolean; detail: string; bytes: number }> {
  const res = await fetch(t.url + t.path, { method: t.method, ...(t.body ? { body: t.body, headers: { 'content-type': 'application/ocsp-request' } } : {}) });
  const der = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) return { ok: false, detail: `HTTP ${res.status}`, bytes: der.length };
  if (res.headers.get('content-type') !== 'application/ocsp-response') return { ok: false, detail: `content-type ${res.headers.get('content-type')}`, bytes: der.length };
  const status = ocspResponseStatus(der);
  if (status !== 0) return { ok: false, detail: `OCSP responseStatus ${status}`, bytes: der.length };
  if (nonce && !der.includes(nonce)) return { ok: false, detail: 'nonce not echoed', bytes: der.length };
  const file = join(work, `resp-${Date.now()}.der`);
  writeFileSync(file, der);
  const r = spawnSync(
    'openssl',
    ['ocsp', '-respin', file, '-CAfile', files.root, '-verify_other', files.sub, '-issuer', files.sub, '-sha256', '-serial', `0x${evenHex(serialHex)}`, '-no_nonce'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  const text = `${r.stdout}${r.stderr}`;
  const good = new RegExp(`0x${evenHex(serialHex)}: good`, 'i').test(text);
  const verified = /Response verify OK/.test(text);
  return { ok: good && verified, detail: good && verified ? 'successful, verifies, good' + (nonce ? ', nonce echoed' : '') : text.trim().replace(/\s+/g, ' ').slice(0, 300), bytes: der.length };
}

/** `n` requests from the rotation through undici; counts HTTP non-200 and OCSP non-successful answers. */
async function statusSweep(url: string, targets: readonly Target[], n: number): Promise<{ checked: number; bad: number; example?: string }> {
  const pool = new Pool(url, { connections: 4 });
  let bad = 0;
  let example: string | undefined;
  try {
    for (let i = 0; i < n; i++) {
      const t = targets[(i * 7) % targets.length]!;
      const r = await pool.request({ path: t.path, method: t.method, ...(t.body ? { body: t.body, headers: { 'content-type': 'application/ocsp-request' } } : {}) });
      const der = Buffer.from(await r.body.arrayBuffer());
      const s = ocspResponseStatus(der);
      if (r.statusCode !== 200 || s !== 0) {
        bad++;
        example ??= `HTTP ${r.statusCode}, OCSP status ${s}`;
      }
    }
  } finally {
    await pool.close();
  }
  return { checked: n, bad, ...(example ? { example } : {}) };
}

/** pki_ocsp_responses_total by `method/outcome` (presigned, signed, or the OCSP error) from the responder's /metrics. */
async function responderOutcomes(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^pki_ocsp_responses_total\{([^}]*)\} (\S+)$/gm)) {
    const l = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    // outcome: presigned, signed (live) or the OCSP error status, as the benchmarks report it.
    const labels = { method: l.method, outcome: l.source === 'live' ? 'signed' : l.source === 'unsigned' ? l.status : l.source };
    out[`${labels.method}/${labels.outcome}`] = (out[`${labels.method}/${labels.outcome}`] ?? 0) + Number(m[2]);
  }
  return out;
}

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) > 0) out[k] = v - (a[k] ?? 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// CPU profile of the responder (BENCH_PROFILE=DIR)

const RESPONDER_BY_URL: [RegExp, string][] = [
  [/node_modules\/(lmdb|msgpackr|ordered-binary)\/|libs\/store\//, 'store: lmdb + msgpackr'],
  [/libs\/ocsp\/dist\/request/, 'OCSP request parsing'],
  [/libs\/x509\/dist\/der/, 'DER reading and writing (libs/x509 der.js: request parsing, response encoding)'],
  [/libs\/ocsp\/|libs\/x509\//, 'OCSP response building, CertID lookup'],
  [/node_modules\/prom-client\//, 'metrics (prom-client)'],
  [/node_modules\/(pino|sonic-boom|thread-stream)/, 'logging (pino)'],
  [/services\/ocsp\/dist\/|libs\/service\//, 'responder code (service.ts, responder.ts)'],
];

/** The component a busy sample of the responder is charged to, from its stack (leaf first). */
function responderComponent(stack: readonly CallFrame[]): string {
  const leaf = stack[0]!;
  const pseudo = v8PseudoFrame(leaf);
  if (pseudo) return pseudo;
  if (leaf.url === '' && /^write(v|Buffer|Utf8String|Latin1String|AsciiString)$/.test(leaf.functionName))
    return 'socket writes (syscall; on loopback it includes delivering to, and waking, the client)';
  if (/^(sign|signOneShot|signTbs)$/.test(leaf.functionName)) return 'ECDSA sign (crypto.sign)';
  for (const f of stack) {
    if (f.functionName === 'sign' && /node:internal\/crypto/.test(f.url)) return 'ECDSA sign (crypto.sign)';
    if (!f.url || f.url.startsWith('node:')) continue;
    return RESPONDER_BY_URL.find(([re]) => re.test(f.url))?.[1] ?? 'other libraries';
  }
  return stack.some((f) => /^node:(_http|net|internal\/http|internal\/stream|internal\/streams)/.test(f.url)) ? 'node:http + sockets + streams' : 'node internals (timers, promises, other)';
}

/** The function a busy sample ran in (self time): name, file and line. */
function leafFunction(stack: readonly CallFrame[]): string {
  const leaf = stack[0]!;
  return `${leaf.functionName || '(anonymous)'} ${leaf.url.replace(/^.*\/(node_modules|libs|services)\//, '$1/')}:${leaf.lineNumber + 1}`;
}

/** Busy time of the responder's JS thread by component and by function (self time). */
function profileBreakdown(file: string): { busySeconds: number; components: [string, number][]; functions: [string, number][] } {
  const p = readBusyProfile(file);
  return { busySeconds: p.busyMicros / 1e6, components: sharesBy(p, responderComponent), functions: sharesBy(p, leafFunction).slice(0, 25) };
}

// ---------------------------------------------------------------------------------------------
// Output

type ScenarioId = 'floor-get' | 'floor-post' | 'presigned-get' | 'presigned-post' | 'nonce-post' | 'openssl-post';

interface Scenario {
  readonly id: ScenarioId;
  readonly label: string;
  readonly conc: number;
  readonly requests: number;
  /** Socket errors + non-2xx + (our responder) answers other than the expected outcome. */
  readonly errors: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly bytesPerResponse: number;
  readonly serverCpuUsPerReq: number;
  readonly cpu: CpuUse;
  readonly wrk: WrkRun;
  readonly outcomes?: Record<string, number>;
  readonly sanity?: { ok: boolean; detail: string; bodyBytes: number };
  readonly sweep?: { checked: number; bad: number; example?: string };
  readonly note?: string;
}

function toScenario(id: ScenarioId, label: string, w: WrkRun, extra: { unexpected?: number; outcomes?: Record<string, number>; note?: string } = {}): Scenario {
  const socket = w.socketErrors.connect + w.socketErrors.read + w.socketErrors.write + w.socketErrors.timeout;
  const good = w.requests - w.non2xx - (extra.unexpected ?? 0);
  return {
    id,
    label,
    conc: CONC,
    requests: w.requests,
    errors: socket + w.non2xx + (extra.unexpected ?? 0),
    perSecond: good / w.seconds,
    p50Ms: w.p50Ms,
    p90Ms: w.p90Ms,
    p99Ms: w.p99Ms,
    maxMs: w.maxMs,
    bytesPerResponse: w.requests ? w.bytes / w.requests : NaN,
    serverCpuUsPerReq: w.requests ? (w.cpu.serverCores * w.seconds * 1e6) / w.requests : NaN,
    cpu: w.cpu,
    wrk: w,
    ...(extra.outcomes ? { outcomes: extra.outcomes } : {}),
    ...(extra.note ? { note: extra.note } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const startedAt = new Date();
  const wall0 = performance.now();
  const tmpRoot = tempDir('evpki-bench-ocsp-');
  const dataDir = join(tmpRoot, 'pki');
  const work = join(tmpRoot, 'work');
  mkdirSync(work);
  const procs: Proc[] = [];
  const scenarios: Scenario[] = [];
  const problems: string[] = [];
  const profiles: Profile[] = [];
  let presignSeconds = NaN;
  let presignedBytes = NaN;
  try {
    if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is not installed (apt-get install -y wrk; `make bench-ocsp` does it)');

    // --- dev PKI and CA
    const ocspPort = await freePort();
    const caPort = await freePort();
    const caOpsPort = await freePort();
    const ocspUrl = `http://127.0.0.1:${ocspPort}`;
    // The CA's API is mutual TLS with the service certificates; readiness on its ops port.
    const caUrl = `https://127.0.0.1:${caPort}`;
    log(`dev PKI in ${dataDir}`);
    initDevPki(dataDir, ['--ocsp-url', ocspUrl]);
    const manifest = readManifest(dataDir);
    const ca = spawnService('CA', 'ca', { PKI_DATA_DIR: dataDir, CA_PORT: String(caPort), CA_OPS_PORT: String(caOpsPort) });
    procs.push(ca);
    await waitReady(ca, `http://127.0.0.1:${caOpsPort}/readyz`, 20_000);

    // --- stations and certificates
    const store = openStore({ dataDir });
    let issuerCert: ParsedCertificate;
    let issued: Issued[];
    const files: Files = { root: join(work, 'root.pem'), sub: join(work, 'sub.pem') };
    try {
      const subRec = await store.getIssuer(manifest.issuers.chargePoint);
      const rootRec = await store.getIssuer(manifest.issuers.root);
      if (!subRec || !rootRec) throw new Error('issuers missing from the dev PKI store');
      issuerCert = parseCertificate(Buffer.from(subRec.certificate));
      writeFileSync(files.root, toPem('CERTIFICATE', Buffer.from(rootRec.certificate)));
      writeFileSync(files.sub, toPem('CERTIFICATE', Buffer.from(subRec.certificate)));
      for (let i = 0; i < STATIONS; i++) {
        const now = new Date().toISOString();
        await store.putStation({ tenant: TENANT, stationId: `bench-${i}`, serialNumber: `BENCH-${i}`, allowed: true, createdAt: now, updatedAt: now });
      }
      let t = performance.now();
      const csrs = await makeCsrs(CERTS, { perWorker: 250 });
      log(`${CERTS} CSRs in ${f2((performance.now() - t) / 1000)} s`);
      t = performance.now();
      issued = await issueAll(caUrl, readServiceTls(dataDir, 'ra-client'), csrs);
      log(`${issued.length} certificates issued by the CA in ${f2((performance.now() - t) / 1000)} s`);

      // --- our responder; wait until every certificate has its pre-signed responses
      const ocsp = spawnService('OCSP responder', 'ocsp', { PKI_DATA_DIR: dataDir, OCSP_PORT: String(ocspPort), OCSP_CA_URL: caUrl }, experimentArgs('ocsp', profiles));
      procs.push(ocsp);
      t = performance.now();
      await waitReady(ocsp, `${ocspUrl}/readyz`, 20_000);
      for (let pending = issued.length; pending > 0; ) {
        pending = 0;
        for (const c of issued) {
          const [a, b] = await Promise.all([store.getOcspResponse(subRec.id, c.serialHex, 'sha256'), store.getOcspResponse(subRec.id, c.serialHex, 'sha1')]);
          if (!a || !b) pending++;
          else presignedBytes = a.der.length;
        }
        if (pending && performance.now() - t > 120_000) throw new Error(`${pending} certificates still without pre-signed responses after 120 s:\n${ocsp.output()}`);
        if (pending) await sleep(200);
      }
      presignSeconds = (performance.now() - t) / 1000;
      log(`responder pid ${ocsp.child.pid} ready, all ${issued.length} certificates pre-signed (SHA-256 and SHA-1 CertIDs) ${f2(presignSeconds)} s after start`);
    } finally {
      await store.close();
    }
    const ocspProc = procs.at(-1)!;

    // --- the signer for openssl ocsp, then the CA is no longer needed
    const signer = await obtainSigner(caUrl, readServiceTls(dataDir, 'ocsp-client'), manifest.issuers.chargePoint);
    await stopProc(ca, 5000);

    // --- requests: one SHA-256 CertID per certificate (what charge points send)
    const h = issuerHashes(issuerCert).sha256;
    const certIds = issued.map((c) => encodeCertId('sha256', h.name, h.key, serialFromHex(c.serialHex)));
    const postHead = (len: number): string => `POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${len}\r\n\r\n`;
    const getTargets: Target[] = certIds.map((id) => ({ url: ocspUrl, method: 'GET', path: `/ocsp/${encodeURIComponent(buildOcspRequest([id]).toString('base64'))}` }));
    const postTargets: Target[] = certIds.map((id) => ({ url: ocspUrl, method: 'POST', path: '/ocsp', body: buildOcspRequest([id]) }));
    const getRaw = getTargets.map((t) => Buffer.from(`GET ${t.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    const postRaw = postTargets.map((t) => Buffer.concat([Buffer.from(postHead(t.body!.length)), t.body!]));
    const nonceHeads = certIds.map((id) => {
      const body = buildOcspRequest([id], Buffer.alloc(NONCE_BYTES));
      if (!body.subarray(-NONCE_BYTES).equals(Buffer.alloc(NONCE_BYTES))) throw new Error('the nonce is not the last element of the request');
      return Buffer.concat([Buffer.from(postHead(body.length)), body.subarray(0, body.length - NONCE_BYTES)]);
    });
    const scripts = {
      get: rotationScript(join(work, 'get.lua'), getRaw),
      post: rotationScript(join(work, 'post.lua'), postRaw),
      nonce: nonceScript(join(work, 'nonce.lua'), nonceHeads),
    };
    const first = issued[0]!;
    const avgLen = (a: readonly Buffer[]): number => a.reduce((s, b) => s + b.length, 0) / a.length;
    log(`requests: GET ${f0(avgLen(getRaw))} B, POST ${f0(avgLen(postRaw))} B, nonce POST ${f0(avgLen(nonceHeads) + NONCE_BYTES)} B (with headers), over ${certIds.length} certificates`);

    // --- the floor (bare node:http, fixed 471-byte body) and our responder, measured in turn per
    // method (floor GET, responder GET, floor POST, responder POST), so that a drift of the machine
    // over the run weighs on both sides of each ratio; each server idles while the other is measured.
    const floor = ONLY_OCSP ? undefined : spawnNode('floor', [FLOOR_SERVER, 'ocsp-floor']);
    if (floor) procs.push(floor);
    const floorUrl = floor ? `http://127.0.0.1:${await waitListening(floor)}` : '';
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
      const o0 = await responderOutcomes(ocspUrl);
      const w = await runWrk(ocspUrl, script, MEASURE_S, ocspPid);
      const outcomes = delta(o0, await responderOutcomes(ocspUrl));
      const unexpected = Object.entries(outcomes).reduce((a, [k, v]) => a + (k === expected ? 0 : v), 0);
      const s = toScenario(id, label, w, { unexpected, outcomes });
      const c = await sanityCheck(target, first.serialHex, files, work, nonce);
      scenarios.push({ ...s, sanity: { ok: c.ok, detail: c.detail, bodyBytes: c.bytes } });
      if (!c.ok) problems.push(`${label}: sanity check failed: ${c.detail}`);
      log(`${label}: ${f0(s.perSecond)} req/s, p50 ${f2(s.p50Ms)} ms, p99 ${f2(s.p99Ms)} ms, errors ${s.errors}, outcomes ${JSON.stringify(outcomes)}`);
    };
    await measureFloor('floor-get', 'floor: bare node:http GET, fixed 471 B', scripts.get);
    await measureResponder('presigned-get', 'responder: pre-signed, GET', scripts.get, 'GET/presigned', getTargets[0]!);
    await measureFloor('floor-post', 'floor: bare node:http POST, fixed 471 B', scripts.post);
    await measureResponder('presigned-post', 'responder: pre-signed, POST', scripts.post, 'POST/presigned', postTargets[0]!);
    const nonce = randomBytes(NONCE_BYTES);
    await measureResponder('nonce-post', 'responder: nonce POST (signed live)', scripts.nonce, 'POST/signed', { ...postTargets[0]!, body: buildOcspRequest([certIds[0]!], nonce) }, nonce);
    if (floor) await stopProc(floor, 5000);
    await stopProc(ocspProc, 5000);

    // --- openssl ocsp -multi 2 for the same CA and certificates
    if (!ONLY_OCSP) {
      const index = join(work, 'index.txt');
      writeFileSync(`${index}.attr`, 'unique_subject = no\n'); // several certificates per station, as in the store
      writeFileSync(index, issued.map((c) => `V\t${indexTime(c.notAfter)}\t\t${evenHex(c.serialHex).toUpperCase()}\tunknown\t/O=${CPO}/CN=BENCH-${c.station}\n`).join(''));
      writeFileSync(join(work, 'signer.pem'), signer.certPem);
      writeFileSync(join(work, 'signer.key'), signer.keyPem, { mode: 0o600 });
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const ossl = spawnProc(
        'openssl ocsp',
        'openssl',
        ['ocsp', '-index', index, '-CA', files.sub, '-rsigner', join(work, 'signer.pem'), '-rkey', join(work, 'signer.key'), '-resp_key_id', '-port', String(port), '-multi', '2', '-nmin', '1', '-ignore_err'],
        serviceEnv({}),
        true,
      );
      procs.push(ossl);
      try {
        const until = Date.now() + 15_000;
        let c: { ok: boolean; detail: string; bytes: number };
        for (;;) {
          c = await sanityCheck({ ...postTargets[0]!, url }, first.serialHex, files, work).catch((e: Error) => ({ ok: false, detail: `${e.message} ${(e.cause as Error | undefined)?.message ?? ''}`, bytes: 0 }));
          if (c.ok) break;
          if (Date.now() > until || ossl.child.exitCode !== null) throw new Error(`openssl ocsp not answering: ${c.detail}\n${ossl.output()}`);
          await sleep(200);
        }
        // The checks and the warm-up come before the measurement: OpenSSL 3.0's responder workers spin
        // forever on a connection closed before its request arrived, which is how every wrk run ends
        // (connections still waiting in the accept queue), so after a wrk run the responder is killed.
        const sweep = await statusSweep(url, postTargets.map((t) => ({ ...t, url })), QUICK ? 300 : 1000);
        const pid = ossl.child.pid!;
        const w = await runWrk(url, scripts.post, MEASURE_S, pid);
        const s = toScenario('openssl-post', 'openssl ocsp -multi 2, POST', w, {
          note: 'closes the connection after each response (HTTP/1.0, no keep-alive), by design: wrk reconnects, and latency excludes connect time',
        });
        scenarios.push({ ...s, sanity: { ok: c.ok, detail: c.detail, bodyBytes: c.bytes }, sweep });
        if (sweep.bad) problems.push(`openssl ocsp: ${sweep.bad}/${sweep.checked} sampled answers not successful (${sweep.example ?? ''})`);
        log(`openssl ocsp -multi 2: ${f0(s.perSecond)} req/s, p50 ${f2(s.p50Ms)} ms, p99 ${f2(s.p99Ms)} ms, errors ${s.errors}`);
      } finally {
        await killGroup(ossl);
      }
    }
  } finally {
    await stopAll(procs, 5000);
    cleanup();
  }

  // --- report
  for (const s of scenarios) if (s.errors) problems.push(`${s.label}: ${s.errors} errors (${JSON.stringify({ ...s.wrk.socketErrors, non2xx: s.wrk.non2xx, ...(s.outcomes ? { outcomes: s.outcomes } : {}) })})`);
  const by = (id: ScenarioId): Scenario | undefined => scenarios.find((s) => s.id === id);
  const ratio = (a: ScenarioId, b: ScenarioId): number => (by(a)?.perSecond ?? NaN) / (by(b)?.perSecond ?? NaN);
  const checks = [
    { name: 'pre-signed GET / floor GET', value: ratio('presigned-get', 'floor-get'), target: TARGET.vsFloor, unit: 'x' },
    { name: 'pre-signed POST / floor POST', value: ratio('presigned-post', 'floor-post'), target: TARGET.vsFloor, unit: 'x' },
    { name: 'pre-signed GET / openssl ocsp POST', value: ratio('presigned-get', 'openssl-post'), target: TARGET.vsOpenssl, unit: 'x' },
    { name: 'pre-signed POST / openssl ocsp POST', value: ratio('presigned-post', 'openssl-post'), target: TARGET.vsOpenssl, unit: 'x' },
    { name: 'nonce POST (signed live), req/s', value: by('nonce-post')?.perSecond ?? NaN, target: TARGET.noncePerSecond, unit: '/s' },
  ].map((c) => ({ ...c, verdict: !Number.isFinite(c.value) ? 'n/a' : c.value >= c.target ? 'PASS' : 'MISS' }));

  const out: string[] = [];
  out.push('');
  out.push(`bench-ocsp: ${CORES} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]?.split(' [')[0] ?? 'wrk'}, ${spawnSync('openssl', ['version'], { encoding: 'utf8' }).stdout.trim().split(' (')[0] ?? ''}`);
  out.push(`load: wrk -t1 -c${CONC}, ${MEASURE_S} s per scenario after a ${WARMUP_S} s warm-up, keep-alive; requests rotate over ${CERTS} certificates (SHA-256 CertIDs, one per request)`);
  out.push(`pre-signed response: ${f0(presignedBytes)} B DER (includes the delegated signer certificate); ${CERTS} certificates pre-signed (x2 CertID hashes) within ${f2(presignSeconds)} s of responder start`);
  if (SERVICE_IMPORT) out.push(`EXPERIMENT: responder started with --import ${SERVICE_IMPORT}`);
  if (PROFILE_DIR) out.push('NOTE: the responder ran with --cpu-prof (slower than normal)');
  out.push('');
  out.push(
    grid(
      ['scenario', 'conc', 'requests', 'errors', 'req/s', 'p50 ms', 'p99 ms', 'B/resp', 'srv CPU µs/req', 'srv cores', 'srv main', 'wrk cores', 'other load'],
      scenarios.map((s) => [
        s.label,
        String(s.conc),
        String(s.requests),
        String(s.errors),
        f0(s.perSecond),
        f2(s.p50Ms),
        f2(s.p99Ms),
        f0(s.bytesPerResponse),
        f0(s.serverCpuUsPerReq),
        f2(s.cpu.serverCores),
        pc(s.cpu.serverMainBusy),
        f2(s.cpu.wrkCores),
        f2(s.cpu.otherLoadCores),
      ]),
    ),
  );
  out.push('(B/resp: response bytes incl. HTTP headers; srv CPU: all threads and processes of the server; srv main: the server main thread busy share');
  out.push(' (node: the JS thread); wrk cores: the load generator; other load: busy cores not explained by server, wrk and softirq, > 0.15 = noisy run)');
  const noisy = scenarios.filter((s) => s.cpu.otherLoadCores > 0.15);
  if (noisy.length) out.push(`WARNING: other load on the machine during ${noisy.map((s) => s.id).join(', ')} (up to ${f2(Math.max(...noisy.map((s) => s.cpu.otherLoadCores)))} cores): numbers are pessimistic; re-run on a quiet machine.`);
  for (const s of scenarios) if (s.note) out.push(`note: ${s.label}: ${s.note}`);
  out.push('');
  out.push('Targets (ratios of rates measured in this run):');
  out.push(grid(['', 'measured', 'target', ''], checks.map((c) => [c.name, c.unit === 'x' ? `${f2(c.value)}x` : f0(c.value), c.unit === 'x' ? `>= ${f2(c.target)}x` : `>= ${c.target}`, c.verdict])));
  out.push('');
  out.push('Sanity (one request per scenario via fetch, checked with `openssl ocsp -respin -CAfile root -verify_other sub`; responder outcomes from its /metrics):');
  for (const s of scenarios) {
    if (!s.sanity && !s.outcomes) continue;
    const parts = [s.sanity ? `${s.sanity.ok ? 'OK' : 'FAILED'}: ${s.sanity.detail} (${s.sanity.bodyBytes} B)` : ''];
    if (s.outcomes) parts.push(`outcomes ${Object.entries(s.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    if (s.sweep) parts.push(`${s.sweep.checked - s.sweep.bad}/${s.sweep.checked} sampled answers successful`);
    out.push(`  ${s.label}: ${parts.filter(Boolean).join('; ')}`);
  }
  const profileReport = analyseProfiles(profiles, profileBreakdown, problems);
  for (const [name, r] of Object.entries(profileReport)) {
    out.push('');
    out.push(`CPU profile of the ${name} responder's JS thread over its whole run (--cpu-prof, ${f2(r.busySeconds)} s busy; share of busy time):`);
    out.push(...shareLines(r.components));
    out.push('  top functions by self time:');
    out.push(...shareLines(r.functions));
  }
  out.push(...problemLines(problems));
  out.push('');
  out.push(`total bench wall time ${f0((performance.now() - wall0) / 1000)} s; JSON: ${RESULTS}`);
  process.stdout.write(out.join('\n') + '\n');

  writeResults(RESULTS, 'bench-ocsp', startedAt, {
    config: { concurrency: CONC, measureSeconds: MEASURE_S, warmupSeconds: WARMUP_S, prewarmSeconds: PREWARM_S, certificates: CERTS, quick: QUICK, serviceImport: SERVICE_IMPORT },
    presignedResponseBytes: presignedBytes,
    targets: checks,
    scenarios,
    ...profilesJson(profiles, profileReport),
    problems,
  });
  if (problems.length) process.exitCode = 1;
}

runBench('bench-ocsp', main);
