/**
 * `make bench-issue`: charge point certificate issuance throughput over HTTP (client → RA → CA →
 * LMDB store; RA and CA as separate processes, as in production) at several concurrencies, next
 * to a naive one-process `@peculiar/x509` baseline measured in the same run, plus where the time
 * goes: CA alone, RA alone (stub CA), HTTP floors (bare node:http, express, express +
 * openapi-validator) under the same client, CPU per request per process and per main thread,
 * machine-wide CPU, and in-process micro-benchmarks (policy, TBS build + sign, LMDB write, the
 * CA pipeline on LMDB and on an in-memory store).
 *
 * Not a test: it asserts nothing about speed (CONVENTIONS.md), but it exits non-zero when an
 * issuance fails or a sampled chain does not verify. Results: stdout and bench-results/bench-issue.json.
 *
 * Env knobs for experiments (`make bench-issue` needs none): BENCH_SECONDS (measured seconds per
 * RA→CA scenario, default 6), BENCH_CONC (comma list, default 1,8,32,128), BENCH_QUICK=1 (short
 * run), BENCH_PROFILE=DIR (RA and CA run with --cpu-prof into DIR; slows them down),
 * BENCH_SERVICE_IMPORT=FILE (RA and CA start with `node --import FILE`: A/B-test a service change
 * without editing the service), BENCH_ONLY=ra-ca (only the baseline and the RA→CA scenarios).
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, createPublicKey, sign as nodeSign, verify as nodeVerify, webcrypto, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import type * as X509 from '@peculiar/x509';
import { readPrivateKey, readSecretFile } from '@evpki/keys';
import { checkChargePointCsr, DEFAULT_KEY_POLICY, leafValidity, readCsr } from '@evpki/policy';
import { dataPaths, issuerUrls, readManifest, readServiceTls, serviceClientTlsOptions } from '@evpki/service';
import {
  LmdbStore,
  openStore,
  type CertificateRecord,
  type IdempotencyClaim,
  type IdempotencyRecord,
  type IssuanceOutcome,
  type IssuerRecord,
  type StationRecord,
  type Store,
  type TenantRecord,
} from '@evpki/store';
import { signChargePointCertificate, type SignDeps } from '@evpki/ca';
import {
  buildName,
  buildTbs,
  chargePointProfile,
  inspectSpki,
  keyIdentifier,
  parseCertificate,
  randomSerial,
  serialToHex,
  serverProfile,
  signerFor,
  signTbs,
  toPem,
} from '@evpki/x509';
import {
  CERT_TYPE, CORES, CPO, FLOOR_SERVER, PKI_CLI, QUICK, ROOT, SERVICE_IMPORT, STATIONS, TENANT, log,
  cleanup, freePort, initDevPki, runBench, serviceEnv, spawnNode, spawnService, stopAll, stopProc, waitListening, waitReady, type Proc,
  cpuSeconds, machineCpu, machineShares, statFields, type MachineShares,
  makeCsrs, NO_RATE_LIMITS, type CsrItem,
  analyseProfiles, experimentArgs, profilesJson, readBusyProfile, shareLines, sharesBy, v8PseudoFrame, type CallFrame, type Profile,
  f0, f1, f2, grid, pc, problemLines, writeResults,
} from './bench-kit.js';

// ---------------------------------------------------------------------------------------------
// Configuration

const RESULTS = join(ROOT, 'bench-results/bench-issue.json');

const MEASURE_S = Number(process.env.BENCH_SECONDS ?? (QUICK ? 2 : 6));
const WARMUP_S = QUICK ? 0.5 : 1.5;
/** A freshly started Node service needs a few thousand requests before its per-request cost settles (JIT, heap sizing). */
const PREWARM_S = QUICK ? 1.5 : 3;
const CONCURRENCIES = (process.env.BENCH_CONC ?? '1,8,32,128').split(',').map(Number);
const SIDE_S = QUICK ? 1 : 3; // side scenarios: CA alone, RA alone, HTTP floors
const TARGET = 1000;
const ONLY_RA_CA = process.env.BENCH_ONLY === 'ra-ca';

// ---------------------------------------------------------------------------------------------
// CPU profiles of RA and CA (BENCH_PROFILE=DIR)

const profiles: Profile[] = [];

// Innermost matching frame wins, after three named hot functions anywhere on the stack.
const NAMED: [string, string][] = [
  ['publicKeyObject', 'policy: public key import (createPublicKey from SPKI DER)'],
  ['verifySignature', 'policy: ECDSA verify (CSR proof of possession)'],
  ['signTbs', 'CA: sign the TBS (crypto.sign)'],
];
const BY_URL: [RegExp, string][] = [
  [/libs\/(policy|x509)\//, 'policy + x509: parsing, checks, TBS build'],
  [/node_modules\/(lmdb|msgpackr|ordered-binary)\/|libs\/store\//, 'store: lmdb + msgpackr'],
  [/node_modules\/(express-openapi-validator|ajv|ajv-formats|fast-uri|@apidevtools|js-yaml)\//, 'RA: express-openapi-validator + ajv'],
  [/node_modules\/undici\/|ca-client\.js/, 'RA: CA client (undici)'],
  [/libs\/service\/dist\/auth\.js|node_modules\/jose\//, 'auth (JWT / service token)'],
  [/node_modules\/prom-client\//, 'metrics (prom-client)'],
  [/node_modules\/(pino|sonic-boom|thread-stream)/, 'logging (pino)'],
  [/node_modules\/(express|router|body-parser|raw-body|send|finalhandler|path-to-regexp|parseurl|type-is|content-type|on-finished|qs|iconv-lite|mime-types|mime-db|accepts|depd|statuses|http-errors|encodeurl|negotiator|proxy-addr|side-channel[^/]*|get-intrinsic|debug)\//, 'RA: express, router, body-parser, res.json'],
  [/services\/(ra|ca)\/dist\/|libs\/service\//, 'service code (handlers, JSON, hashing)'],
];

/** The component a busy sample of a service is charged to, from its stack (leaf first). */
function serviceComponent(stack: readonly CallFrame[]): string {
  const named = v8PseudoFrame(stack[0]!) ?? stack.map((f) => NAMED.find(([fn]) => fn === f.functionName)?.[1]).find((c) => c !== undefined);
  if (named) return named;
  for (const f of stack) {
    if (!f.url || f.url.startsWith('node:')) continue;
    return BY_URL.find(([re]) => re.test(f.url))?.[1] ?? 'other libraries';
  }
  return stack.some((f) => /^node:(_http|net)/.test(f.url)) ? 'node:http + sockets' : 'node internals (timers, streams, modules)';
}

/** Where a service's JS thread spent its busy (non-idle) samples, by component. */
function profileBreakdown(file: string): { busySeconds: number; shares: [string, number][] } {
  const p = readBusyProfile(file);
  return { busySeconds: p.busyMicros / 1e6, shares: sharesBy(p, serviceComponent) };
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc: per process (main thread vs all other threads) and machine-wide.

interface ThreadCpu {
  /** The JS thread (tid = pid): event loop, JS, sync crypto, sync LMDB reads. */
  main: number;
  /** Every other thread: GC helpers, libuv pool, LMDB commit thread. */
  other: number;
}

function procCpu(pid: number): ThreadCpu {
  const r: ThreadCpu = { main: 0, other: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const t = cpuSeconds(statFields(`/proc/${pid}/task/${tid}/stat`), 11, 12);
      if (Number(tid) === pid) r.main += t;
      else r.other += t;
    } catch {
      /* thread gone */
    }
  }
  return r;
}

interface CpuSnap {
  readonly procs: Record<string, ThreadCpu>;
  readonly machine: number[];
  readonly client: NodeJS.CpuUsage;
  readonly t: number;
}

function snap(pids: Record<string, number>): CpuSnap {
  const procs: Record<string, ThreadCpu> = {};
  for (const [k, pid] of Object.entries(pids)) procs[k] = procCpu(pid);
  return { procs, machine: machineCpu(), client: process.cpuUsage(), t: performance.now() };
}

interface CpuDelta {
  readonly seconds: number;
  /** CPU seconds per process (`client` = this load generator), split main / other threads. */
  readonly procs: Record<string, ThreadCpu>;
  /** Machine-wide shares of all cores' time. */
  readonly machine: MachineShares;
}

function cpuSince(a: CpuSnap, pids: Record<string, number>): CpuDelta {
  const b = snap(pids);
  const procs: Record<string, ThreadCpu> = {};
  const cu = process.cpuUsage(a.client);
  procs.client = { main: (cu.user + cu.system) / 1e6, other: 0 }; // process-wide: main + undici has no threads
  for (const k of Object.keys(pids)) procs[k] = { main: b.procs[k]!.main - a.procs[k]!.main, other: b.procs[k]!.other - a.procs[k]!.other };
  return { seconds: (b.t - a.t) / 1000, procs, machine: machineShares(a.machine, b.machine) };
}

// ---------------------------------------------------------------------------------------------
// Statistics

function pct(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

// ---------------------------------------------------------------------------------------------
// Requests: CSRs (all generated before any timing, each with its own key, A02.FR.02) to the RA or the CA.

interface Req {
  readonly path: string;
  readonly body: string;
}
type Source = () => Req | undefined;

const raRequest = (c: CsrItem): Req => ({
  path: `/v1/stations/bench-${c.station}/certificates`,
  body: JSON.stringify({ csr: c.csr, certificateType: CERT_TYPE }),
});
const caRequest = (c: CsrItem): Req => ({
  path: '/v1/sign',
  body: JSON.stringify({ tenant: TENANT, stationId: `bench-${c.station}`, csr: c.csr, certificateType: CERT_TYPE, actor: 'bench' }),
});

function listSource(items: readonly Req[]): Source & { used(): number } {
  let i = 0;
  const f = (() => items[i++]) as Source & { used(): number };
  f.used = () => Math.min(i, items.length);
  return f;
}
const cycleSource = (items: readonly Req[]): Source => {
  let i = 0;
  return () => items[i++ % items.length];
};

// ---------------------------------------------------------------------------------------------
// Closed-loop HTTP load: `conc` workers over an undici Pool with `conc` keep-alive connections.

interface Phase {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly failures: Record<string, number>;
  readonly failureSamples: string[];
  readonly samples: string[];
  readonly cpu: CpuDelta;
}

interface LoadSpec {
  readonly pool: Pool;
  readonly conc: number;
  readonly source: Source;
  readonly headers: Record<string, string>;
  readonly seconds: number;
  readonly maxCount: number;
  readonly expect: number;
  readonly sampleEvery?: number;
  readonly pids?: Record<string, number>;
}

async function runPhase(s: LoadSpec): Promise<Phase> {
  const lat = new Float64Array(Math.min(s.maxCount, 2_000_000) + s.conc);
  let n = 0;
  let ok = 0;
  let failed = 0;
  let started = 0;
  const failures: Record<string, number> = {};
  const failureSamples: string[] = [];
  const samples: string[] = [];
  const pids = s.pids ?? {};
  const c0 = snap(pids);
  const t0 = performance.now();
  const deadline = t0 + s.seconds * 1000;

  async function worker(): Promise<void> {
    for (;;) {
      if (started >= s.maxCount || n >= lat.length - s.conc || performance.now() >= deadline) return;
      const item = s.source();
      if (!item) return;
      started++;
      const a = performance.now();
      let status = 0;
      let text = '';
      try {
        const res = await s.pool.request({ path: item.path, method: 'POST', headers: s.headers, body: item.body });
        status = res.statusCode;
        text = await res.body.text();
      } catch (e) {
        status = -1;
        text = (e as Error).message;
      }
      lat[n++] = performance.now() - a;
      if (status === s.expect) {
        ok++;
        if (s.sampleEvery && ok % s.sampleEvery === 1) samples.push(text);
      } else {
        failed++;
        failures[String(status)] = (failures[String(status)] ?? 0) + 1;
        if (failureSamples.length < 3) failureSamples.push(`${status} ${text.slice(0, 400)}`);
      }
    }
  }
  await Promise.all(Array.from({ length: s.conc }, worker));
  const cpu = cpuSince(c0, pids);
  const sorted = lat.slice(0, n).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    ok,
    failed,
    seconds: cpu.seconds,
    perSecond: ok / cpu.seconds,
    p50: pct(sorted, 0.5),
    p99: pct(sorted, 0.99),
    mean: n ? sum / n : NaN,
    failures,
    failureSamples,
    samples,
    cpu,
  };
}

interface ScenarioResult {
  readonly scenario: string;
  readonly group: 'baseline' | 'ra-ca' | 'ca' | 'ra' | 'floor';
  readonly conc: number;
  readonly certs: number;
  readonly failed: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly failures?: Record<string, number>;
  readonly failureSamples?: string[];
  /** CPU milliseconds per request, per process (all threads), plus `total`. */
  readonly cpuMsPerReq: Record<string, number>;
  /** Busy share of each process's main (JS) thread over the phase: 1 = saturated. */
  readonly mainThreadBusy: Record<string, number>;
  /** Machine-wide shares of all cores. */
  readonly machine: CpuDelta['machine'];
  /** Cores busy with work other than the processes measured here (other tenants, kernel threads): a noisy run shows here. */
  readonly otherLoadCores: number;
  /** Mean time inside the CA's sign pipeline (pki_ca_sign_duration_seconds), ms. */
  readonly caSignMeanMs?: number;
  readonly note?: string;
}

function toScenario(group: ScenarioResult['group'], scenario: string, conc: number, p: Phase, extra: Partial<ScenarioResult> = {}): ScenarioResult {
  const cpuMsPerReq: Record<string, number> = {};
  const mainThreadBusy: Record<string, number> = {};
  let total = 0;
  for (const [k, v] of Object.entries(p.cpu.procs)) {
    const all = v.main + v.other;
    cpuMsPerReq[k] = p.ok ? (all * 1000) / p.ok : NaN;
    mainThreadBusy[k] = v.main / p.cpu.seconds;
    total += all;
  }
  cpuMsPerReq.total = p.ok ? (total * 1000) / p.ok : NaN;
  return {
    scenario,
    group,
    conc,
    certs: p.ok,
    failed: p.failed,
    seconds: p.seconds,
    perSecond: p.perSecond,
    p50Ms: p.p50,
    p99Ms: p.p99,
    meanMs: p.mean,
    ...(p.failed ? { failures: p.failures, failureSamples: p.failureSamples } : {}),
    cpuMsPerReq,
    mainThreadBusy,
    machine: p.cpu.machine,
    otherLoadCores: Math.max(0, p.cpu.machine.busy * CORES - total / p.cpu.seconds),
    ...extra,
  };
}

async function caSignHistogram(caOpsUrl: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${caOpsUrl}/metrics`)).text();
  const sum = Number(/^pki_ca_sign_duration_seconds_sum(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? NaN);
  const count = Number(/^pki_ca_sign_duration_seconds_count(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? NaN);
  return { sum, count };
}

// ---------------------------------------------------------------------------------------------
// Chain checks on sampled responses.

function checkChain(chainPem: string): string | undefined {
  const blocks = chainPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];
  if (blocks.length < 2) return `chain has ${blocks.length} certificate(s)`;
  const leaf = new X509Certificate(blocks[0]!);
  const issuer = new X509Certificate(blocks[1]!);
  if (!leaf.checkIssued(issuer)) return 'leaf not issued by the chain issuer (names/AKI)';
  if (!leaf.verify(issuer.publicKey)) return 'leaf signature does not verify with the issuer key';
  if (!/^CN=BENCH-\d+$/m.test(leaf.subject) || !/^O=Demo CPO$/m.test(leaf.subject)) return `unexpected leaf subject ${leaf.subject}`;
  return undefined;
}

function verifySamples(samples: readonly string[]): { checked: number; bad: string[] } {
  const bad: string[] = [];
  for (const s of samples) {
    try {
      const body = JSON.parse(s) as { certificateChain?: string };
      const why = checkChain(body.certificateChain ?? '');
      if (why) bad.push(why);
    } catch (e) {
      bad.push(`unparseable response: ${(e as Error).message}`);
    }
  }
  return { checked: samples.length, bad };
}

// ---------------------------------------------------------------------------------------------
// Baseline: the naive one-process @peculiar/x509 path.

/**
 * Minimal Reflect metadata API (the part of reflect-metadata that tsyringe and tslib's decorator
 * helpers use). @peculiar/x509 2.x imports tsyringe, which throws at load time without it, and
 * reflect-metadata is not a dependency of this repo: so this is installed, then @peculiar/x509 is
 * imported dynamically. Nothing else in the bench sees it before that point.
 */
function installReflectMetadataShim(): void {
  const R = Reflect as unknown as Record<string, unknown>;
  if (typeof R.getMetadata === 'function') return;
  type Key = string | symbol | undefined;
  const maps = new WeakMap<object, Map<Key, Map<unknown, unknown>>>();
  const table = (target: object, prop: Key, create: boolean): Map<unknown, unknown> | undefined => {
    let byProp = maps.get(target);
    if (!byProp) {
      if (!create) return undefined;
      maps.set(target, (byProp = new Map()));
    }
    let t = byProp.get(prop);
    if (!t && create) byProp.set(prop, (t = new Map()));
    return t;
  };
  const hasOwn = (k: unknown, target: object, prop?: Key): boolean => table(target, prop, false)?.has(k) ?? false;
  const getOwn = (k: unknown, target: object, prop?: Key): unknown => table(target, prop, false)?.get(k);
  const define = (k: unknown, v: unknown, target: object, prop?: Key): void => void table(target, prop, true)!.set(k, v);
  const walk = <T>(target: object, f: (t: object) => T | undefined): T | undefined => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
      const r = f(t);
      if (r !== undefined) return r;
    }
    return undefined;
  };
  Object.assign(R, {
    defineMetadata: define,
    hasOwnMetadata: hasOwn,
    getOwnMetadata: getOwn,
    hasMetadata: (k: unknown, target: object, prop?: Key) => walk(target, (t) => (hasOwn(k, t, prop) ? true : undefined)) ?? false,
    getMetadata: (k: unknown, target: object, prop?: Key) => walk(target, (t) => (hasOwn(k, t, prop) ? { v: getOwn(k, t, prop) } : undefined))?.v,
    getOwnMetadataKeys: (target: object, prop?: Key) => [...(table(target, prop, false)?.keys() ?? [])],
    getMetadataKeys: (target: object, prop?: Key) => {
      const keys = new Set<unknown>();
      walk(target, (t) => void table(t, prop, false)?.forEach((_v, k) => keys.add(k)));
      return [...keys];
    },
    deleteMetadata: (k: unknown, target: object, prop?: Key) => table(target, prop, false)?.delete(k) ?? false,
    metadata: (k: unknown, v: unknown) => (target: object, prop?: Key) => define(k, v, target, prop),
  });
}

interface Issuer {
  readonly id: string;
  readonly der: Buffer;
  readonly chainPem: string;
  readonly key: KeyObject;
  readonly publicOcspBase: string;
}

async function runBaseline(issuer: Issuer, csrs: readonly CsrItem[], conc: number, seconds: number): Promise<{ result: ScenarioResult; check?: string; used: number }> {
  installReflectMetadataShim();
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const issuerCert = new x509.X509Certificate(issuer.der);
  const signingKey = await webcrypto.subtle.importKey('pkcs8', issuer.key.export({ type: 'pkcs8', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
  ]);
  const urls = issuerUrls(issuer.publicOcspBase, issuer.id);

  // The straightforward way: parse, verify, generate with the charge point profile's extensions, PEM.
  async function issueOne(pem: string): Promise<string> {
    const csr = new x509.Pkcs10CertificateRequest(pem);
    if (!(await csr.verify())) throw new Error('CSR signature does not verify');
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial().toString('hex'),
      subject: csr.subjectName,
      issuer: issuerCert.subjectName,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 365 * 86400_000),
      publicKey: csr.publicKey,
      signingKey: signingKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as X509.X509CertificateCreateWithKeyParams['signingAlgorithm'],
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.2']),
        await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
        // the issuer's own SKI (truncated SHA-256, RFC 7093); create(publicKey) would compute a SHA-1 one that does not match
        new x509.AuthorityKeyIdentifierExtension(issuerCert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId),
        new x509.AuthorityInfoAccessExtension({ ocsp: [urls.ocsp], caIssuers: [urls.caIssuers] }),
        new x509.CRLDistributionPointsExtension([urls.crl]),
      ],
    });
    return cert.toString('pem') + '\n' + issuer.chainPem;
  }

  let i = 0;
  for (const warmUntil = performance.now() + 500; performance.now() < warmUntil && i < 100; i++) await issueOne(csrs[i]!.csr); // warm-up, not counted
  const lat: number[] = [];
  let last = '';
  const c0 = snap({});
  const deadline = c0.t + seconds * 1000;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (performance.now() < deadline && i < csrs.length) {
        const item = csrs[i++]!;
        const a = performance.now();
        last = await issueOne(item.csr);
        lat.push(performance.now() - a);
      }
    }),
  );
  const cpu = cpuSince(c0, {});
  const sorted = Float64Array.from(lat).sort();
  const phase: Phase = {
    ok: lat.length,
    failed: 0,
    seconds: cpu.seconds,
    perSecond: lat.length / cpu.seconds,
    p50: pct(sorted, 0.5),
    p99: pct(sorted, 0.99),
    mean: lat.reduce((a, b) => a + b, 0) / lat.length,
    failures: {},
    failureSamples: [],
    samples: [],
    cpu: { ...cpu, procs: { baseline: cpu.procs.client! } },
  };
  const check = checkChain(last);
  return { result: toScenario('baseline', 'baseline @peculiar/x509 (1 process)', conc, phase), ...(check ? { check } : {}), used: i };
}

// ---------------------------------------------------------------------------------------------
// In-memory Store: the CA pipeline without LMDB, to see what the store costs. Only what issuance
// uses; revocation, OCSP and CRL methods are not needed here.

type IssuanceStore = Omit<Store, 'revokeCertificate' | 'removeStation' | 'listRevoked' | 'getOcspResponse' | 'putOcspResponses' | 'claimOcspDue' | 'nextCrlNumber' | 'putCrl' | 'getCrl' | 'ocspEpoch' | 'consumeRate' | 'releaseRate' | 'issuerLastExpiry' | 'getRotation' | 'commitRotation' | 'putStations' | 'requeueOcsp' | 'appendAudit' | 'listAudit' | 'auditHead' | 'auditCheckpoint' | 'pruneAudit' | 'createTenant' | 'updateTenant' | 'listTenants' | 'migrate'>;

class MemStore implements IssuanceStore {
  private readonly tenants = new Map<string, TenantRecord>();
  private readonly stations = new Map<string, StationRecord>();
  private readonly issuers = new Map<string, IssuerRecord>();
  private readonly certs = new Map<string, CertificateRecord>();
  private readonly spki = new Set<string>();
  private readonly blocked = new Set<string>();
  private readonly idem = new Map<string, IdempotencyRecord>();
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
  async assertDurable(): Promise<void> {}
  async getTenant(id: string): Promise<TenantRecord | undefined> {
    return this.tenants.get(id);
  }
  async putTenant(t: TenantRecord): Promise<void> {
    this.tenants.set(t.id, t);
  }
  async getStation(tenant: string, stationId: string): Promise<StationRecord | undefined> {
    return this.stations.get(`${tenant}\0${stationId}`);
  }
  async putStation(s: StationRecord): Promise<{ created: boolean }> {
    const k = `${s.tenant}\0${s.stationId}`;
    const created = !this.stations.has(k);
    this.stations.set(k, s);
    return { created };
  }
  async deleteStation(tenant: string, stationId: string): Promise<boolean> {
    return this.stations.delete(`${tenant}\0${stationId}`);
  }
  async listIssuers(): Promise<IssuerRecord[]> {
    return [...this.issuers.values()];
  }
  async getIssuer(id: string): Promise<IssuerRecord | undefined> {
    return this.issuers.get(id);
  }
  async putIssuer(i: IssuerRecord): Promise<void> {
    this.issuers.set(i.id, i);
  }
  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    return this.certs.get(serial);
  }
  async listStationCertificates(tenant: string, stationId: string): Promise<CertificateRecord[]> {
    return [...this.certs.values()].filter((c) => c.tenant === tenant && c.stationId === stationId);
  }
  async isKeyCertified(h: string): Promise<boolean> {
    return this.spki.has(h);
  }
  async getCertificateByKey(h: string): Promise<CertificateRecord | undefined> {
    return [...this.certs.values()].find((c) => c.spkiSha256 === h);
  }
  async isKeyBlocked(h: string): Promise<boolean> {
    return this.blocked.has(h);
  }
  async blockKey(h: string): Promise<void> {
    this.blocked.add(h);
  }
  async getIdempotency(tenant: string, key: string): Promise<IdempotencyRecord | undefined> {
    return this.idem.get(`${tenant}\0${key}`);
  }
  async recordIssuance(cert: CertificateRecord, idem?: IdempotencyClaim): Promise<IssuanceOutcome> {
    if (idem) {
      const existing = this.idem.get(`${idem.tenant}\0${idem.key}`);
      if (existing) return { ok: false, conflict: 'idempotency', existing };
    }
    if (this.certs.has(cert.serial)) return { ok: false, conflict: 'serial' };
    if (this.spki.has(cert.spkiSha256)) return { ok: false, conflict: 'key' };
    this.certs.set(cert.serial, cert);
    this.spki.add(cert.spkiSha256);
    if (idem) this.idem.set(`${idem.tenant}\0${idem.key}`, { requestHash: idem.requestHash, serial: cert.serial, createdAt: cert.issuedAt });
    return { ok: true };
  }
}

// ---------------------------------------------------------------------------------------------
// In-process micro-benchmarks.

interface Micro {
  readonly op: string;
  readonly n: number;
  /** Wall time per operation. */
  readonly usPerOp: number;
  readonly opsPerSec: number;
  /** CPU time of this process (all threads) per operation, for async operations. */
  readonly cpuUsPerOp?: number;
  readonly note?: string;
}

function microSync(op: string, n: number, fn: (i: number) => void, note?: string): Micro {
  for (let i = 0; i < Math.min(300, n); i++) fn(i); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const us = ((performance.now() - t0) * 1000) / n;
  return { op, n, usPerOp: us, opsPerSec: 1e6 / us, ...(note ? { note } : {}) };
}

/** `n` calls with `inFlight` outstanding at once (after a warm-up of `warm` calls); µs = wall time / call. */
async function microAsync(op: string, n: number, inFlight: number, fn: () => Promise<unknown>, opts: { warm?: number; note?: string } = {}): Promise<Micro> {
  for (let i = 0; i < (opts.warm ?? 100); i++) await fn();
  let i = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (i++ < n) await fn();
    }),
  );
  const us = ((performance.now() - t0) * 1000) / n;
  const cu = process.cpuUsage(c0);
  return { op, n, usPerOp: us, opsPerSec: 1e6 / us, cpuUsPerOp: (cu.user + cu.system) / n, ...(opts.note ? { note: opts.note } : {}) };
}

/** The JWK route to a P-256/384/521 public KeyObject (proposed for publicKeyObject; see the report). */
function ecKeyObjectViaJwk(publicKey: Buffer, crv: 'P-256' | 'P-384' | 'P-521'): KeyObject {
  const len = { 'P-256': 32, 'P-384': 48, 'P-521': 66 }[crv];
  if (publicKey.length !== 1 + 2 * len || publicKey[0] !== 4) throw new Error('not an uncompressed point');
  return createPublicKey({
    key: { kty: 'EC', crv, x: publicKey.subarray(1, 1 + len).toString('base64url'), y: publicKey.subarray(1 + len).toString('base64url') },
    format: 'jwk',
  });
}

async function runMicro(issuer: Issuer, dataDir: string, csrs: readonly CsrItem[], fresh: (n: number) => Promise<CsrItem[]>): Promise<Micro[]> {
  const out: Micro[] = [];
  const N = csrs.length;
  const parsed = csrs.map((c) => {
    const r = readCsr(c.csr);
    if ('violation' in r) throw new Error(r.violation.message);
    return r.csr;
  });
  const keys = parsed.map((p) => inspectSpki(p.spki));
  const stationFor = (i: number) => ({ serialNumber: `BENCH-${csrs[i % N]!.station}`, allowed: true });

  out.push(microSync('readCsr (strict DER parse of the PEM CSR)', N, (i) => void readCsr(csrs[i % N]!.csr)));
  let k = 0;
  out.push(
    await microAsync(
      'policy: readCsr + checkChargePointCsr (RA and CA each run it)',
      N,
      1,
      async () => {
        const i = k++;
        const r = readCsr(csrs[i % N]!.csr);
        if ('violation' in r) throw new Error('bad csr');
        const res = await checkChargePointCsr(r.csr, {
          station: stationFor(i),
          cpoName: CPO,
          keyPolicy: DEFAULT_KEY_POLICY,
          isKeyBlocked: () => false,
          wasKeyCertified: () => false,
        });
        if (!res.ok) throw new Error(JSON.stringify(res.violations));
      },
      { warm: 300, note: 'in-memory lookups' },
    ),
  );
  out.push(microSync('  of which createPublicKey(SPKI DER), in publicKeyObject', N, (i) => void createPublicKey({ key: parsed[i % N]!.spki, format: 'der', type: 'spki' })));
  const pubKeys = parsed.map((p) => createPublicKey({ key: p.spki, format: 'der', type: 'spki' }));
  out.push(
    microSync('  of which crypto.verify ECDSA P-256 (proof of possession)', N, (i) => {
      if (!nodeVerify('sha256', parsed[i % N]!.info, { key: pubKeys[i % N]!, dsaEncoding: 'der' }, parsed[i % N]!.signature)) throw new Error('POP');
    }),
  );
  for (let i = 0; i < N; i++) {
    const key = ecKeyObjectViaJwk(keys[i]!.common.publicKey, 'P-256'); // cross-check: same key, same verdict
    if (!nodeVerify('sha256', parsed[i]!.info, { key, dsaEncoding: 'der' }, parsed[i]!.signature)) throw new Error('JWK-imported key does not verify the CSR');
  }
  out.push(microSync('  proposed: same KeyObject from JWK (x, y of the point)', N, (i) => void ecKeyObjectViaJwk(keys[i % N]!.common.publicKey, 'P-256')));

  // CA: TBS build + sign with the issuer key, as sign-certificate.ts does
  const cert = parseCertificate(issuer.der);
  const signer = signerFor(issuer.key);
  const leafExtensions = chargePointProfile(keyIdentifier(cert.publicKey), issuerUrls(issuer.publicOcspBase, issuer.id));
  const validity = leafValidity({ now: new Date(), validitySeconds: 365 * 86400, issuerNotAfter: cert.notAfter });
  if ('error' in validity) throw new Error(validity.error);
  const subjects = parsed.map((p) => buildName(p.subject.rdns.flat()));
  out.push(
    microSync('CA buildTbs + signTbs (P-256 issuer; extensions per key)', N, (i) => {
      const key = keys[i % N]!;
      signTbs(
        buildTbs(signer.algorithmDer, cert.subject.der, { serial: randomSerial(), ...validity, subject: subjects[i % N]!, spki: key.common.spki, extensions: leafExtensions('ec', key.common.publicKey) }),
        signer,
      );
    }),
  );
  out.push(microSync('  of which crypto.sign ECDSA P-256 (issuer KeyObject)', N, () => void nodeSign('sha256', cert.tbs, { key: issuer.key, dsaEncoding: 'der' })));
  const sampleResp = JSON.stringify({
    certificateChain: toPem('CERTIFICATE', cert.der) + issuer.chainPem,
    certificateType: CERT_TYPE,
    serialNumber: 'ab'.repeat(16),
    notBefore: new Date().toISOString(),
    notAfter: new Date().toISOString(),
    sha256Fingerprint: 'ab'.repeat(32),
  });
  out.push(microSync(`JSON.parse + JSON.stringify, ${sampleResp.length}-byte sign response`, N, () => void JSON.stringify(JSON.parse(sampleResp))));

  // LMDB: the issuance write (one write transaction, durable on resolve), in a scratch store
  const scratch = mkdtempSync(join(tmpdir(), 'evpki-bench-lmdb-'));
  try {
    const store = new LmdbStore(join(scratch, 'store'));
    // Leaves are recorded only under the active issuing CA.
    await store.putIssuer({ id: 'bench', hierarchy: 'csms', role: 'issuing', parentId: 'bench-root', certificate: cert.der, state: 'active', createdAt: new Date().toISOString() });
    const der = Buffer.alloc(650, 7);
    let seq = 0;
    const write = async (): Promise<void> => {
      const serial = randomSerial();
      const now = new Date().toISOString();
      const r = await store.recordIssuance({
        serial: serialToHex(serial),
        issuerId: 'bench',
        der,
        kind: CERT_TYPE,
        tenant: TENANT,
        stationId: `bench-${seq % STATIONS}`,
        subject: `O=${CPO}, CN=BENCH-0`,
        notBefore: now,
        notAfter: now,
        issuedAt: now,
        spkiSha256: createHash('sha256').update(String(seq++)).update(serial).digest('hex'),
        sha256Fingerprint: createHash('sha256').update(serial).digest('hex'),
        status: 'good',
      });
      if (!r.ok) throw new Error('recordIssuance conflict');
    };
    for (const inFlight of [1, 8, 32, 128])
      out.push(await microAsync(`LMDB recordIssuance, ${inFlight} in flight`, inFlight === 1 ? (QUICK ? 200 : 500) : QUICK ? 2000 : 6000, inFlight, write, { note: 'commit durable on resolve' }));
    await store.close();
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  // The whole CA pipeline in-process (no HTTP): on the bench PKI's LMDB store, then on a Map store
  const lmdb = openStore({ dataDir });
  const mem = new MemStore();
  try {
    // The bench stations, as PUT /v1/stations/{id} would record them (the RA's PUT later answers 200).
    const tenant = await lmdb.getTenant(TENANT);
    if (!tenant) throw new Error(`tenant ${TENANT} missing from the dev PKI`);
    await mem.putTenant(tenant);
    for (let i = 0; i < STATIONS; i++) {
      const now = new Date().toISOString();
      const st: StationRecord = { tenant: TENANT, stationId: `bench-${i}`, serialNumber: `BENCH-${i}`, allowed: true, createdAt: now, updatedAt: now };
      await lmdb.putStation(st);
      await mem.putStation(st);
    }
    for (const [name, store] of [
      ['in-memory', mem as IssuanceStore as Store],
      ['LMDB', lmdb],
    ] as const) {
      const deps: SignDeps = {
        store,
        issuer: { id: issuer.id, cert, signer, leafExtensions, serverExtensions: serverProfile(keyIdentifier(cert.publicKey), ''), chainPem: issuer.chainPem },
        keyPolicy: DEFAULT_KEY_POLICY,
        leafValiditySeconds: 365 * 86400,
        now: () => new Date(),
      };
      for (const inFlight of [1, 32]) {
        const n = inFlight === 1 ? (QUICK ? 200 : 500) : QUICK ? 1000 : 3000;
        const pool = await fresh(n + 300);
        let j = 0;
        const one = async (): Promise<void> => {
          const c = pool[j++]!;
          await signChargePointCertificate({ tenant: TENANT, stationId: `bench-${c.station}`, csr: c.csr, certificateType: CERT_TYPE }, deps);
        };
        out.push(await microAsync(`CA signChargePointCertificate in-process, ${name} store, ${inFlight} in flight`, n, inFlight, one, { warm: 300, note: 'policy + build + sign + record' }));
      }
    }
  } finally {
    await lmdb.close();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Output

function mainTable(rows: readonly ScenarioResult[], baseline: number): string {
  return grid(
    ['scenario', 'conc', 'certs', 'fail', 'cert/s', 'p50 ms', 'p99 ms', 'vs baseline', 'vs 1000/s'],
    rows.map((r) => [
      r.scenario,
      String(r.conc),
      String(r.certs),
      String(r.failed),
      f0(r.perSecond),
      f2(r.p50Ms),
      f2(r.p99Ms),
      `${f2(r.perSecond / baseline)}x`,
      r.group === 'ra-ca' ? `${f2(r.perSecond / TARGET)}x` : '',
    ]),
  );
}

function cpuTable(rows: readonly ScenarioResult[]): string {
  const procs = ['ra', 'ca', 'server', 'client', 'baseline'].filter((p) => rows.some((r) => r.cpuMsPerReq[p] !== undefined));
  return grid(
    ['scenario', 'conc', ...procs.map((p) => `${p} ms`), 'total ms', 'RA main', 'CA main', 'srv main', 'machine busy', 'other load', 'iowait', 'CA pipeline ms'],
    rows.map((r) => [
      r.scenario,
      String(r.conc),
      ...procs.map((p) => (r.cpuMsPerReq[p] === undefined ? '' : f2(r.cpuMsPerReq[p]))),
      f2(r.cpuMsPerReq.total ?? NaN),
      pc(r.mainThreadBusy.ra),
      pc(r.mainThreadBusy.ca),
      pc(r.mainThreadBusy.server),
      `${f2(r.machine.busy * CORES)}/${CORES}`,
      f2(r.otherLoadCores),
      pc(r.machine.iowait),
      r.caSignMeanMs === undefined ? '' : f2(r.caSignMeanMs),
    ]),
  );
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const startedAt = new Date();
  const wall0 = performance.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'evpki-bench-'));
  const procs: Proc[] = [];
  const scenarios: ScenarioResult[] = [];
  const verification: Record<string, { checked: number; bad: string[] }> = {};
  const problems: string[] = [];
  let micro: Micro[] = [];
  let baselineRate = NaN;
  let csrCount = 0;
  let csrSeconds = 0;
  try {
    log(`dev PKI in ${dataDir}`);
    initDevPki(dataDir);
    const token = execFileSync(process.execPath, [PKI_CLI, 'token', '--tenant', TENANT, '--data-dir', dataDir], { env: serviceEnv({}), encoding: 'utf8' }).trim();
    const manifest = readManifest(dataDir);
    const paths = dataPaths(dataDir);
    const issuerKey = readPrivateKey(paths.issuerKey(manifest.issuers.chargePoint), readSecretFile(paths.devPassphrase));
    let issuer: Issuer;
    {
      const store = openStore({ dataDir });
      const rec = await store.getIssuer(manifest.issuers.chargePoint);
      await store.close();
      if (!rec) throw new Error('charge point issuer missing from the store');
      const der = Buffer.from(rec.certificate);
      issuer = { id: rec.id, der, chainPem: toPem('CERTIFICATE', der), key: issuerKey, publicOcspBase: manifest.publicOcspBase };
    }

    // CSRs: generated before the phase that uses them, never while timing
    let offset = 0;
    const take = async (n: number): Promise<CsrItem[]> => {
      const t = performance.now();
      const r = await makeCsrs(n, { offset });
      offset += n;
      csrCount += n;
      csrSeconds += (performance.now() - t) / 1000;
      return r;
    };

    // --- baseline (before the services start, so it has the machine to itself)
    log('baseline: @peculiar/x509 naive, one process');
    {
      const csrs = await take(QUICK ? 800 : 2000);
      const b = await runBaseline(issuer, csrs, 1, QUICK ? 1.5 : 3);
      if (b.check) problems.push(`baseline chain: ${b.check}`);
      scenarios.push(b.result);
      baselineRate = b.result.perSecond;
      const b8 = await runBaseline(issuer, csrs.slice(b.used), 8, QUICK ? 1 : 2);
      scenarios.push({ ...b8.result, scenario: 'baseline @peculiar/x509, 8 in flight', note: 'WebCrypto calls are async: some of it runs on the libuv pool' });
    }

    // --- in-process breakdown, before any service runs: the machine and a small heap are ours
    if (!ONLY_RA_CA) {
      log('in-process breakdown');
      micro = await runMicro(issuer, dataDir, await take(QUICK ? 1000 : 3000), take);
    }

    // --- services
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

    const raHeaders = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    // Calls to the CA authenticate with the RA's client certificate, not a header.
    const caHeaders = { 'content-type': 'application/json' };
    {
      const p = new Pool(raUrl, { connections: 4 });
      for (let i = 0; i < STATIONS; i++) {
        const r = await p.request({ path: `/v1/stations/bench-${i}`, method: 'PUT', headers: raHeaders, body: JSON.stringify({ serialNumber: `BENCH-${i}`, allowed: true }) });
        const t = await r.body.text();
        if (r.statusCode !== 201 && r.statusCode !== 200) throw new Error(`station registration: ${r.statusCode} ${t}`);
      }
      await p.close();
    }
    const pids = { ra: ra.child.pid!, ca: ca.child.pid! };

    // CSRs per RA→CA phase: room for 1.5x the best rate seen so far, and at most 700/s per
    // in-flight request; a phase that runs dry ends early and says so (count-bounded).
    let bestRate = 1500;
    const capFor = (seconds: number, conc: number): number => Math.ceil(seconds * Math.max(600, Math.min(1.5 * bestRate, conc * 700)));

    // --- pre-warm the fresh RA and CA (JIT, lazy validator compilation, heap sizing), not counted
    {
      const warm = await take(capFor(PREWARM_S, 32));
      const pool = new Pool(raUrl, { connections: 32, pipelining: 1, keepAliveTimeout: 60_000 });
      const p = await runPhase({ pool, conc: 32, source: listSource(warm.map(raRequest)), headers: raHeaders, seconds: PREWARM_S, maxCount: warm.length, expect: 201 });
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
        await runPhase({ pool, conc, source: listSource(warm.map(raRequest)), headers: raHeaders, seconds: WARMUP_S, maxCount: warm.length, expect: 201 });
        const h0 = await caSignHistogram(caOpsUrl);
        const src = listSource(meas.map(raRequest));
        const p = await runPhase({ pool, conc, source: src, headers: raHeaders, seconds: MEASURE_S, maxCount: meas.length, expect: 201, sampleEvery: 97, pids });
        const h1 = await caSignHistogram(caOpsUrl);
        const dry = src.used() >= meas.length && p.seconds < MEASURE_S * 0.95 ? { note: `count-bounded: used all ${meas.length} pre-generated CSRs` } : {};
        scenarios.push(toScenario('ra-ca', 'RA→CA over mutual TLS, lmdb store', conc, p, { caSignMeanMs: ((h1.sum - h0.sum) / (h1.count - h0.count)) * 1000, ...dry }));
        bestRate = Math.max(bestRate, p.perSecond);
        verification[`ra-ca conc ${conc}`] = verifySamples(p.samples);
        if (p.samples.length) lastSamples = p.samples;
        log(`RA→CA conc ${conc}: ${f0(p.perSecond)} cert/s, p50 ${f2(p.p50)} ms, p99 ${f2(p.p99)} ms, failed ${p.failed}`);
      } finally {
        await pool.close();
      }
    }

    // --- CA alone over mutual TLS, as the RA (the RA's share is the difference)
    for (const conc of ONLY_RA_CA ? [] : [1, 32]) {
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

    // --- RA alone: a second, real RA in front of a stub CA that answers a canned sign response
    if (!ONLY_RA_CA) {
      const canned = lastSamples[0];
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
        await runPhase({ pool, conc: 32, source: cycleSource(reqs), headers: raHeaders, seconds: PREWARM_S, maxCount: 1e6, expect: 201 });
        const p = await runPhase({ pool, conc: 32, source: cycleSource(reqs), headers: raHeaders, seconds: SIDE_S, maxCount: 1e6, expect: 201, pids: { ra: ra2.child.pid!, server: stub.child.pid! } });
        scenarios.push(toScenario('ra', 'RA alone (stub CA, canned reply)', 32, p, { note: '"server" = the stub CA process' }));
        log(`RA alone conc 32: ${f0(p.perSecond)} req/s`);
      } finally {
        await pool.close();
      }
      await stopProc(ra2);
      await stopProc(stub);
    }

    // --- HTTP floors under the same client, one server process each
    await stopProc(ra);
    await stopProc(ca);
    if (!ONLY_RA_CA) {
      const body = raRequest((await take(1))[0]!);
      const labels = { bare: 'HTTP floor: bare node:http', express: 'HTTP floor: express 5 + json', 'express-openapi': 'HTTP floor: express + openapi-validator' } as const;
      for (const mode of ['bare', 'express', 'express-openapi'] as const) {
        const srv = spawnNode(`floor ${mode}`, [FLOOR_SERVER, mode]);
        procs.push(srv);
        const url = `http://127.0.0.1:${await waitListening(srv)}`;
        for (const conc of mode === 'bare' ? [1, 32] : [32]) {
          const pool = new Pool(url, { connections: conc, pipelining: 1, keepAliveTimeout: 60_000 });
          try {
            await runPhase({ pool, conc, source: () => body, headers: raHeaders, seconds: WARMUP_S, maxCount: 1e7, expect: 201 });
            const p = await runPhase({ pool, conc, source: () => body, headers: raHeaders, seconds: SIDE_S, maxCount: 1e7, expect: 201, pids: { server: srv.child.pid! } });
            scenarios.push(toScenario('floor', labels[mode], conc, p, { note: `POST ${body.body.length} B, fixed 471 B reply` }));
            log(`${labels[mode]} conc ${conc}: ${f0(p.perSecond)} req/s`);
          } finally {
            await pool.close();
          }
        }
        await stopProc(srv);
      }
    }

  } finally {
    await stopAll(procs);
    cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  }

  // --- report
  for (const [k, v] of Object.entries(verification)) if (v.bad.length) problems.push(`${k}: ${v.bad.length}/${v.checked} sampled chains bad: ${v.bad[0]}`);
  for (const s of scenarios) if (s.failed) problems.push(`${s.scenario} conc ${s.conc}: ${s.failed} non-201 (${JSON.stringify(s.failures)}) e.g. ${s.failureSamples?.[0] ?? ''}`);
  const checked = Object.values(verification).reduce((a, v) => a + v.checked, 0);
  const bad = Object.values(verification).reduce((a, v) => a + v.bad.length, 0);
  const raCa = scenarios.filter((s) => s.group === 'ra-ca');
  const best = raCa.reduce<ScenarioResult | undefined>((a, s) => (!a || s.perSecond > a.perSecond ? s : a), undefined);

  const out: string[] = [];
  out.push('');
  out.push(`bench-issue: P-256 charge point certificates, ${CORES} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}`);
  out.push(`RA, CA: separate processes on one LMDB store; client: undici Pool, closed loop, keep-alive, 1 connection per in-flight request`);
  if (SERVICE_IMPORT) out.push(`EXPERIMENT: RA and CA started with --import ${SERVICE_IMPORT}`);
  out.push('');
  out.push(mainTable(scenarios, baselineRate));
  out.push('');
  if (best)
    out.push(
      `best RA→CA: ${f0(best.perSecond)} cert/s at conc ${best.conc} (p50 ${f2(best.p50Ms)} ms, p99 ${f2(best.p99Ms)} ms) = ${f2(best.perSecond / baselineRate)}x the naive baseline, ${f2(best.perSecond / TARGET)}x the ${TARGET}/s target`,
    );
  out.push(`sampled chains verified (node X509Certificate: checkIssued + signature + subject): ${checked - bad}/${checked}`);
  out.push('');
  out.push('CPU per request by process (ms, all threads, from /proc), main (JS) thread busy share, machine-wide busy cores, cores busy with');
  out.push('anything else ("other load": other tenants of this machine; > 0.1 means a noisy run), iowait, and the');
  out.push('mean time inside the CA sign pipeline (pki_ca_sign_duration_seconds; includes waiting for its turn and for the LMDB commit):');
  const noisy = scenarios.filter((s) => s.otherLoadCores > 0.15);
  if (noisy.length) out.push(`WARNING: other load on the machine during ${noisy.length} scenario(s) (up to ${f2(Math.max(...noisy.map((s) => s.otherLoadCores)))} cores): numbers are pessimistic; re-run on a quiet machine.`);
  out.push(cpuTable(scenarios));
  out.push('');
  out.push('In-process breakdown (this process; sync ops single-threaded; async ops: wall µs/op and CPU µs/op of all threads):');
  out.push(
    grid(
      ['operation', 'n', 'µs/op', 'ops/s', 'CPU µs/op'],
      micro.map((m) => [m.op + (m.note ? ` (${m.note})` : ''), String(m.n), f1(m.usPerOp), f0(m.opsPerSec), m.cpuUsPerOp === undefined ? '' : f1(m.cpuUsPerOp)]),
    ),
  );
  const profileReport = analyseProfiles(profiles, profileBreakdown, problems);
  for (const [name, r] of Object.entries(profileReport)) {
    out.push('');
    out.push(`CPU profile of the ${name} process's JS thread over its whole run (--cpu-prof, ${f1(r.busySeconds)} s busy; share of busy time):`);
    out.push(...shareLines(r.shares));
  }
  const notes = scenarios.filter((s) => s.note?.startsWith('count-bounded'));
  for (const s of notes) out.push(`note: ${s.scenario} conc ${s.conc}: ${s.note}`);
  out.push(...problemLines(problems));
  out.push('');
  out.push(`${csrCount} CSRs pre-generated in ${f1(csrSeconds)} s (untimed); total bench wall time ${f0((performance.now() - wall0) / 1000)} s; JSON: ${RESULTS}`);
  process.stdout.write(out.join('\n') + '\n');

  writeResults(RESULTS, 'bench-issue', startedAt, {
    config: { concurrencies: CONCURRENCIES, measureSeconds: MEASURE_S, warmupSeconds: WARMUP_S, prewarmSeconds: PREWARM_S, sideSeconds: SIDE_S, stations: STATIONS, targetPerSecond: TARGET },
    baselinePerSecond: baselineRate,
    best: best ? { perSecond: best.perSecond, conc: best.conc, p50Ms: best.p50Ms, p99Ms: best.p99Ms, vsBaseline: best.perSecond / baselineRate, vsTarget: best.perSecond / TARGET } : undefined,
    scenarios,
    breakdown: micro,
    ...profilesJson(profiles, profileReport),
    verification,
    problems,
  });
  if (problems.length) process.exitCode = 1;
}

runBench('bench-issue', main);
