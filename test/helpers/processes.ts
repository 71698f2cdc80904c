/**
 * Child processes for tests and benchmarks: our services, pki, openssl; always killed (also on
 * error and on Ctrl-C), with the temporary directories they used.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocatorEnv } from '@evpki/service/allocator';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const PKI_CLI = join(ROOT, 'services/cli/bin/pki.js');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


const children = new Set<ChildProcess>();
/**
 * Children that fork (openssl ocsp -multi): killed with their whole tree. (`openssl ocsp -multi`
 * makes itself a process group leader, and refuses to start when it is one already: no `detached`.)
 */
const groups = new Set<number>();
const tempDirs = new Set<string>();

/** Kills every child still running and removes the directories made by tempDir(). */
export function cleanup(): void {
  for (const g of groups) killTree(g);
  groups.clear();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    cleanup();
    process.exit(130);
  });

/** A fresh temporary directory, removed by cleanup(). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Runs a bench's main(); on failure, cleans up and exits 1 with the stack. */
export function runBench(name: string, main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    cleanup();
    process.stderr.write(`${name} failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}

/** The service environment: ours, with every other product-prefixed variable dropped (services refuse unknown ones). */
export function serviceEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(PKI|RA|CA|OCSP)_/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** The last 8,000 characters of stdout and stderr. */
  output(): string;
}

/** Starts a child (killed by cleanup()); `group`: one that forks, killed with its whole tree. */
export function spawnProc(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = serviceEnv({}), group = false): Proc {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  if (group && child.pid !== undefined) groups.add(child.pid);
  let out = '';
  const keep = (d: Buffer): void => void (out = (out + d.toString('utf8')).slice(-8000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('exit', () => children.delete(child));
  child.on('error', (e) => void (out += `\nspawn error: ${e.message}`));
  return { name, child, output: () => out };
}

export const spawnNode = (name: string, args: string[], env: NodeJS.ProcessEnv = serviceEnv({})): Proc => spawnProc(name, process.execPath, args, env);

/**
 * One of our services (`services/<service>/dist/main.js`), logging at warn, with extra node arguments
 * before the script; on jemalloc as in the image when this machine has it (allocatorEnv).
 */
export function spawnService(name: string, service: 'ca' | 'ra' | 'ocsp', env: Record<string, string>, nodeArgs: string[] = []): Proc {
  // One responder process unless the test asks for workers (OCSP_WORKERS defaults to the cores: test/ocsp-workers.test.ts).
  const workers: Record<string, string> = service === 'ocsp' ? { OCSP_WORKERS: '1' } : {};
  const base = serviceEnv({ ...workers, ...env, PKI_LOG_LEVEL: 'warn' });
  const p = spawnNode(name, [...nodeArgs, join(ROOT, `services/${service}/dist/main.js`)], { ...base, ...allocatorEnv(base) });
  // A service that dies on its own (not stopped or killed by the test) shows why in the test's output (issue 20).
  p.child.on('exit', (code, signal) => {
    if (code === 0 || signal === 'SIGTERM' || signal === 'SIGKILL' || signal === 'SIGINT') return;
    process.stderr.write(`\n[${name}] exited with ${signal ?? `code ${code}`}; its last output:\n${p.output()}\n`);
  });
  return p;
}

/** `pki init --dev` into `dataDir`. */
export function initDevPki(dataDir: string, extraArgs: string[] = []): void {
  execFileSync(process.execPath, [PKI_CLI, 'init', '--dev', '--data-dir', dataDir, ...extraArgs], { env: serviceEnv({}), stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Kills a process started with `group` and everything it forked. */
export async function killGroup(p: Proc): Promise<void> {
  const pid = p.child.pid;
  if (pid === undefined) return;
  const exited = p.child.exitCode !== null || p.child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.child.once('exit', () => r()));
  killTree(pid);
  groups.delete(pid);
  await exited;
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
export async function stopProc(p: Proc, graceMs = 3000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

/** Stops every process (groups killed, others stopped as by stopProc), ignoring errors. */
export async function stopAll(procs: readonly Proc[], graceMs?: number): Promise<void> {
  for (const p of procs) await (groups.has(p.child.pid ?? -1) ? killGroup(p) : stopProc(p, graceMs)).catch(() => undefined);
}

/** The ports the kernel hands out by itself (bind to port 0, a client's connect()). */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && hi) return [lo, hi];
  } catch {
    /* not Linux: the IANA dynamic range */
  }
  return [49152, 65535];
}
const handedOut = new Set<number>();

/**
 * A port for a service this process starts, free now and handed out once per process. Chosen outside
 * the kernel's ephemeral range (issue 20): a port from `listen(0)` is free only until it is closed,
 * and the next `listen(0)` (the next service's port) or any client's connect() may get it again
 * before the service binds it. Then one service died with EADDRINUSE while another answered its
 * readiness checks on the shared port.
 */
export async function freePort(): Promise<number> {
  const [lo, hi] = ephemeralRange();
  const [from, to] = lo > 12_000 ? [lo - 10_000, lo - 1] : [hi + 1, 65_535];
  for (let tries = 0; tries < 200; tries++) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    if (handedOut.has(port)) continue;
    handedOut.add(port); // before the check: concurrent calls never get the same port
    const free = await new Promise<boolean>((res) => {
      const s = createNetServer();
      s.once('error', () => res(false));
      s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}..${to}`);
}

/** Polls `url` until it answers 200. */
export async function waitReady(p: Proc, url: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (p.child.exitCode !== null) throw new Error(`${p.name} exited with ${p.child.exitCode}:\n${p.output()}`);
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await sleep(100);
  }
  throw new Error(`${p.name} not ready at ${url} after ${timeoutMs} ms:\n${p.output()}`);
}

/** Waits for `LISTENING <port>` in the output (http-floor-server.ts); returns the port. */
export async function waitListening(p: Proc, timeoutMs = 15_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const m = /LISTENING (\d+)/.exec(p.output());
    if (m) return Number(m[1]);
    if (p.child.exitCode !== null) throw new Error(`${p.name} exited:\n${p.output()}`);
    await sleep(50);
  }
  throw new Error(`${p.name} did not start:\n${p.output()}`);
}

/**
 * The fields of a /proc stat line (a process's or a thread's) after the command name, so that
 * index i is field i + 3 of proc(5): 1 ppid, 11 utime, 12 stime, 13 cutime, 14 cstime.
 */
export function statFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** A process and all its descendants. */
export function processTree(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = Number(statFields(`/proc/${d}/stat`)[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(d)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const c of byParent.get(p) ?? []) walk(c);
  };
  walk(root);
  return out;
}

function killTree(root: number): void {
  const pids = processTree(root);
  for (const target of [-root, ...pids]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The real `pki` CLI, spawned asynchronously (a stack may be serving in this process meanwhile),
 * with none of the product's variables from this process's environment, only `env`.
 */
export function runPki(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<CliRun> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PKI|RA|CA|OCSP|REDIS)_/.test(k)));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PKI_CLI, ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
