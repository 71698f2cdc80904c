#!/usr/bin/env node
// `make run`: a dev PKI on the embedded store (or on Redis when REDIS_URL is set), then the CA, the OCSP
// responder and the RA on localhost, each service's output passed through. Ctrl-C stops all three.
//
// A service that exits on its own is reported (which one, its exit code or signal, its last lines) and
// the others keep running: this is a development runner, not a supervisor. In production, Kubernetes
// restarts a dead pod (k8s/); nothing here restarts anything.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocatorEnv } from '@evpki/service/allocator';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env };
env.PKI_DATA_DIR ||= './data';
env.RA_PORT ||= '8080';
env.CA_PORT ||= '8081';
env.OCSP_PORT ||= '8082';
// The RA finds the responder from OCSP_PORT: RA_OCSP_URL, and its /metrics for the dashboard's OCSP answers (RA_OCSP_METRICS_URLS).
env.CA_OPS_PORT ||= '8083';
const dataDir = env.PKI_DATA_DIR;
// Two services on one port: one would die with EADDRINUSE while the other answered its readiness checks.
const PORTS = ['RA_PORT', 'CA_PORT', 'OCSP_PORT', 'CA_OPS_PORT'];
for (const [i, a] of PORTS.entries())
  for (const b of PORTS.slice(i + 1))
    if (Number(env[a]) === Number(env[b])) {
      process.stderr.write(`make run: ${a} and ${b} are both ${env[a]}; give each service its own port\n`);
      process.exit(2);
    }
const KEEP_LINES = 40;
const READY_TIMEOUT_MS = 30_000;

const say = (line) => process.stderr.write(`make run: ${line}\n`);

/** @type {Map<string, { title: string, child: import('node:child_process').ChildProcess, lines: string[], started: number }>} */
const services = new Map();
let stopping = false;

// Installed first: Ctrl-C while `pki init` runs stops make run too (the signal is handled once init returns).
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => void stopAll(0));

if (!existsSync(join(dataDir, 'pki.json'))) {
  const init = spawnSync(process.execPath, [join(ROOT, 'services/cli/bin/pki.js'), 'init', '--dev', '--v2g', '--data-dir', dataDir, '--ocsp-url', `http://127.0.0.1:${env.OCSP_PORT}`], { env, stdio: 'inherit' });
  if (init.status !== 0) process.exit(init.status ?? 1);
}

/** Starts services/<name>/dist/main.js; its output goes to ours, and its last lines are kept for a report. */
function start(name, title) {
  // On jemalloc as in the image, when this machine has it (libs/service/src/allocator.ts).
  const child = spawn(process.execPath, [join(ROOT, `services/${name}/dist/main.js`)], { cwd: ROOT, env: { ...env, ...allocatorEnv(env) }, stdio: ['ignore', 'pipe', 'pipe'] });
  const svc = { title, child, lines: [], started: Date.now() };
  services.set(name, svc);
  for (const [from, to] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
    let partial = '';
    from.on('data', (chunk) => {
      to.write(chunk);
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      svc.lines.push(...parts);
      if (svc.lines.length > KEEP_LINES) svc.lines.splice(0, svc.lines.length - KEEP_LINES);
    });
    from.on('end', () => partial && svc.lines.push(partial));
  }
  child.on('exit', (code, signal) => {
    services.delete(name);
    if (stopping) return;
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const after = ((Date.now() - svc.started) / 1000).toFixed(1);
    say(`the ${title} (pid ${child.pid}) ${how} ${after} s after it started; its last lines:`);
    for (const l of svc.lines.slice(-20)) process.stderr.write(`  | ${l}\n`);
    if (!services.size) {
      say('no service is left running');
      process.exit(1);
    }
    say(`still running: ${[...services.values()].map((s) => s.title).join(', ')} (Ctrl-C stops them)`);
  });
  return svc;
}

async function waitReady(name, url) {
  const until = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < until) {
    if (!services.has(name)) throw new Error(`the ${name} service exited before it was ready`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready within ${READY_TIMEOUT_MS / 1000} s`);
}

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  const exits = [...services.values()].map(({ child }) => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r))));
  for (const { child } of services.values()) child.kill('SIGTERM');
  const force = setTimeout(() => {
    for (const { child } of services.values()) child.kill('SIGKILL');
  }, 10_000);
  await Promise.all(exits);
  clearTimeout(force);
  process.exit(code);
}

try {
  // The CA first: the OCSP responder gets its delegated signer from it, and the RA's readiness includes it.
  // Its API port takes only mutual TLS (the service certificates in $PKI_DATA_DIR/secrets); probes go to the ops port.
  start('ca', 'CA');
  await waitReady('ca', `http://127.0.0.1:${env.CA_OPS_PORT}/readyz`);
  start('ocsp', 'OCSP responder');
  start('ra', 'RA');
  await Promise.all([waitReady('ocsp', `http://127.0.0.1:${env.OCSP_PORT}/readyz`), waitReady('ra', `http://127.0.0.1:${env.RA_PORT}/readyz`)]);
} catch (err) {
  say(`${err.message}; stopping`);
  await stopAll(1);
}

if (stopping) await new Promise(() => undefined); // Ctrl-C during start: stopAll exits.
const store = env.REDIS_URL ? `Redis (REDIS_URL; files in ${dataDir})` : `the embedded store in ${dataDir}`;
process.stdout.write(`
  EV charging PKI (dev) is running on ${store}
    RA    http://127.0.0.1:${env.RA_PORT}   (API: openapi.yaml; token: node services/cli/bin/pki.js token --tenant demo)
          http://127.0.0.1:${env.RA_PORT}/console   (web console), /docs (API reference)
    CA    https://127.0.0.1:${env.CA_PORT}  (internal; mutual TLS, answers only the RA and the OCSP responder)
          http://127.0.0.1:${env.CA_OPS_PORT}   (ops: /healthz, /readyz, /metrics)
    OCSP  http://127.0.0.1:${env.OCSP_PORT}
  Ctrl-C stops all three.

`);
