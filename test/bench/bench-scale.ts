/**
 * `make bench-scale`: the OCSP responder on the Redis store at 1,000 and at 1,000,000 certificate
 * records, in the same run (issue 4, "Scale"). Target: p99 latency at one million within 1.2x the
 * p99 at one thousand.
 *
 *   1. A redis-server of its own (AOF on, appendfsync everysec: see REDIS_ARGS), `pki init --dev`
 *      into it, the CA and one OCSP responder as processes on that store.
 *   2. Phase "1k": 1,000 synthetic charge point certificate records are written through the real
 *      write path (RedisStore.recordIssuance: record, indexes and the OCSP pre-signing queue in one
 *      Lua script), then the bench waits until the responder has pre-signed all of them (SHA-256
 *      and SHA-1 CertIDs), and measures.
 *   3. Phase "1M": the other 999,000 records, the same wait (a progress line on stderr for both),
 *      the same measurement. Two more responder instances share the pre-signing of this phase
 *      (BENCH_PRESIGN_HELPERS; the store's claims keep them apart) and are stopped before it is
 *      measured: one responder pre-signs only ~1,000-1,400 certificates/s on this machine.
 *
 * Records: distinct random serials (16 random bytes, top bit cleared, first byte non-zero so that
 * every CertID has the same length), distinct spkiSha256, tenant demo, stations spread over
 * 10,000 ids; the DER is that of one real certificate issued by the CA at the start, reused as a
 * template (the responder never reads a record's DER: it signs from serial and status).
 *
 * Measurement at each size, all requests for certificates drawn uniformly at random from the
 * whole loaded population (POST /ocsp, one SHA-256 CertID, no nonce):
 *   - open loop: BENCH_RATE (2,000) requests/s for BENCH_SECONDS (15) after a 3 s warm-up, over
 *     32 keep-alive connections (a minimal HTTP/1.1 client, RawHttpPool: undici cost 4x the CPU);
 *     latency from each request's scheduled send time to the end of its response, so a stall of
 *     the responder counts for every request it delays (no coordinated omission). The schedule is
 *     kept by a worker thread (scale-clock.ts); how late requests really left is reported as "send
 *     lag". Every response is checked: HTTP 200, OCSP successful, and the requested CertID
 *     followed by status good; one per phase is also verified with `openssl ocsp -respin`
 *     (signature chain, serial, good). At the big size a control run asks about the first 1,000
 *     records only (answered from the responder's memory, as at 1k) under the same conditions.
 *     Before each measurement, 60,000 requests for random certificates (closed loop) bring the
 *     responder's in-memory cache to its steady state: at the big size full, each miss evicting;
 *   - the Redis round trip alone: the same open loop doing the responder's store read (HGET of the
 *     pre-signed response) from this process, and Redis's own command statistics over the run
 *     (store reads per request: a request answered from the responder's in-memory cache of
 *     pre-signed answers, up to 50,000, reads nothing);
 *   - memory: Redis used_memory before the first record and after pre-signing (record, indexes and
 *     two pre-signed responses per certificate), per record; a MEMORY USAGE breakdown over a
 *     sample; the responder's RSS;
 *   - saturation (if wrk is installed): wrk -t1 -c32 for 5 s, requests drawn at random from the
 *     whole population inside wrk's Lua script; throughput only.
 *
 * Not a test: it exits non-zero when a response is wrong or a step fails, not on a missed target.
 * Results: stdout and bench-results/scale.json.
 *
 * Env knobs: BENCH_SCALE_RECORDS (default 1,000,000; at least 2,000), BENCH_QUICK=1 (20,000
 * records, shorter runs), BENCH_RATE (requests/s, 2,000), BENCH_SECONDS (measured seconds, 15),
 * BENCH_PRESIGN_HELPERS (extra pre-signing responders for the big phase, 2), BENCH_PROFILE=DIR
 * (the measured responder runs with --cpu-prof into DIR), BENCH_SERVICE_IMPORT=FILE (it starts
 * with `node --import FILE`).
 */
import { spawnSync } from 'node:child_process';
import { chargingStation, coverageOf } from '@evpki/issuance';
import { createHash, generateKeyPairSync, randomFillSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { initPki } from '@evpki/cli';
import { buildOcspRequest, encodeCertId, issuerHashes } from '@evpki/ocsp';
import { RedisStore, redisKey, type CertificateRecord } from '@evpki/store';
import { parseCertificate, pemBlocks, toPem } from '@evpki/x509';
import { buildCsr } from '../helpers/csr.js';
import { caRequest } from '../helpers/service-tls.js';
import {
  CERT_TYPE, CORES, CPO, PROFILE_DIR, QUICK, ROOT, SERVICE_IMPORT, TENANT, log, sleep,
  cleanup, freePort, runBench, spawnProc, spawnService, stopAll, stopProc, tempDir, waitReady, type Proc,
  cpuSeconds, machineCpu, machineShares, statFields,
  experimentArgs, type Profile,
  f0, f1, f2, grid, problemLines, writeResults,
} from './bench-kit.js';

// ---------------------------------------------------------------------------------------------
// Configuration

const RESULTS = join(ROOT, 'bench-results/scale.json');
const CLOCK_WORKER = new URL('./scale-clock.js', import.meta.url);

const TOTAL = Math.round(Number(process.env.BENCH_SCALE_RECORDS ?? (QUICK ? 20_000 : 1_000_000)));
const SMALL = 1000;
const RATE = Number(process.env.BENCH_RATE ?? 2000);
const MEASURE_S = Number(process.env.BENCH_SECONDS ?? (QUICK ? 8 : 15));
const WARMUP_S = QUICK ? 2 : 3;
/** The Redis round-trip probe: shorter, same rate. */
const PROBE_S = QUICK ? 3 : 5;
const WRK_S = QUICK ? 3 : 5;
/** The control run at the big size (requests over 1,000 records only). */
const CONTROL_S = QUICK ? 4 : 8;
const WRK_CONC = 32;
/** Keep-alive connections of the open-loop generator (a stalled responder queues requests on them). */
const CONNECTIONS = 32;
/** recordIssuance calls in flight while loading. */
const LOAD_CONCURRENCY = 256;
const STATION_SPREAD = 10_000;
const TARGET_RATIO = 1.2;
/** The responder's in-memory cache of pre-signed answers (services/ocsp/src/responder.ts MAX_REMEMBERED). */
const RESPONDER_CACHE = 50_000;
/** Requests before each measurement (random certificates), enough to fill that cache at the big size. */
const PREFILL = RESPONDER_CACHE + 10_000;
/**
 * Extra responder instances that share the pre-signing of the big phase (BENCH_PRESIGN_HELPERS):
 * one responder pre-signs about 1,000-1,400 certificates/s here, waiting on one Redis round trip
 * after another, which would make pre-signing a million take a quarter of an hour.
 */
const PRESIGN_HELPERS = Number(process.env.BENCH_PRESIGN_HELPERS ?? 2);
/** Pre-signing that makes no progress for this long fails the bench. */
const STALL_MS = 120_000;
/** Every serial of the population: 16 bytes, so every request is a fixed prefix and the serial. */
const SERIAL_BYTES = 16;

/**
 * Durability as in production (AOF on), but fsync once a second rather than per write: the bulk
 * load is a benchmark setup step, and reads (what is measured) never wait for fsync. Automatic AOF
 * rewrites stay on; the bench waits for a rewrite to finish before measuring.
 */
const REDIS_ARGS = ['--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--daemonize', 'no', '--loglevel', 'warning'];

// ---------------------------------------------------------------------------------------------
// Redis: a server of the bench's own (killed by cleanup() on any exit), INFO parsing

async function startRedis(dir: string): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = spawnProc('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, ...REDIS_ARGS], process.env);
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    for (let i = 0; i < 400; i++) {
      if (proc.child.exitCode !== null) throw new Error(`redis-server exited:\n${proc.output()}`);
      try {
        if (probe.status !== 'ready') await probe.connect();
        await probe.ping();
        return { proc, url: `redis://127.0.0.1:${port}` };
      } catch {
        await sleep(25);
      }
    }
  } finally {
    probe.disconnect();
  }
  throw new Error(`redis-server did not start:\n${proc.output()}`);
}

async function info(r: Redis, section: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of (await r.info(section)).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** calls and usec per command from INFO commandstats. */
async function commandStats(r: Redis): Promise<Record<string, { calls: number; usec: number }>> {
  const out: Record<string, { calls: number; usec: number }> = {};
  for (const [k, v] of Object.entries(await info(r, 'commandstats'))) {
    const calls = /calls=(\d+)/.exec(v);
    const usec = /usec=(\d+)/.exec(v);
    if (calls && usec) out[k.replace(/^cmdstat_/, '')] = { calls: Number(calls[1]), usec: Number(usec[1]) };
  }
  return out;
}

/** Waits until no AOF rewrite is running or scheduled (a rewrite forks and copies the dataset). */
async function waitAofIdle(r: Redis): Promise<number> {
  const t = performance.now();
  for (;;) {
    const p = await info(r, 'persistence');
    if (p.aof_rewrite_in_progress === '0' && p.aof_rewrite_scheduled === '0') return (performance.now() - t) / 1000;
    if (performance.now() - t > 600_000) throw new Error('an AOF rewrite has been running for 10 minutes');
    await sleep(500);
  }
}

const k = redisKey;
const OCSP_DUE = k('ocspdue');

// ---------------------------------------------------------------------------------------------
// Progress: one updating line on stderr (a line every 10 s when stderr is not a terminal)

const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const dur = (s: number): string => (!Number.isFinite(s) ? '-' : s < 90 ? `${f0(s)} s` : `${Math.floor(s / 60)} min ${f0(s % 60).padStart(2, '0')} s`);

class ProgressLine {
  private last = -Infinity;
  private readonly tty = process.stderr.isTTY === true;
  private readonly t0 = performance.now();

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(done: number, extra = '', force = false): void {
    const now = performance.now();
    if (!force && now - this.last < (this.tty ? 250 : 10_000)) return;
    this.last = now;
    const frac = this.total ? Math.min(1, done / this.total) : 1;
    const rate = done / ((now - this.t0) / 1000);
    const width = 28;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '-');
    const line = `[bench] ${this.label} [${bar}] ${(frac * 100).toFixed(1).padStart(5)}% ${int(done)}/${int(this.total)}  ${int(rate)}/s  ETA ${dur((this.total - done) / rate)}${extra}`;
    process.stderr.write(this.tty ? `\r${line}\x1b[K` : `${line}\n`);
  }

  end(): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
  }
}

// ---------------------------------------------------------------------------------------------
// The population: serials (16 bytes each) in one buffer, records made from a template

class Population {
  readonly serials: Buffer;
  count = 0;

  constructor(readonly capacity: number) {
    this.serials = Buffer.alloc(capacity * SERIAL_BYTES);
  }

  serial(i: number): Buffer {
    return this.serials.subarray(i * SERIAL_BYTES, (i + 1) * SERIAL_BYTES);
  }

  /** A fresh random serial at index i: top bit cleared (positive INTEGER), first byte non-zero (fixed length). */
  draw(i: number): Buffer {
    const s = this.serial(i);
    do randomFillSync(s);
    while ((s[0]! & 0x7f) === 0);
    s[0] = s[0]! & 0x7f;
    return s;
  }

  /** Lowercase hex, no leading zeros, as the store keys certificates. */
  hex(i: number): string {
    return this.serial(i).toString('hex').replace(/^0+/, '');
  }
}

const sha256hex = (...parts: (Buffer | string)[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};
const stationOf = (i: number): string => `scale-${i % STATION_SPREAD}`;
/** Deterministic from the serial, so that the MEMORY USAGE sample can name the key index. */
const spkiOf = (serial: Buffer): string => sha256hex('spki', serial);

interface LoadResult {
  readonly seconds: number;
  readonly perSecond: number;
  readonly conflicts: number;
}

/**
 * Records [from, to) through RedisStore.recordIssuance, LOAD_CONCURRENCY in flight, with a
 * progress line that also shows how many of them the responder has pre-signed meanwhile.
 */
async function load(store: RedisStore, raw: Redis, pop: Population, template: CertificateRecord, from: number, to: number, label: string): Promise<LoadResult> {
  const progress = new ProgressLine(label, to - from);
  const subjectOf = (i: number): string => template.subject.replace('SCALE-TEMPLATE', `SCALE-${i % STATION_SPREAD}`);
  let next = from;
  let done = 0;
  let conflicts = 0;
  let presigned = 0;
  const dueBefore = await pendingPresign(raw);
  const poll = setInterval(() => {
    pendingPresign(raw).then(
      (p) => void (presigned = Math.max(0, done - (p - dueBefore))),
      () => undefined,
    );
  }, 1000);
  const t0 = performance.now();
  try {
    await Promise.all(
      Array.from({ length: Math.min(LOAD_CONCURRENCY, to - from) }, async () => {
        while (next < to) {
          const i = next++;
          for (;;) {
            const serial = pop.draw(i);
            const rec: CertificateRecord = {
              ...template,
              serial: pop.hex(i),
              stationId: stationOf(i),
              subject: subjectOf(i),
              spkiSha256: spkiOf(serial),
              sha256Fingerprint: sha256hex('fp', serial),
              issuedAt: new Date().toISOString(),
            };
            const outcome = await store.recordIssuance(rec, coverageOf(chargingStation));
            if (outcome.ok) break;
            conflicts++; // a serial (or key) drawn twice: draw again
            if (conflicts > 100) throw new Error(`recordIssuance keeps refusing: ${JSON.stringify(outcome)}`);
          }
          done++;
          progress.update(done, `  | pre-signed ${int(presigned)}`);
        }
      }),
    );
  } finally {
    clearInterval(poll);
    progress.end();
  }
  pop.count = to;
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, perSecond: (to - from) / seconds, conflicts };
}

/**
 * Certificates not yet pre-signed: due now, or claimed by the pre-signer (a claim moves the score
 * to now + 60 s). A pre-signed one is due again at half its response's life (days ahead).
 */
async function pendingPresign(raw: Redis): Promise<number> {
  return raw.zcount(OCSP_DUE, '-inf', Date.now() + 3_600_000);
}

/** Waits until the responder has pre-signed everything queued; `phaseRecords` sizes the progress line. */
async function waitPresigned(raw: Redis, phaseRecords: number, label: string, responder: Proc): Promise<number> {
  const t0 = performance.now();
  let pending = await pendingPresign(raw);
  const progress = new ProgressLine(label, pending);
  const start = pending;
  let lastChange = performance.now();
  try {
    while (pending > 0) {
      if (responder.child.exitCode !== null) throw new Error(`the OCSP responder exited:\n${responder.output()}`);
      await sleep(500);
      const p = await pendingPresign(raw);
      if (p !== pending) lastChange = performance.now();
      pending = p;
      progress.update(start - pending, `  (${int(phaseRecords - pending)}/${int(phaseRecords)} of the phase's records)`);
      if (performance.now() - lastChange > STALL_MS) throw new Error(`pre-signing stalled at ${pending} pending:\n${responder.output()}`);
    }
  } finally {
    progress.end();
  }
  return (performance.now() - t0) / 1000;
}

// ---------------------------------------------------------------------------------------------
// CPU accounting (/proc): responder, redis-server, this process, the machine

interface CpuSnap {
  readonly responder: number;
  readonly redis: number;
  readonly self: number;
  readonly reaped: number;
  readonly machine: number[];
}

function procCpu(pid: number): number {
  try {
    return cpuSeconds(statFields(`/proc/${pid}/stat`), 11, 12);
  } catch {
    return NaN;
  }
}

function cpuSnap(responderPid: number, redisPid: number): CpuSnap {
  const f = statFields('/proc/self/stat');
  return { responder: procCpu(responderPid), redis: procCpu(redisPid), self: cpuSeconds(f, 11, 12), reaped: cpuSeconds(f, 13, 14), machine: machineCpu() };
}

interface CpuUse {
  readonly responderCores: number;
  readonly redisCores: number;
  /** This process (the load generator) and, for wrk runs, wrk. */
  readonly loadGeneratorCores: number;
  /** Busy cores not explained by the above and softirq: other tenants; > 0.15 = noisy. */
  readonly otherLoadCores: number;
}

function cpuBetween(a: CpuSnap, b: CpuSnap, seconds: number): CpuUse {
  const m = machineShares(a.machine, b.machine);
  const responder = (b.responder - a.responder) / seconds;
  const redis = (b.redis - a.redis) / seconds;
  const gen = (b.self - a.self + b.reaped - a.reaped) / seconds;
  return {
    responderCores: responder,
    redisCores: redis,
    loadGeneratorCores: gen,
    otherLoadCores: Math.max(0, (m.busy - m.softirq) * CORES - responder - redis - gen),
  };
}

const rssMb = (pid: number): number => {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

// ---------------------------------------------------------------------------------------------
// Open-loop load generator: constant rate, latency from the scheduled send time

interface Latencies {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

function latencies(values: ArrayLike<number>): Latencies {
  const s = Float64Array.from(values).sort();
  const q = (p: number): number => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]! : NaN);
  let sum = 0;
  for (const v of s) sum += v;
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: s.length ? s[s.length - 1]! : NaN, mean: sum / s.length };
}

interface OpenLoopRun {
  readonly rate: number;
  readonly warmupSeconds: number;
  readonly measureSeconds: number;
  /** Requests scheduled in the measured window (after the warm-up). */
  readonly measured: number;
  /** Completed per second over the measured window. */
  readonly perSecond: number;
  readonly errors: number;
  readonly firstError?: string;
  /** Scheduled send time → response complete (what is reported). */
  readonly latencyMs: Latencies;
  /** Actual send time → response complete. */
  readonly serviceMs: Latencies;
  /** Scheduled → actual send time: the generator's own lateness. */
  readonly sendLagMs: Latencies;
  /** Per second of the measured window (by scheduled time): requests, p50, p99 and max latency, ms. */
  readonly timeline: readonly { readonly second: number; readonly requests: number; readonly p50: number; readonly p99: number; readonly max: number }[];
  readonly cpu: CpuUse;
}

/** A request: calls back once with an error text (undefined: correct answer). */
type Send = (i: number, done: (error?: string) => void) => void;

async function openLoop(send: Send, rate: number, warmupS: number, measureS: number, pids: { responder: number; redis: number }): Promise<OpenLoopRun> {
  const n = Math.round(rate * (warmupS + measureS));
  const first = Math.round(rate * warmupS);
  const interval = 1000 / rate;
  const abs = (): number => performance.timeOrigin + performance.now();
  const t0 = abs() + 50;
  const sentAt = new Float64Array(n).fill(NaN);
  const doneAt = new Float64Array(n).fill(NaN);
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  let completed = 0;
  let snapA: CpuSnap | undefined;
  let snapATime = 0;
  const stop = new SharedArrayBuffer(4);
  const clock = new Worker(CLOCK_WORKER, { workerData: { t0, intervalMs: interval, n, stop } });
  let resolveAll: () => void = () => undefined;
  const allDone = new Promise<void>((r) => (resolveAll = r));
  const finish = (i: number) => (error?: string): void => {
    doneAt[i] = abs();
    if (error !== undefined) {
      errors += i >= first ? 1 : 0;
      firstError ??= error;
    }
    if (++completed === n) resolveAll();
  };
  const fire = (): void => {
    const now = abs();
    while (next < n && t0 + next * interval <= now) {
      const i = next++;
      if (i === first) {
        snapA = cpuSnap(pids.responder, pids.redis);
        snapATime = performance.now();
      }
      sentAt[i] = abs();
      send(i, finish(i));
    }
  };
  clock.on('message', (m: number) => void (m >= 0 ? fire() : undefined));
  const clockError = new Promise<never>((_, rej) => clock.once('error', rej));
  try {
    const timeoutMs = (warmupS + measureS) * 1000 + 30_000;
    await Promise.race([allDone, clockError, sleep(timeoutMs)]);
  } finally {
    new Int32Array(stop)[0] = 1;
    await clock.terminate();
  }
  const snapB = cpuSnap(pids.responder, pids.redis);
  const cpu = cpuBetween(snapA ?? snapB, snapB, (performance.now() - snapATime) / 1000);
  // Unanswered requests count as errors with the time waited so far (never silently dropped).
  const end = abs();
  const lat: number[] = [];
  const svc: number[] = [];
  const lag: number[] = [];
  let measuredDone = 0;
  let lastDone = t0 + first * interval;
  for (let i = first; i < n; i++) {
    const scheduled = t0 + i * interval;
    if (Number.isNaN(doneAt[i]!)) {
      errors++;
      firstError ??= 'no answer within 30 s of the end of the run';
      lat.push(end - scheduled);
      continue;
    }
    measuredDone++;
    lastDone = Math.max(lastDone, doneAt[i]!);
    lat.push(doneAt[i]! - scheduled);
    svc.push(doneAt[i]! - sentAt[i]!);
    lag.push(sentAt[i]! - scheduled);
  }
  const window = (Math.max(lastDone, t0 + n * interval) - (t0 + first * interval)) / 1000;
  const timeline = Array.from({ length: Math.ceil(measureS) }, (_, second) => {
    const per = Math.round(rate);
    const l = latencies(lat.slice(second * per, (second + 1) * per));
    return { second, requests: Math.min(per, Math.max(0, lat.length - second * per)), p50: l.p50, p99: l.p99, max: l.max };
  });
  return {
    rate,
    warmupSeconds: warmupS,
    measureSeconds: measureS,
    measured: n - first,
    perSecond: measuredDone / window,
    errors,
    ...(firstError ? { firstError } : {}),
    latencyMs: latencies(lat),
    serviceMs: latencies(svc),
    sendLagMs: latencies(lag),
    timeline,
    cpu,
  };
}

// ---------------------------------------------------------------------------------------------
// OCSP requests and answers

interface Issuer {
  readonly id: string;
  readonly name: Buffer;
  readonly key: Buffer;
}

const certIdOf = (issuer: Issuer, serial: Buffer): Buffer => encodeCertId('sha256', issuer.name, issuer.key, serial);
const GOOD = Buffer.from([0x80, 0x00]);

/**
 * A POST /ocsp for a one-CertID request is a fixed prefix (HTTP head, DER up to the serial) and
 * the 16-byte serial, the last element of the DER (the population's serials all have 16 bytes);
 * the answer names the CertID, a fixed prefix and the serial.
 */
interface RequestParts {
  readonly http: Buffer;
  readonly certId: Buffer;
}

function requestParts(issuer: Issuer, sample: Buffer): RequestParts {
  const certId = certIdOf(issuer, sample);
  const body = buildOcspRequest([certId]);
  if (!body.subarray(-SERIAL_BYTES).equals(sample) || !certId.subarray(-SERIAL_BYTES).equals(sample)) throw new Error('the serial is not the last element of the request');
  const head = `POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${body.length}\r\n\r\n`;
  return { http: Buffer.concat([Buffer.from(head), body.subarray(0, -SERIAL_BYTES)]), certId: certId.subarray(0, -SERIAL_BYTES) };
}

type RawCallback = (error: string | undefined, status: number, body: Buffer) => void;

/**
 * A minimal HTTP/1.1 keep-alive client for the load generator: `connections` sockets opened up
 * front, one request in flight per socket, requests beyond that wait in a FIFO queue (their
 * latency still counts from the scheduled send time). One write per request, responses read by
 * Content-Length: about a quarter of undici's CPU per request, which matters on a 2-core machine
 * where the generator shares the CPU with the responder and Redis.
 */
class RawHttpPool {
  private readonly idle: RawConnection[] = [];
  private readonly queue: { bytes: Buffer; cb: RawCallback }[] = [];
  private readonly all: RawConnection[] = [];

  private constructor() {}

  static async open(port: number, connections: number): Promise<RawHttpPool> {
    const pool = new RawHttpPool();
    for (let i = 0; i < connections; i++) {
      const socket = await new Promise<Socket>((res, rej) => {
        const s = connect({ port, host: '127.0.0.1', noDelay: true }, () => res(s));
        s.once('error', rej);
      });
      const c = new RawConnection(socket, pool);
      pool.all.push(c);
      pool.idle.push(c);
    }
    return pool;
  }

  request(bytes: Buffer, cb: RawCallback): void {
    const c = this.idle.pop();
    if (c) c.send(bytes, cb);
    else if (this.all.some((x) => !x.closed)) this.queue.push({ bytes, cb });
    else cb('every connection is closed', 0, Buffer.alloc(0));
  }

  /** A connection is free again, or closed: then it is dropped (a closed idle one too). */
  release(c: RawConnection, alive: boolean): void {
    if (!alive) {
      const i = this.idle.indexOf(c);
      if (i >= 0) this.idle.splice(i, 1);
      if (!this.all.some((x) => !x.closed)) for (const q of this.queue.splice(0)) q.cb('every connection is closed', 0, Buffer.alloc(0));
      return;
    }
    const next = this.queue.shift();
    if (next) c.send(next.bytes, next.cb);
    else this.idle.push(c);
  }

  close(): void {
    for (const c of this.all) c.socket.destroy();
  }
}

class RawConnection {
  private buf: Buffer = Buffer.alloc(0);
  private cb: RawCallback | undefined;
  closed = false;

  constructor(
    readonly socket: Socket,
    private readonly pool: RawHttpPool,
  ) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => undefined);
    socket.on('close', () => this.fail('connection closed'));
  }

  send(bytes: Buffer, cb: RawCallback): void {
    this.cb = cb;
    if (this.closed) return this.fail('connection closed');
    this.socket.write(bytes);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buf.toString('latin1', 0, end);
    const len = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!len) return this.fail(`no Content-Length in the response: ${head.slice(0, 200)}`);
    const total = end + 4 + Number(len[1]);
    if (this.buf.length < total) return;
    const body = this.buf.subarray(end + 4, total);
    const extra = this.buf.length > total;
    this.buf = Buffer.alloc(0);
    const cb = this.cb;
    this.cb = undefined;
    if (extra) return this.fail('bytes after the response');
    this.pool.release(this, true);
    cb?.(undefined, Number(head.slice(9, 12)), body);
  }

  private fail(error: string): void {
    const cb = this.cb;
    this.cb = undefined;
    this.closed = true;
    this.socket.destroy();
    this.pool.release(this, false);
    cb?.(error, 0, Buffer.alloc(0));
  }
}

/** responseStatus of a DER OCSPResponse (0 = successful), or -1 when it does not look like one. */
function ocspResponseStatus(der: Buffer): number {
  if (der[0] !== 0x30 || der.length < 5) return -1;
  const l = der[1]!;
  const off = l < 0x80 ? 2 : 2 + (l & 0x7f);
  return der[off] === 0x0a && der[off + 1] === 1 ? der[off + 2]! : -1;
}

/** Why an answer is wrong, or undefined: successful, and the CertID asked about is followed by certStatus good ([0] NULL). */
function checkAnswer(status: number, der: Buffer, parts: RequestParts, serial: Buffer): string | undefined {
  if (status !== 200) return `HTTP ${status}`;
  const s = ocspResponseStatus(der);
  if (s !== 0) return `OCSP responseStatus ${s}`;
  const at = der.indexOf(serial);
  const ok = at >= parts.certId.length && der.subarray(at - parts.certId.length, at).equals(parts.certId) && der.subarray(at + serial.length, at + serial.length + 2).equals(GOOD);
  return ok ? undefined : 'the response does not say good for the CertID asked about';
}

/** `n` indexes drawn uniformly at random from [0, population). */
function draws(n: number, population: number): Uint32Array {
  const r = new Uint32Array(n);
  randomFillSync(r);
  for (let i = 0; i < n; i++) r[i] = r[i]! % population;
  return r;
}

/** One answer through fetch, checked with the OpenSSL CLI: verifies up to the root, serial good. */
async function opensslCheck(ocspUrl: string, issuer: Issuer, serial: Buffer, files: { root: string; sub: string }, work: string): Promise<{ ok: boolean; detail: string }> {
  const res = await fetch(`${ocspUrl}/ocsp`, { method: 'POST', body: buildOcspRequest([certIdOf(issuer, serial)]), headers: { 'content-type': 'application/ocsp-request' } });
  const der = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) return { ok: false, detail: `HTTP ${res.status}` };
  const file = join(work, `resp-${Date.now()}.der`);
  writeFileSync(file, der);
  const hex = serial.toString('hex').toUpperCase();
  const r = spawnSync('openssl', ['ocsp', '-respin', file, '-CAfile', files.root, '-verify_other', files.sub, '-issuer', files.sub, '-sha256', '-serial', `0x${hex}`, '-no_nonce'], { encoding: 'utf8', timeout: 30_000 });
  const text = `${r.stdout}${r.stderr}`;
  const good = new RegExp(`0x${hex}: good`, 'i').test(text);
  const verified = /Response verify OK/.test(text);
  return { ok: good && verified, detail: good && verified ? `serial 0x${hex.toLowerCase()}: response verifies (delegated signer → sub-CA → root), status good` : text.trim().replace(/\s+/g, ' ').slice(0, 300) };
}

/** What the responder's /metrics says: answers by `method/outcome`, GC seconds by kind, event-loop delay. */
interface ResponderMetrics {
  readonly outcomes: Record<string, number>;
  /** pki_ocsp_nodejs_gc_duration_seconds_sum by kind (major, minor, incremental, weakcb), since start. */
  readonly gcSeconds: Record<string, number>;
  /** Event-loop delay beyond the 10 ms sampling interval (prom-client's monitorEventLoopDelay, reset at every scrape): since the previous scrape. */
  readonly loopDelayMaxMs: number;
  readonly loopDelayP99Ms: number;
}

async function responderMetrics(url: string): Promise<ResponderMetrics> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const outcomes: Record<string, number> = {};
  for (const m of text.matchAll(/^pki_ocsp_responses_total\{([^}]*)\} (\S+)$/gm)) {
    const l = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    // outcome: presigned, signed (live) or the OCSP error status, as the benchmarks report it.
    const labels = { method: l.method, outcome: l.source === 'live' ? 'signed' : l.source === 'unsigned' ? l.status : l.source };
    outcomes[`${labels.method}/${labels.outcome}`] = (outcomes[`${labels.method}/${labels.outcome}`] ?? 0) + Number(m[2]);
  }
  const gcSeconds: Record<string, number> = {};
  for (const m of text.matchAll(/^pki_ocsp_nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} (\S+)$/gm)) gcSeconds[m[1]!] = Number(m[2]);
  // monitorEventLoopDelay records the whole interval between its 10 ms timer's runs: the delay is what exceeds 10 ms
  const gauge = (name: string): number => Math.max(0, Number(new RegExp(`^pki_ocsp_nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000 - 10);
  return { outcomes, gcSeconds, loopDelayMaxMs: gauge('max'), loopDelayP99Ms: gauge('p99') };
}

const responderOutcomes = async (url: string): Promise<Record<string, number>> => (await responderMetrics(url)).outcomes;

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, v] of Object.entries(b)) if (v - (a[key] ?? 0) > 0) out[key] = v - (a[key] ?? 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// wrk: saturation throughput, a random certificate of the whole population per request

/** A Lua string literal for any bytes (decimal escapes). */
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

/**
 * A wrk script whose every request names a serial drawn at random from `serialsFile` (16 bytes
 * each): the request is a fixed prefix (HTTP head and the DER up to the serial) and the serial,
 * which is the last element of a one-CertID OCSPRequest.
 */
function wrkScript(file: string, serialsFile: string, parts: RequestParts): string {
  const head = parts.http;
  writeFileSync(
    file,
    `local f = assert(io.open(${luaString(Buffer.from(serialsFile))}, "rb"))\nlocal all = f:read("*a")\nf:close()\n` +
      `local n = #all / ${SERIAL_BYTES}\nlocal head = ${luaString(head)}\n` +
      `math.randomseed(os.time())\nlocal rnd, sub = math.random, string.sub\n` +
      `function request()\n  local i = rnd(0, n - 1) * ${SERIAL_BYTES}\n  return head .. sub(all, i + 1, i + ${SERIAL_BYTES})\nend\n` +
      `function done(summary, latency, requests)\n  local e = summary.errors\n` +
      `  io.write(string.format('WRKJSON {"requests":%.0f,"duration_us":%.0f,"errors":%.0f,"status":%.0f,"p50_us":%.0f,"p99_us":%.0f}\\n',\n` +
      `    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(50), latency:percentile(99)))\nend\n`,
  );
  return file;
}

interface WrkRun {
  readonly perSecond: number;
  readonly requests: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpu: CpuUse;
  readonly outcomes: Record<string, number>;
}

async function runWrk(url: string, script: string, seconds: number, pids: { responder: number; redis: number }): Promise<WrkRun> {
  const o0 = await responderOutcomes(url);
  const a = cpuSnap(pids.responder, pids.redis);
  const t0 = performance.now();
  const p = spawnProc('wrk', 'wrk', ['-t1', `-c${WRK_CONC}`, `-d${seconds}s`, '--timeout', '5s', '-s', script, url], process.env);
  const code = await new Promise<number | null>((r) => p.child.once('exit', (c) => r(c)));
  const cpu = cpuBetween(a, cpuSnap(pids.responder, pids.redis), (performance.now() - t0) / 1000);
  const m = /WRKJSON (\{.*\})/.exec(p.output());
  if (code !== 0 || !m) throw new Error(`wrk failed (exit ${code}):\n${p.output()}`);
  const j = JSON.parse(m[1]!) as Record<string, number>;
  return {
    perSecond: j.requests! / (j.duration_us! / 1e6),
    requests: j.requests!,
    errors: j.errors! + j.status!,
    p50Ms: j.p50_us! / 1000,
    p99Ms: j.p99_us! / 1000,
    cpu,
    outcomes: delta(o0, await responderOutcomes(url)),
  };
}

// ---------------------------------------------------------------------------------------------
// Memory

/** MEMORY USAGE (bytes, as Redis estimates it) per record over a sample: its keys and its share of the shared ones. */
async function memorySample(raw: Redis, pop: Population, issuerId: string, n: number): Promise<Record<string, number>> {
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
  return out;
}

// ---------------------------------------------------------------------------------------------
// Main

interface OcspRun {
  readonly run: OpenLoopRun;
  /** The responder's answers by method/outcome (its /metrics) over the run. */
  readonly outcomes: Record<string, number>;
  /** Redis HGETs per OCSP request over the run: 0 = everything from the responder's memory. */
  readonly storeReadsPerRequest: number;
  /** Redis's own time per HGET (INFO commandstats). */
  readonly hgetServerUsec: number;
  /** The responder's CPU time (all threads) per request. */
  readonly responderUsPerRequest: number;
  /** The responder's GC time during the run (warm-up included), ms by kind. */
  readonly responderGcMs: Record<string, number>;
  /** The responder's event-loop delay during the run (warm-up included; 10 ms sampling). */
  readonly loopDelayMaxMs: number;
  readonly loopDelayP99Ms: number;
}

interface Phase {
  readonly label: string;
  readonly records: number;
  readonly load: LoadResult;
  /** From the end of loading until everything was pre-signed. */
  readonly presignWaitSeconds: number;
  /** Records / (load start → all pre-signed). */
  readonly presignPerSecond: number;
  readonly aofRewriteWaitSeconds: number;
  readonly redis: { usedMemory: number; usedMemoryRss: number; bytesPerRecord: number; sample: Record<string, number> };
  readonly responderRssMb: number;
  /** Requests sent before measuring to bring the responder's cache to its steady state. */
  readonly prefill: { readonly requests: number; readonly seconds: number };
  /** The measurement: certificates drawn from the whole population. */
  readonly ocsp: OcspRun;
  /** At the big size: the same open loop over the first 1,000 records only. */
  readonly control?: OcspRun;
  /** The responder's store read (HGET of a pre-signed response) from this process, same rate. */
  readonly redisProbe: OpenLoopRun;
  readonly wrk?: WrkRun;
  readonly sanity: { ok: boolean; detail: string };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const wall0 = performance.now();
  if (!Number.isInteger(TOTAL) || TOTAL < 2 * SMALL) throw new Error(`BENCH_SCALE_RECORDS must be at least ${2 * SMALL}`);
  const hasWrk = !spawnSync('wrk', ['--version']).error;
  const tmpRoot = tempDir('evpki-bench-scale-');
  const dataDir = join(tmpRoot, 'pki');
  const work = join(tmpRoot, 'work');
  const redisDir = join(tmpRoot, 'redis');
  mkdirSync(work);
  mkdirSync(redisDir);
  const procs: Proc[] = [];
  const problems: string[] = [];
  const profiles: Profile[] = [];
  const phases: Phase[] = [];
  let presignedBytes = NaN;
  let templateBytes = NaN;
  let raw: Redis | undefined;
  let store: RedisStore | undefined;
  let probe: Redis | undefined;
  try {
    // --- Redis, dev PKI in it, CA, responder
    const redis = await startRedis(redisDir);
    procs.push(redis.proc);
    const redisPid = redis.proc.child.pid!;
    raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    raw.on('error', () => undefined);
    log(`redis-server ${(await info(raw, 'server')).redis_version} on ${redis.url} (pid ${redisPid}), appendonly yes, appendfsync everysec, in ${redisDir}`);

    const caPort = await freePort();
    const caOpsPort = await freePort();
    const ocspPort = await freePort();
    // The CA's API is mutual TLS with the service certificates; readiness on its ops port.
    const caUrl = `https://127.0.0.1:${caPort}`;
    const ocspUrl = `http://127.0.0.1:${ocspPort}`;
    const storeEnv = { REDIS_URL: redis.url };
    const manifest = await initPki({ dataDir, dev: true, force: false, algorithm: 'ecdsa-p256', organization: CPO, publicOcspBase: ocspUrl, env: storeEnv });
    const ca = spawnService('CA', 'ca', { PKI_DATA_DIR: dataDir, CA_PORT: String(caPort), CA_OPS_PORT: String(caOpsPort), ...storeEnv });
    procs.push(ca);
    await waitReady(ca, `http://127.0.0.1:${caOpsPort}/readyz`, 20_000);

    store = new RedisStore({ url: redis.url, commandTimeoutMs: 10_000, waitReplicas: 0, waitTimeoutMs: 1000 });
    const subRec = await store.getIssuer(manifest.issuers.chargePoint);
    const rootRec = await store.getIssuer(manifest.issuers.root);
    if (!subRec || !rootRec) throw new Error('issuers missing from the dev PKI store');
    const files = { root: join(work, 'root.pem'), sub: join(work, 'sub.pem') };
    writeFileSync(files.root, toPem('CERTIFICATE', Buffer.from(rootRec.certificate)));
    writeFileSync(files.sub, toPem('CERTIFICATE', Buffer.from(subRec.certificate)));
    const h = issuerHashes(parseCertificate(Buffer.from(subRec.certificate))).sha256;
    const issuer: Issuer = { id: subRec.id, name: h.name, key: h.key };

    // --- the stations (registered, as the CA requires), and the template: one real certificate
    // from the CA, whose record is copied for every synthetic one
    const registered = new Date().toISOString();
    for (let i = 0; i < STATION_SPREAD; i += 500)
      await Promise.all(
        Array.from({ length: Math.min(500, STATION_SPREAD - i) }, (_, j) =>
          store!.putStation({ tenant: TENANT, stationId: stationOf(i + j), serialNumber: `SCALE-${i + j}`, allowed: true, createdAt: registered, updatedAt: registered }),
        ),
      );
    await store.putStation({ tenant: TENANT, stationId: 'scale-template', serialNumber: 'SCALE-TEMPLATE', allowed: true, createdAt: registered, updatedAt: registered });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signRes = await caRequest(dataDir, caUrl, 'ra-client', 'POST', '/v1/sign', {
      tenant: TENANT,
      stationId: 'scale-template',
      csr: buildCsr(privateKey, { o: CPO, cn: 'SCALE-TEMPLATE' }),
      certificateType: CERT_TYPE,
      actor: 'bench',
    });
    if (signRes.status !== 201) throw new Error(`CA /v1/sign answered ${signRes.status}: ${signRes.text.slice(0, 400)}`);
    const templateDer = pemBlocks((signRes.body as { certificateChain: string }).certificateChain, 'CERTIFICATE')[0]!;
    const template = await store.getCertificate(parseCertificate(templateDer).serialHex);
    if (!template) throw new Error('the template certificate is not in the store');
    templateBytes = template.der.length;

    const ocsp = spawnService('OCSP responder', 'ocsp', { PKI_DATA_DIR: dataDir, OCSP_PORT: String(ocspPort), OCSP_CA_URL: caUrl, ...storeEnv }, experimentArgs('ocsp', profiles));
    procs.push(ocsp);
    await waitReady(ocsp, `${ocspUrl}/readyz`, 20_000);
    const pids = { responder: ocsp.child.pid!, redis: redisPid };
    /** Extra responder instances that only help pre-signing the big phase (claims keep them apart), stopped before measuring. */
    const startHelpers = async (n: number): Promise<Proc[]> => {
      const started: Proc[] = [];
      for (let i = 0; i < n; i++) {
        const port = await freePort();
        const hp = spawnService(`OCSP pre-signing helper ${i + 1}`, 'ocsp', { PKI_DATA_DIR: dataDir, OCSP_PORT: String(port), OCSP_CA_URL: caUrl, ...storeEnv });
        procs.push(hp);
        await waitReady(hp, `http://127.0.0.1:${port}/readyz`, 20_000);
        started.push(hp);
      }
      if (n) log(`${n} more responder instance(s) started to share the pre-signing (stopped before measuring)`);
      return started;
    };
    await waitPresigned(raw, 1, 'pre-signing the template', ocsp);
    presignedBytes = (await store.getOcspResponse(issuer.id, template.serial, 'sha256'))?.der.length ?? NaN;
    log(`CA and OCSP responder (pid ${pids.responder}) ready; template certificate ${templateBytes} B DER, pre-signed response ${presignedBytes} B`);

    await waitAofIdle(raw);
    const baseline = Number((await info(raw, 'memory')).used_memory);
    const pop = new Population(TOTAL);
    probe = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    probe.on('error', () => undefined);
    const serialsFile = join(work, 'serials.bin');
    /**
     * Before measuring: PREFILL requests for random certificates of the population, closed loop, so
     * that the responder's in-memory cache is in its steady state (at the big size: full, every
     * miss evicting the oldest answer), as in a responder that has been serving for a while.
     */
    const prefill = async (label: string, rp: RequestParts, population: number): Promise<{ requests: number; seconds: number }> => {
      const idx = draws(PREFILL, population);
      const pool = await RawHttpPool.open(ocspPort, CONNECTIONS);
      const t0 = performance.now();
      let next = 0;
      let errors = 0;
      let firstError: string | undefined;
      try {
        await Promise.all(
          Array.from({ length: CONNECTIONS }, async () => {
            while (next < idx.length) {
              const serial = pop.serial(idx[next++]!);
              const error = await new Promise<string | undefined>((res) => pool.request(Buffer.concat([rp.http, serial]), (e, status, body) => res(e ?? checkAnswer(status, body, rp, serial))));
              if (error !== undefined) {
                errors++;
                firstError ??= error;
              }
            }
          }),
        );
      } finally {
        pool.close();
      }
      if (errors) problems.push(`${label} cache prefill: ${errors} wrong or missing answers (first: ${firstError})`);
      const seconds = (performance.now() - t0) / 1000;
      log(`${label}: responder cache prefilled with ${int(PREFILL)} requests over ${int(population)} certificates in ${f1(seconds)} s`);
      return { requests: PREFILL, seconds };
    };
    /** The open loop over records [0, population), checked; with the responder's outcomes and Redis's HGETs over the run. */
    const measureOcsp = async (label: string, rp: RequestParts, population: number, warmupS: number, measureS: number): Promise<OcspRun> => {
      const idx = draws(Math.round(RATE * (warmupS + measureS)), population);
      const m0 = await responderMetrics(ocspUrl);
      const c0 = await commandStats(raw!);
      // fresh connections for each run (the responder closes idle keep-alive connections)
      const pool = await RawHttpPool.open(ocspPort, CONNECTIONS);
      let run: OpenLoopRun;
      try {
        run = await openLoop(
          (i, done) => {
            const serial = pop.serial(idx[i]!);
            pool.request(Buffer.concat([rp.http, serial]), (error, status, body) => done(error ?? checkAnswer(status, body, rp, serial)));
          },
          RATE,
          warmupS,
          measureS,
          pids,
        );
      } finally {
        pool.close();
      }
      const c1 = await commandStats(raw!);
      const m1 = await responderMetrics(ocspUrl);
      const outcomes = delta(m0.outcomes, m1.outcomes);
      const requests = Object.values(outcomes).reduce((a, b) => a + b, 0);
      const reads = (c1.hget?.calls ?? 0) - (c0.hget?.calls ?? 0);
      const unexpected = Object.entries(outcomes).filter(([o]) => o !== 'POST/presigned');
      if (run.errors) problems.push(`${label}: ${run.errors} wrong or missing answers (first: ${run.firstError})`);
      if (unexpected.length) problems.push(`${label}: answers other than pre-signed: ${JSON.stringify(Object.fromEntries(unexpected))}`);
      const r = {
        run,
        outcomes,
        storeReadsPerRequest: reads / Math.max(1, requests),
        hgetServerUsec: reads ? ((c1.hget?.usec ?? 0) - (c0.hget?.usec ?? 0)) / reads : NaN,
        responderUsPerRequest: (run.cpu.responderCores * 1e6) / run.perSecond,
        responderGcMs: Object.fromEntries(Object.entries(delta(m0.gcSeconds, m1.gcSeconds)).map(([kind, v]) => [kind, v * 1000])),
        loopDelayMaxMs: m1.loopDelayMaxMs,
        loopDelayP99Ms: m1.loopDelayP99Ms,
      };
      log(
        `${label}: ${f0(run.perSecond)} req/s over ${int(population)} certificates, p50 ${f2(run.latencyMs.p50)} ms, p99 ${f2(run.latencyMs.p99)} ms (send lag p99 ${f2(run.sendLagMs.p99)} ms), ` +
          `${f2(r.storeReadsPerRequest)} store reads/request, responder ${f0(r.responderUsPerRequest)} µs CPU/request, errors ${run.errors}`,
      );
      return r;
    };
    let parts: RequestParts | undefined;

    // --- the phases
    for (const [label, size] of [
      ['1k', SMALL],
      [TOTAL >= 1e6 ? `${TOTAL / 1e6}M` : `${TOTAL / 1000}k`, TOTAL],
    ] as const) {
      log(`phase ${label}: loading records ${int(pop.count + 1)} to ${int(size)}`);
      const from = pop.count;
      const tLoad = performance.now();
      const helpers = size > SMALL ? await startHelpers(PRESIGN_HELPERS) : [];
      const helperCpu = (): number => helpers.reduce((a, hp) => a + procCpu(hp.child.pid!), 0);
      const others = (h: number): string => (helpers.length ? `, helpers ${f2(h)}` : '');
      const h0 = helperCpu();
      const cpuL0 = cpuSnap(pids.responder, pids.redis);
      const loaded = await load(store, raw, pop, template, from, size, `loading ${label}`);
      const cpuL1 = cpuSnap(pids.responder, pids.redis);
      const h1 = helperCpu();
      const loadCpu = cpuBetween(cpuL0, cpuL1, loaded.seconds);
      log(
        `phase ${label}: ${int(size - from)} records in ${f1(loaded.seconds)} s (${int(loaded.perSecond)}/s, ${loaded.conflicts} serials drawn twice); cores: loader ${f2(loadCpu.loadGeneratorCores)}, ` +
          `Redis ${f2(loadCpu.redisCores)}, responder ${f2(loadCpu.responderCores)}${others((h1 - h0) / loaded.seconds)}, other ${f2(Math.max(0, loadCpu.otherLoadCores - (h1 - h0) / loaded.seconds))}`,
      );
      const presignWaitSeconds = await waitPresigned(raw, size - from, `pre-signing ${label}`, ocsp);
      const presignCpu = cpuBetween(cpuL1, cpuSnap(pids.responder, pids.redis), presignWaitSeconds);
      const rp = (parts ??= requestParts(issuer, pop.serial(0)));
      const h2 = helperCpu();
      log(
        `phase ${label}: pre-signing after the load: cores: responder ${f2(presignCpu.responderCores)}${others((h2 - h1) / presignWaitSeconds)}, Redis ${f2(presignCpu.redisCores)}, ` +
          `bench ${f2(presignCpu.loadGeneratorCores)}, other ${f2(Math.max(0, presignCpu.otherLoadCores - (h2 - h1) / presignWaitSeconds))}`,
      );
      for (const hp of helpers) await stopProc(hp, 10_000);
      const presignPerSecond = (size - from) / ((performance.now() - tLoad) / 1000);
      log(`phase ${label}: all pre-signed ${f1(presignWaitSeconds)} s after loading ended (${int(presignPerSecond)} records/s from the start of loading)`);
      const aofRewriteWaitSeconds = await waitAofIdle(raw);
      if (aofRewriteWaitSeconds > 1) log(`phase ${label}: waited ${f1(aofRewriteWaitSeconds)} s for an AOF rewrite to finish`);
      const mem = await info(raw, 'memory');
      const usedMemory = Number(mem.used_memory);
      const sample = await memorySample(raw, pop, issuer.id, 200);
      const responderRssMb = rssMb(pids.responder);

      // open loop against the responder: certificates from the whole population
      const filled = await prefill(label, rp, size);
      const measured = await measureOcsp(label, rp, size, WARMUP_S, MEASURE_S);
      // control at the big size: requests over the first 1,000 records only (answered from the
      // responder's memory, as at 1k), under the same machine and store state
      const control = size > SMALL ? await measureOcsp(`${label} control`, rp, SMALL, 2, CONTROL_S) : undefined;

      // the store read alone, from this process
      const pidx = draws(Math.round(RATE * (1 + PROBE_S)), size);
      const redisProbe = await openLoop(
        (i, done) => {
          probe!.hgetBuffer(k('o', issuer.id, pop.hex(pidx[i]!)), 'sha256').then(
            (b) => done(b && b.length > 0 ? undefined : 'no pre-signed response in the store'),
            (e: Error) => done(e.message),
          );
        },
        RATE,
        1,
        PROBE_S,
        pids,
      );
      if (redisProbe.errors) problems.push(`phase ${label}: Redis probe: ${redisProbe.errors} errors (first: ${redisProbe.firstError})`);
      log(`phase ${label}: Redis HGET round trip from Node: p50 ${f2(redisProbe.latencyMs.p50)} ms, p99 ${f2(redisProbe.latencyMs.p99)} ms`);

      // saturation
      let wrk: WrkRun | undefined;
      if (hasWrk) {
        writeFileSync(serialsFile, pop.serials.subarray(0, size * SERIAL_BYTES));
        const script = wrkScript(join(work, 'scale.lua'), serialsFile, rp);
        await runWrk(ocspUrl, script, 2, pids);
        wrk = await runWrk(ocspUrl, script, WRK_S, pids);
        const bad = Object.entries(wrk.outcomes).filter(([o]) => o !== 'POST/presigned');
        if (wrk.errors || bad.length) problems.push(`phase ${label}: wrk: ${wrk.errors} errors, outcomes ${JSON.stringify(wrk.outcomes)}`);
        log(`phase ${label}: wrk -c${WRK_CONC}: ${f0(wrk.perSecond)} req/s`);
      }

      const sanity = await opensslCheck(ocspUrl, issuer, pop.serial(draws(1, size)[0]!), files, work);
      if (!sanity.ok) problems.push(`phase ${label}: openssl check failed: ${sanity.detail}`);

      phases.push({
        label,
        records: size,
        load: loaded,
        presignWaitSeconds,
        presignPerSecond,
        aofRewriteWaitSeconds,
        redis: { usedMemory, usedMemoryRss: Number(mem.used_memory_rss), bytesPerRecord: (usedMemory - baseline) / size, sample },
        responderRssMb,
        prefill: filled,
        ocsp: measured,
        ...(control ? { control } : {}),
        redisProbe,
        ...(wrk ? { wrk } : {}),
        sanity,
      });
    }
  } finally {
    probe?.disconnect();
    await store?.close();
    raw?.disconnect();
    await stopAll(procs.reverse(), 5000);
    cleanup();
  }

  // --- report
  const [small, big] = phases as [Phase, Phase];
  const ratio = big.ocsp.run.latencyMs.p99 / small.ocsp.run.latencyMs.p99;
  const verdict = !Number.isFinite(ratio) ? 'n/a' : ratio <= TARGET_RATIO ? 'PASS' : 'FAIL';
  const out: string[] = [];
  out.push('');
  out.push(`bench-scale: ${CORES} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.trim().split(' sha=')[0] ?? 'redis'}`);
  out.push(
    `store: Redis, appendonly yes, appendfsync everysec (production: always; only the bulk load and pre-signing write), one OCSP responder and the CA as processes` +
      (PRESIGN_HELPERS ? ` (${PRESIGN_HELPERS} more responders helped pre-sign the big phase, stopped before measuring)` : ''),
  );
  out.push(
    `records: synthetic ChargingStationCertificate records written with RedisStore.recordIssuance (${LOAD_CONCURRENCY} in flight), random 16-byte serials, ` +
      `${int(STATION_SPREAD)} stations; each carries the DER of one real certificate (${templateBytes} B) as a template: the responder never reads a record's DER`,
  );
  out.push(
    `load: open loop, ${RATE} req/s for ${MEASURE_S} s after ${WARMUP_S} s of warm-up, POST /ocsp (one SHA-256 CertID, no nonce), certificates drawn uniformly from the whole population, ` +
      `${CONNECTIONS} keep-alive connections; latency from the scheduled send time; every answer checked (successful, CertID good); ` +
      `before it, ${int(PREFILL)} requests for random certificates bring the responder's cache (${int(RESPONDER_CACHE)} answers) to its steady state`,
  );
  if (SERVICE_IMPORT) out.push(`EXPERIMENT: responder started with --import ${SERVICE_IMPORT}`);
  if (PROFILE_DIR) out.push(`NOTE: the responder ran with --cpu-prof into ${PROFILE_DIR} (slower than normal)`);
  out.push('');
  out.push(
    grid(
      ['records', 'p50 ms', 'p99 ms', 'req/s', 'Redis bytes/record', 'responder RSS MB'],
      phases.map((p) => [int(p.records), f2(p.ocsp.run.latencyMs.p50), f2(p.ocsp.run.latencyMs.p99), f0(p.ocsp.run.perSecond), f0(p.redis.bytesPerRecord), f0(p.responderRssMb)]),
    ),
  );
  out.push('');
  out.push(`p99(${big.label})/p99(${small.label}) = ${f2(ratio)} (target ≤ ${f2(TARGET_RATIO)}) ${verdict}`);
  if (big.control)
    out.push(
      `cross-check, not the target: p99(${big.label})/p99(${big.label} control) = ${f2(big.ocsp.run.latencyMs.p99 / big.control.run.latencyMs.p99)} ` +
        `(the control: 1,000 certificates answered from memory as at 1k, measured right after under the same machine and store state)`,
    );
  out.push('');
  out.push('Details (open loop; the control row: at the big size, requests over the first 1,000 records only, answered from memory as at 1k):');
  const detailRow = (name: string, r: OcspRun, p: Phase, more: boolean): string[] => [
    name,
    f2(r.run.latencyMs.p50),
    f2(r.run.latencyMs.p90),
    f2(r.run.latencyMs.p99),
    f2(r.run.latencyMs.p999),
    f1(r.run.latencyMs.max),
    `${f2(r.run.serviceMs.p50)}/${f2(r.run.serviceMs.p99)}`,
    `${f2(r.run.sendLagMs.p50)}/${f2(r.run.sendLagMs.p99)}`,
    f2(r.storeReadsPerRequest),
    f0(r.responderUsPerRequest),
    f1(r.hgetServerUsec),
    more ? `${f2(p.redisProbe.latencyMs.p50)}/${f2(p.redisProbe.latencyMs.p99)}` : '',
    more ? (p.wrk ? f0(p.wrk.perSecond) : 'no wrk') : '',
    `${f0(r.responderGcMs.major ?? 0)}/${f0((r.responderGcMs.minor ?? 0) + (r.responderGcMs.incremental ?? 0))}`,
    `${f1(r.loopDelayP99Ms)}/${f1(r.loopDelayMaxMs)}`,
    f2(r.run.cpu.responderCores),
    f2(r.run.cpu.redisCores),
    f2(r.run.cpu.loadGeneratorCores),
    f2(r.run.cpu.otherLoadCores),
  ];
  out.push(
    grid(
      ['run', 'p50', 'p90', 'p99', 'p99.9', 'max', 'service p50/p99', 'send lag p50/p99', 'store reads/req', 'resp µs CPU/req', 'HGET µs in Redis', 'Redis RTT p50/p99', 'wrk req/s', 'resp GC ms major/minor', 'resp loop delay p99/max', 'resp cores', 'redis cores', 'gen cores', 'other load'],
      phases.flatMap((p) => [
        detailRow(`${int(p.records)} records`, p.ocsp, p, true),
        ...(p.control ? [detailRow(`${int(p.records)}, control`, p.control, p, false)] : []),
      ]),
    ),
  );
  out.push('(ms unless noted; service: from the actual send; send lag: the generator sending late (included in the latencies); store reads/req: Redis HGETs per');
  out.push(` OCSP request, 0 = all from the responder's in-memory cache of up to ${int(RESPONDER_CACHE)} pre-signed answers; Redis RTT: the same HGET from this process at`);
  out.push(` the same rate; wrk: saturation, -c${WRK_CONC}, random certificates; resp GC: the responder's GC time during the run (its /metrics; minor includes incremental);`);
  out.push(' resp loop delay: its event-loop delay beyond the 10 ms interval of monitorEventLoopDelay; cores: responder, Redis, load generator, and other load: busy cores not');
  out.push(' explained by them, > 0.15 = noisy)');
  const runs = phases.flatMap((p) => [{ name: p.label, r: p.ocsp.run }, ...(p.control ? [{ name: `${p.label} control`, r: p.control.run }] : [])]);
  const noisy = runs.filter((x) => x.r.cpu.otherLoadCores > 0.15);
  if (noisy.length) out.push(`WARNING: other load on the machine during ${noisy.map((x) => x.name).join(', ')} (up to ${f2(Math.max(...noisy.map((x) => x.r.cpu.otherLoadCores)))} cores): latencies are pessimistic; re-run on a quiet machine.`);
  out.push('');
  out.push('Loading and memory:');
  out.push(
    grid(
      ['records', 'loaded', 'load s', 'load rec/s', 'pre-signed after load s', 'pre-sign rec/s', 'Redis used MB', 'bytes/record'],
      phases.map((p, i) => [
        int(p.records),
        int(p.records - (i ? phases[i - 1]!.records : 0)),
        f1(p.load.seconds),
        int(p.load.perSecond),
        f1(p.presignWaitSeconds),
        int(p.presignPerSecond),
        f0(p.redis.usedMemory / 2 ** 20),
        f0(p.redis.bytesPerRecord),
      ]),
    ),
  );
  out.push(`(bytes/record: Redis used_memory growth since before the first record, per record: record, indexes, two pre-signed responses of ${presignedBytes} B and the pre-signing queue entry;`);
  out.push(` MEMORY USAGE of a 200-record sample at ${big.label}: ${Object.entries(big.redis.sample).map(([key, v]) => `${key} ${f0(v)}`).join(', ')})`);
  out.push('');
  out.push('Sanity (one answer per phase checked with `openssl ocsp -respin -CAfile root -verify_other sub`; responder outcomes from its /metrics):');
  for (const p of phases) out.push(`  ${p.label}: ${p.sanity.ok ? 'OK' : 'FAILED'}: ${p.sanity.detail}; outcomes ${Object.entries(p.ocsp.outcomes).map(([key, v]) => `${key} ${v}`).join(', ')}`);
  out.push(...problemLines(problems));
  out.push('');
  out.push(`total bench wall time ${dur((performance.now() - wall0) / 1000)}; JSON: ${RESULTS}`);
  process.stdout.write(out.join('\n') + '\n');

  writeResults(RESULTS, 'bench-scale', startedAt, {
    config: {
      records: TOTAL,
      small: SMALL,
      rate: RATE,
      measureSeconds: MEASURE_S,
      warmupSeconds: WARMUP_S,
      connections: CONNECTIONS,
      loadConcurrency: LOAD_CONCURRENCY,
      stations: STATION_SPREAD,
      redis: REDIS_ARGS.join(' '),
      quick: QUICK,
      serviceImport: SERVICE_IMPORT,
      profileDir: PROFILE_DIR,
    },
    templateDerBytes: templateBytes,
    presignedResponseBytes: presignedBytes,
    target: { p99Ratio: TARGET_RATIO, measured: ratio, verdict, vsControl: big.control ? big.ocsp.run.latencyMs.p99 / big.control.run.latencyMs.p99 : undefined },
    phases,
    ...(PROFILE_DIR ? { profiles } : {}),
    problems,
    wallSeconds: (performance.now() - wall0) / 1000,
  });
  if (problems.length) process.exitCode = 1;
}

runBench('bench-scale', main);
