import { X509Certificate, createPrivateKey, generateKeyPair, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OID, attributeValues, buildCsr, parseCertificate, parseSubjectAltNames, pemBlocks, subjectAltName, toPem } from '@evpki/x509';
import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';
import { inClusterTarget, writeTlsSecret, type K8sApiTarget } from './k8s-secret.js';

/**
 * `pki renew`: a CSMS server certificate with fast expiration (A00.FR.701: under 24 h, renewed
 * continually). Every renewal makes a fresh key and CSR (the old key is never reused), asks the RA
 * (`POST /v1/server-certificates`), checks that the answer is for that key and those names, and
 * only then replaces the files (and/or a Kubernetes TLS Secret). `--daemon` keeps doing so at about
 * two thirds of each certificate's lifetime.
 */

export const RENEW_KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-3072'] as const;
export type RenewKeyType = (typeof RENEW_KEY_TYPES)[number];

export interface RenewOptions {
  /** RA base URL, without trailing slash. */
  readonly raUrl: string;
  /** Bearer token file, re-read on every attempt (Kubernetes rotates projected tokens). */
  readonly tokenFile: string;
  readonly org: string;
  readonly cn: string;
  /** Every dNSName for the subjectAltName: the CN first, then --san, without duplicates. */
  readonly dnsNames: readonly string[];
  readonly keyType: RenewKeyType;
  readonly validityHours?: number;
  readonly keyOut?: string;
  readonly certOut?: string;
  /** Key and chain in one file (one rename: never a mismatched pair). */
  readonly bundleOut?: string;
  readonly k8sSecret?: string;
  readonly k8s?: K8sApiTarget;
  readonly json: boolean;
}

/** The raw `pki renew` options, as parsed by main.ts. */
export interface RenewArgs {
  readonly 'ra-url'?: string;
  readonly 'token-file'?: string;
  readonly org?: string;
  readonly cn?: string;
  readonly san?: string;
  readonly 'key-type'?: string;
  readonly 'validity-hours'?: string;
  readonly 'key-out'?: string;
  readonly 'cert-out'?: string;
  readonly 'bundle-out'?: string;
  readonly 'k8s-secret'?: string;
  readonly daemon?: boolean;
  readonly 'require-https'?: boolean;
  readonly json?: boolean;
}

/** A failed renewal, with the exit code it maps to and the RA's Retry-After when it sent one. */
export class RenewError extends CliError {
  constructor(
    message: string,
    exitCode: number,
    readonly retryAfterMs?: number,
  ) {
    super(message, exitCode);
  }
}

const bad = (message: string): CliError => new CliError(message, EXIT.badInput);

// An FQDN (optionally with a leftmost wildcard label); the RA's policy decides what the tenant may have.
const DNS_NAME = /^(\*\.)?(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/i;

export function parseRenewOptions(a: RenewArgs, env: NodeJS.ProcessEnv): RenewOptions {
  const raUrl = a['ra-url'] ?? env.PKI_RA_URL;
  if (!raUrl) throw bad('--ra-url (or PKI_RA_URL) is required');
  let url: URL;
  try {
    url = new URL(raUrl);
  } catch {
    throw bad(`--ra-url "${raUrl}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad(`--ra-url "${raUrl}" must be an http(s) URL`);
  if (url.protocol === 'http:' && a['require-https']) throw bad(`--ra-url "${raUrl}" is plain http: the bearer token would be sent in clear (--require-https)`);
  const tokenFile = a['token-file'] ?? env.PKI_RA_TOKEN_FILE;
  if (!tokenFile) throw bad('--token-file (or PKI_RA_TOKEN_FILE) is required');
  if (!a.org) throw bad('--org is required (the CPO name, the subject O the RA expects for this tenant)');
  if (!a.cn) throw bad('--cn is required (the server FQDN)');
  const names = [a.cn, ...(a.san ?? '').split(',').map((s) => s.trim()).filter(Boolean)];
  for (const n of names) if (!DNS_NAME.test(n)) throw bad(`"${n}" is not a fully qualified domain name`);
  const dnsNames = names.filter((n, i) => names.findIndex((m) => m.toLowerCase() === n.toLowerCase()) === i);
  const keyType = (a['key-type'] ?? 'ec-p256') as RenewKeyType;
  if (!RENEW_KEY_TYPES.includes(keyType)) throw bad(`--key-type must be one of ${RENEW_KEY_TYPES.join(', ')}`);
  let validityHours: number | undefined;
  if (a['validity-hours'] !== undefined) {
    validityHours = Number(a['validity-hours']);
    if (!Number.isFinite(validityHours) || validityHours <= 0 || validityHours >= 24)
      throw bad('--validity-hours must be a number above 0 and below 24 (A00.FR.701)');
  }
  const keyOut = a['key-out'];
  const certOut = a['cert-out'];
  if ((keyOut === undefined) !== (certOut === undefined)) throw bad('--key-out and --cert-out go together');
  if (keyOut !== undefined && keyOut === certOut) throw bad('--key-out and --cert-out must be different files');
  const bundleOut = a['bundle-out'];
  const k8sSecret = a['k8s-secret'];
  if (!keyOut && !bundleOut && !k8sSecret) throw bad('nowhere to write: give --key-out and --cert-out, --bundle-out or --k8s-secret');
  if (k8sSecret !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(k8sSecret)) throw bad(`--k8s-secret "${k8sSecret}" is not a Secret name`);
  return {
    raUrl: raUrl.replace(/\/+$/, ''),
    tokenFile,
    org: a.org,
    cn: a.cn,
    dnsNames,
    keyType,
    ...(validityHours === undefined ? {} : { validityHours }),
    ...(keyOut === undefined ? {} : { keyOut, certOut }),
    ...(bundleOut === undefined ? {} : { bundleOut }),
    ...(k8sSecret === undefined ? {} : { k8sSecret, k8s: inClusterTarget(env) }),
    json: a.json ?? false,
  };
}

// ---------------------------------------------------------------------------------------------
// One renewal

function newKey(type: RenewKeyType): Promise<KeyObject> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, _pub: KeyObject, priv: KeyObject): void => (err ? reject(err) : resolve(priv));
    if (type === 'rsa-3072') generateKeyPair('rsa', { modulusLength: 3072, publicExponent: 65537 }, done);
    else generateKeyPair('ec', { namedCurve: type === 'ec-p384' ? 'P-384' : 'P-256' }, done);
  });
}

/** Key, CSR and Idempotency-Key of one renewal: kept across its retries, so that a retry after a lost answer gets the same certificate. */
interface Prepared {
  readonly key: KeyObject;
  readonly csr: string;
  readonly idempotencyKey: string;
}

async function prepare(o: RenewOptions): Promise<Prepared> {
  const key = await newKey(o.keyType);
  const csr = buildCsr(key, { o: o.org, cn: o.cn }, [subjectAltName({ dns: o.dnsNames })]);
  return { key, csr, idempotencyKey: randomUUID() };
}

function readToken(file: string): string {
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch {
    throw bad(`cannot read the token file ${file}`);
  }
  if (!token) throw bad(`the token file ${file} is empty`);
  return token;
}

interface IssuedAnswer {
  readonly certificateChain: string;
  readonly certificateType: string;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly sha256Fingerprint: string;
}

interface Problem {
  readonly title?: string;
  readonly detail?: string;
  readonly violations?: readonly { rule?: string; message?: string }[];
}

/** Retry-After in seconds or as an HTTP date. */
function retryAfterMs(value: string | null, now: Date): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime());
}

const RA_TIMEOUT_MS = 30_000;

async function requestCertificate(o: RenewOptions, p: Prepared, signal: AbortSignal, now: () => Date): Promise<IssuedAnswer> {
  const token = readToken(o.tokenFile);
  const url = `${o.raUrl}/v1/server-certificates`;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json', 'idempotency-key': p.idempotencyKey },
      body: JSON.stringify({ csr: p.csr, ...(o.validityHours === undefined ? {} : { validityHours: o.validityHours }) }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(RA_TIMEOUT_MS)]),
    });
    text = await res.text();
  } catch (e) {
    if (signal.aborted) throw e;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e as Error).message;
    throw new RenewError(`the RA at ${o.raUrl} is unreachable (${why})`, EXIT.tempFail);
  }
  if (res.status === 201) {
    let body: Partial<IssuedAnswer>;
    try {
      body = JSON.parse(text) as Partial<IssuedAnswer>;
    } catch {
      throw new RenewError('the RA answered 201 without a JSON body', EXIT.failure);
    }
    for (const f of ['certificateChain', 'serialNumber', 'notAfter'] as const)
      if (typeof body[f] !== 'string') throw new RenewError(`the RA's answer has no ${f}`, EXIT.failure);
    return body as IssuedAnswer;
  }
  let problem: Problem = {};
  try {
    problem = JSON.parse(text) as Problem;
  } catch {
    // not problem+json (a proxy's error page): the status says enough
  }
  const violations = (problem.violations ?? []).map((v) => `\n  ${v.rule ?? '?'}: ${v.message ?? ''}`).join('');
  const message = `the RA answered ${res.status}${problem.title ? ` ${problem.title}` : ''}${problem.detail ? `: ${problem.detail}` : ''}${violations}`;
  if (res.status >= 500 || res.status === 429 || res.status === 408) throw new RenewError(message, EXIT.tempFail, retryAfterMs(res.headers.get('retry-after'), now()));
  if (res.status >= 400) throw new RenewError(message, EXIT.badInput);
  throw new RenewError(message, EXIT.failure);
}

function dnsNamesOf(der: Buffer): string[] {
  const cert = parseCertificate(der);
  const ext = cert.extensions.find((e) => e.oid === OID.subjectAltName);
  return ext ? parseSubjectAltNames(ext.value).dns : [];
}

const sameNames = (a: readonly string[], b: readonly string[]): boolean => {
  const norm = (x: readonly string[]) => [...new Set(x.map((n) => n.toLowerCase()))].sort().join(',');
  return norm(a) === norm(b);
};

/** A certificate the renewal has checked: for the new key, the requested names, issued by the second certificate of the chain. */
export interface Renewed {
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** When this process received it: the start of the lifetime the next renewal is scheduled in. */
  readonly issuedAt: Date;
  readonly sha256Fingerprint: string;
  readonly keyPem: string;
  readonly chainPem: string;
}

function checkAnswer(o: RenewOptions, p: Prepared, a: IssuedAnswer, now: Date): Renewed {
  const fail = (why: string): RenewError => new RenewError(`the RA's certificate is unusable: ${why}`, EXIT.failure);
  const blocks = pemBlocks(a.certificateChain, 'CERTIFICATE');
  if (blocks.length < 2) throw fail('the chain must hold the certificate and its issuing CA');
  const [leafDer, issuerDer] = blocks as [Buffer, Buffer, ...Buffer[]];
  let leaf: X509Certificate;
  let issuer: X509Certificate;
  try {
    leaf = new X509Certificate(leafDer);
    issuer = new X509Certificate(issuerDer);
  } catch (e) {
    throw fail(`cannot parse the chain (${(e as Error).message})`);
  }
  if (!leaf.checkPrivateKey(p.key)) throw fail('it is not for the key of this request');
  if (!leaf.checkIssued(issuer) || !leaf.verify(issuer.publicKey)) throw fail('it is not signed by the next certificate of the chain');
  const parsed = parseCertificate(leafDer);
  const cns = attributeValues(parsed.subject, OID.commonName);
  if (cns.length !== 1 || cns[0]!.toLowerCase() !== o.cn.toLowerCase()) throw fail(`subject CN is ${cns.join(', ') || 'missing'}, not ${o.cn}`);
  const dns = dnsNamesOf(leafDer);
  if (!sameNames(dns, o.dnsNames)) throw fail(`subjectAltName is ${dns.join(', ') || 'empty'}, not ${o.dnsNames.join(', ')}`);
  if (a.serialNumber.toLowerCase() !== parsed.serialHex) throw fail(`serial ${parsed.serialHex} differs from the answer's ${a.serialNumber}`);
  if (parsed.notAfter.getTime() <= now.getTime()) throw fail(`it expired at ${parsed.notAfter.toISOString()}`);
  return {
    serialNumber: parsed.serialHex,
    notBefore: parsed.notBefore,
    notAfter: parsed.notAfter,
    issuedAt: now,
    sha256Fingerprint: leaf.fingerprint256.replace(/:/g, '').toLowerCase(),
    keyPem: p.key.export({ type: 'pkcs8', format: 'pem' }) as string,
    chainPem: blocks.map((b) => toPem('CERTIFICATE', b)).join(''),
  };
}

// ---------------------------------------------------------------------------------------------
// Writing: stage every file, then rename

interface Staged {
  commit(): void;
  abort(): void;
}

function stage(path: string, data: string, mode: number): Staged {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    fchmodSync(fd, mode); // whatever the umask
    writeSync(fd, Buffer.from(data));
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  return { commit: () => renameSync(tmp, path), abort: () => rmSync(tmp, { force: true }) };
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not every file system lets a directory be fsynced; the renames are done either way
  }
}

/**
 * Writes the new pair. Everything is first written to temporary files next to the targets (fsynced),
 * then renamed: the key first, the chain last. The chain's rename is the commit point: a reader that
 * reloads when the certificate file changes (the usual trigger) always finds the matching key
 * already in place, and the window in which the key is new and the chain still old is one rename
 * long. A reader that loads both must check that they match and keep what it has otherwise (Node's
 * `tls.createSecureContext` throws on a mismatched pair). `--bundle-out` avoids the window
 * altogether: one file, one rename. Nothing is renamed unless every file could be staged, so the
 * old files stay until a complete new set is written.
 */
function writeFiles(o: RenewOptions, r: Renewed): void {
  const staged: Staged[] = [];
  try {
    if (o.keyOut && o.certOut) {
      staged.push(stage(o.keyOut, r.keyPem, 0o600));
      staged.push(stage(o.certOut, r.chainPem, 0o644));
    }
    if (o.bundleOut) staged.push(stage(o.bundleOut, r.keyPem + r.chainPem, 0o600));
  } catch (e) {
    staged.forEach((s) => s.abort());
    throw new RenewError(`cannot write the new files: ${(e as Error).message}`, EXIT.failure);
  }
  for (const s of staged) s.commit();
  for (const d of new Set([o.keyOut, o.certOut, o.bundleOut].filter((p): p is string => !!p).map(dirname))) syncDir(d);
}

async function renewWith(o: RenewOptions, p: Prepared, signal: AbortSignal, now: () => Date): Promise<Renewed> {
  const answer = await requestCertificate(o, p, signal, now);
  const r = checkAnswer(o, p, answer, now());
  writeFiles(o, r);
  if (o.k8sSecret && o.k8s)
    await writeTlsSecret(o.k8s, { name: o.k8sSecret, keyPem: r.keyPem, chainPem: r.chainPem, serialNumber: r.serialNumber, notAfter: r.notAfter.toISOString() });
  return r;
}

// ---------------------------------------------------------------------------------------------
// Scheduling

/** Renew at two thirds of the lifetime (from `issuedAt`), moved by `jitter` (−0.1..0.1 for ±10 %). */
export function renewalDue(issuedAt: Date, notAfter: Date, jitter = 0): Date {
  const life = Math.max(0, notAfter.getTime() - issuedAt.getTime());
  return new Date(issuedAt.getTime() + (life * 2 * (1 + jitter)) / 3);
}

/** Backoff after failed attempts: 1 s, doubling, at most 5 minutes. */
export const BACKOFF = { firstMs: 1000, maxMs: 5 * 60_000 } as const;

/**
 * The certificate already in --cert-out/--key-out (or --bundle-out), if it is still valid, matches
 * its key and has the requested names. Its lifetime is counted from the file's modification time
 * (clamped to notBefore..now), since CAs may backdate notBefore.
 */
function currentFromFiles(o: RenewOptions, now: Date, log: (line: string) => void): Renewed | undefined {
  const certPath = o.certOut ?? o.bundleOut;
  const keyPath = o.keyOut ?? o.bundleOut;
  if (!certPath || !keyPath) return undefined;
  let chainPem: string;
  let keyPem: string;
  let mtime: Date;
  try {
    chainPem = readFileSync(certPath, 'utf8');
    keyPem = readFileSync(keyPath, 'utf8');
    mtime = statSync(certPath).mtime;
  } catch {
    return undefined;
  }
  try {
    const [leafDer] = pemBlocks(chainPem, 'CERTIFICATE');
    if (!leafDer) return undefined;
    const leaf = new X509Certificate(leafDer);
    const parsed = parseCertificate(leafDer);
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) return log(`${certPath} does not match ${keyPath}: renewing now`), undefined;
    if (parsed.notAfter.getTime() <= now.getTime()) return log(`${certPath} expired at ${parsed.notAfter.toISOString()}: renewing now`), undefined;
    if (!sameNames(dnsNamesOf(leafDer), o.dnsNames)) return log(`${certPath} has other names than requested: renewing now`), undefined;
    const issuedAt = new Date(Math.min(now.getTime(), Math.max(parsed.notBefore.getTime(), mtime.getTime())));
    return {
      serialNumber: parsed.serialHex,
      notBefore: parsed.notBefore,
      notAfter: parsed.notAfter,
      issuedAt,
      sha256Fingerprint: leaf.fingerprint256.replace(/:/g, '').toLowerCase(),
      keyPem,
      chainPem,
    };
  } catch {
    log(`${certPath} holds no readable certificate: renewing now`);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Running

export interface RenewIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly now: () => Date;
  readonly random: () => number;
  readonly signal: AbortSignal;
}

function report(o: RenewOptions, io: RenewIo, r: Renewed, due: Date): void {
  const where = [o.keyOut && `key ${o.keyOut}`, o.certOut && `chain ${o.certOut}`, o.bundleOut && `bundle ${o.bundleOut}`, o.k8sSecret && `Secret ${o.k8sSecret}`].filter(Boolean);
  if (o.json)
    io.out(
      JSON.stringify({
        serialNumber: r.serialNumber,
        notBefore: r.notBefore.toISOString(),
        notAfter: r.notAfter.toISOString(),
        sha256Fingerprint: r.sha256Fingerprint,
        nextRenewalAt: due.toISOString(),
        ...(o.keyOut ? { keyFile: o.keyOut, certFile: o.certOut } : {}),
        ...(o.bundleOut ? { bundleFile: o.bundleOut } : {}),
        ...(o.k8sSecret ? { k8sSecret: o.k8sSecret } : {}),
      }) + '\n',
    );
  else io.out(`certificate ${r.serialNumber} for ${o.dnsNames.join(', ')} valid until ${r.notAfter.toISOString()}; next renewal due ${due.toISOString()} (${where.join(', ')})\n`);
}

/** One renewal: exit 0, or throws a CliError whose exitCode is 2 (bad input, 4xx), 75 (RA unreachable, 5xx) or 1. */
export async function renewOnce(o: RenewOptions, io: RenewIo): Promise<Renewed> {
  readToken(o.tokenFile); // a missing token file is bad input, before any key is made
  const r = await renewWith(o, await prepare(o), io.signal, io.now);
  report(o, io, r, renewalDue(r.issuedAt, r.notAfter));
  return r;
}

/**
 * `--daemon`: renews at about two thirds of each lifetime (±10 % jitter, so that many servers do
 * not renew in step), retries failures with exponential backoff (honouring Retry-After), keeps the
 * old files until a new pair is written and stops when `io.signal` aborts (SIGTERM, SIGINT). Every
 * failure is retried, 4xx answers too (a disabled tenant may be enabled again, a token renewed):
 * the old certificate serves meanwhile, and an error is logged whenever the next attempt would come
 * after it expires.
 */
export async function renewDaemon(o: RenewOptions, io: RenewIo): Promise<number> {
  const log = (line: string): void => io.err(`${io.now().toISOString()} pki renew: ${line}\n`);
  const jitter = (): number => (io.random() * 2 - 1) * 0.1;
  readToken(o.tokenFile);
  let current = currentFromFiles(o, io.now(), log);
  let due = current ? renewalDue(current.issuedAt, current.notAfter, jitter()) : io.now();
  if (current) log(`certificate ${current.serialNumber} in place, valid until ${current.notAfter.toISOString()}; next renewal due ${due.toISOString()}`);
  const wait = async (ms: number): Promise<boolean> => {
    try {
      // setTimeout takes at most 2^31-1 ms; lifetimes here are under a day.
      await sleep(Math.min(Math.max(0, ms), 2 ** 31 - 1), undefined, { signal: io.signal });
      return true;
    } catch {
      return false;
    }
  };
  while (!io.signal.aborted) {
    if (!(await wait(due.getTime() - io.now().getTime()))) break;
    let prepared: Prepared | undefined;
    let backoff: number = BACKOFF.firstMs;
    for (;;) {
      try {
        prepared ??= await prepare(o);
        const r = await renewWith(o, prepared, io.signal, io.now);
        current = r;
        due = renewalDue(r.issuedAt, r.notAfter, jitter());
        report(o, io, r, due);
        break;
      } catch (e) {
        if (io.signal.aborted) return EXIT.ok;
        const err = e instanceof CliError ? e : new RenewError((e as Error).message, EXIT.failure);
        let delay = Math.min(backoff, BACKOFF.maxMs);
        if (err instanceof RenewError && err.retryAfterMs !== undefined) delay = Math.min(Math.max(delay, err.retryAfterMs), BACKOFF.maxMs);
        backoff = Math.min(backoff * 2, BACKOFF.maxMs);
        const kind = err.exitCode === EXIT.tempFail ? 'temporary' : err.exitCode === EXIT.badInput ? 'refused' : 'failed';
        // Only a temporary failure retries the same key and Idempotency-Key (the RA may have issued
        // and the answer got lost); after a refusal the next attempt starts afresh (a key the CA has
        // certified once is refused for good, A02.FR.02).
        if (err.exitCode !== EXIT.tempFail) prepared = undefined;
        log(`renewal ${kind}: ${err.message}`);
        const now = io.now().getTime();
        if (current && now + delay >= current.notAfter.getTime()) {
          const left = current.notAfter.getTime() - now;
          if (left > 1000) {
            // one more attempt just before it ends, rather than after
            delay = Math.min(delay, left - 1000);
            log(`ERROR: certificate ${current.serialNumber} expires at ${current.notAfter.toISOString()}, in ${Math.round(left / 1000)} s, and is not renewed yet`);
          } else
            log(`ERROR: certificate ${current.serialNumber} ${left > 0 ? 'expires' : 'expired'} at ${current.notAfter.toISOString()}, unrenewed; the old files stay until a renewal succeeds`);
        }
        log(`retrying in ${(delay / 1000).toFixed(1)} s`);
        if (!(await wait(delay))) return EXIT.ok;
      }
    }
  }
  return EXIT.ok;
}

/** `pki renew` as main.ts runs it. */
export async function runRenew(a: RenewArgs, env: NodeJS.ProcessEnv): Promise<number> {
  const o = parseRenewOptions(a, env);
  const controller = new AbortController();
  const io: RenewIo = {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    now: () => new Date(),
    random: Math.random,
    signal: controller.signal,
  };
  // The token is a credential: over plain HTTP anyone on the path can take and reuse it.
  if (o.raUrl.startsWith('http:')) io.err(`WARNING: --ra-url ${o.raUrl} is plain http: the bearer token is sent in clear; use https (--require-https refuses http)\n`);
  if (!a.daemon) {
    await renewOnce(o, io);
    return EXIT.ok;
  }
  const stop = (): void => controller.abort();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  try {
    return await renewDaemon(o, io);
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
