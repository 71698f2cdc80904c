import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KNOWN_ENV } from '@evpki/service';
import { TEST_DIR } from './helpers/fixtures.js';
import { freePort } from './helpers/processes.js';

const ROOT = join(TEST_DIR, '..');


/** The bash block that follows the marker (`readme-example`, `readme-example-pnc`) in README.md. */
function readmeExample(marker = 'readme-example'): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const m = new RegExp(`<!-- ${marker}:[^>]*-->\\s*\`\`\`bash\\n([\\s\\S]*?)\`\`\``).exec(readme);
  assert.ok(m, `README.md has the block marked ${marker}`);
  return m[1]!;
}

/** Environment without the product's variables (services refuse unknown ones). */
const cleanEnv = (): Record<string, string | undefined> => Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PKI|RA|CA|OCSP)_/.test(k)));

interface MakeRun {
  readonly run: ChildProcess;
  readonly env: Record<string, string>;
  /** Everything make run printed so far (its own lines and the services'). */
  log(): string;
  stop(): void;
}

/** `make run` (scripts/run-dev.mjs) on a fresh data dir and free ports; resolves once its banner says all three are running. */
async function startMakeRun(): Promise<MakeRun> {
  const dataDir = mkdtempSync(join(tmpdir(), 'evpki-readme-'));
  const env = { PKI_DATA_DIR: dataDir, RA_PORT: String(await freePort()), CA_PORT: String(await freePort()), CA_OPS_PORT: String(await freePort()), OCSP_PORT: String(await freePort()) };
  const run = spawn(process.execPath, ['scripts/run-dev.mjs'], { cwd: ROOT, env: { ...cleanEnv(), ...env, PKI_LOG_LEVEL: 'warn' }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  run.stdout.on('data', (d: Buffer) => (log += d.toString()));
  run.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const stop = (): void => {
    if (run.exitCode === null && run.signalCode === null) process.kill(-run.pid!, 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  for (let waited = 0; !log.includes('is running') && run.exitCode === null && run.signalCode === null && waited < 90_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
  if (!log.includes('is running')) {
    stop();
    assert.fail(`make run did not start (exit ${run.exitCode ?? run.signalCode ?? 'none yet'}):\n${log}`);
  }
  return { run, env, log: () => log, stop };
}

describe('README: make run and the openssl/curl example, as written', () => {
  let m: MakeRun;
  before(async () => (m = await startMakeRun()));
  after(() => m.stop());

  it('make run initialised a dev PKI and prints where everything is', async () => {
    await new Promise((r) => setTimeout(r, 500));
    assert.match(m.log(), /PKI created in/);
    for (const port of [m.env.RA_PORT, m.env.CA_PORT, m.env.CA_OPS_PORT, m.env.OCSP_PORT]) assert.match(m.log(), new RegExp(`https?://127\\.0\\.0\\.1:${port}`));
    assert.match(m.log(), new RegExp(`http://127.0.0.1:${m.env.RA_PORT}/console`));
  });

  it('the console and the API reference the banner names are served', async () => {
    for (const page of ['/console', '/docs']) {
      const r = await fetch(`http://127.0.0.1:${m.env.RA_PORT}${page}`);
      assert.equal(r.status, 200, page);
      assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'/, page);
    }
  });

  it('the example signs a CSR, openssl verifies the chain, and OCSP says revoked right after the revocation', () => {
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', readmeExample()], { cwd: ROOT, env: { ...cleanEnv(), ...m.env }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}\n--- make run (exit ${m.run.exitCode ?? m.run.signalCode ?? 'running'}) ---\n${m.log()}`);
    assert.match(r.stdout, /"serialNumber":"CP-0001"/);
    assert.match(r.stdout, /chain\.pem: OK/);
    assert.match(r.stdout, /^good$/m);
    assert.match(r.stdout, /cp\.pem: good[\s\S]*^revoked$[\s\S]*cp\.pem: revoked\n[\s\S]*Reason: keyCompromise/m);
    assert.equal(r.stderr.match(/Response verify OK/g)?.length, 2, r.stderr);
    assert.doesNotMatch(m.log(), /make run: the .* (exited|was killed)/, 'no service died during the example');
  });

  it('the Plug&Charge example: OAuth2 token, SECC-ID registered, EST simpleenroll and cacerts, the chain for CertificateSigned verifies -x509_strict', () => {
    const r = spawnSync('bash', ['-euo', 'pipefail', '-c', readmeExample('readme-example-pnc')], { cwd: ROOT, env: { ...cleanEnv(), ...m.env }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}\n--- make run (exit ${m.run.exitCode ?? m.run.signalCode ?? 'running'}) ---\n${m.log()}`);
    assert.match(r.stdout, /^\["DE\*DEM\*E0001"\]$/m);
    assert.match(r.stdout, /^leaf\.pem: OK$/m);
    const subjects = [...r.stdout.matchAll(/^subject=(.*)$/gm)].map((x) => x[1]!);
    assert.equal(subjects.length, 3, r.stdout);
    assert.match(subjects[0]!, /CN\s?=\s?DE\*DEM\*E0001.*DC\s?=\s?CPO/);
    assert.match(subjects[1]!, /CPO Sub-CA 2/);
    assert.match(subjects[2]!, /CPO Sub-CA 1/);
  });

  it('Ctrl-C stops all three services', async () => {
    const exited = new Promise<number | null>((resolve) => m.run.once('exit', (code) => resolve(code)));
    process.kill(-m.run.pid!, 'SIGINT');
    await exited;
    for (const port of [m.env.RA_PORT, m.env.CA_OPS_PORT, m.env.OCSP_PORT]) {
      await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), `port ${port} still answers`);
    }
    // The CA's API port speaks only TLS: nothing may accept a connection there either.
    const accepted = new Promise<void>((resolve, reject) => {
      const s = connect(Number(m.env.CA_PORT), '127.0.0.1', () => (s.destroy(), resolve()));
      s.once('error', reject);
    });
    await assert.rejects(accepted, `the CA API port ${m.env.CA_PORT} still accepts connections`);
  });
});

test('README: the configuration table documents every known variable', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'));
  const missing = [...KNOWN_ENV].filter((name) => !section.includes(`\`${name}\``));
  assert.deepEqual(missing, []);
});

describe('make run when a service dies (issue 20)', () => {
  let m: MakeRun;
  before(async () => (m = await startMakeRun()));
  after(() => m.stop());

  it('names the service that exited, with its signal and last lines, and keeps the others running; Ctrl-C still stops them', async () => {
    const children = spawnSync('pgrep', ['-P', String(m.run.pid)], { encoding: 'utf8' }).stdout.trim().split('\n').map(Number);
    const ocsp = children.find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('services/ocsp/dist/main.js'));
    assert.ok(ocsp, `no OCSP child among ${children.join(', ')}`);
    process.kill(ocsp, 'SIGKILL');
    for (let waited = 0; !m.log().includes('still running') && waited < 10_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
    assert.match(m.log(), new RegExp(`the OCSP responder \\(pid ${ocsp}\\) was killed by SIGKILL [\\d.]+ s after it started; its last lines:`), m.log());
    assert.match(m.log(), /still running: CA, RA \(Ctrl-C stops them\)/, m.log());
    assert.equal(m.run.exitCode, null, 'make run keeps going');
    assert.equal((await fetch(`http://127.0.0.1:${m.env.RA_PORT}/healthz`)).status, 200, 'the RA still answers');
    const exited = new Promise<number | null>((resolve) => m.run.once('exit', (code) => resolve(code)));
    process.kill(-m.run.pid!, 'SIGINT');
    assert.equal(await exited, 0);
    await assert.rejects(fetch(`http://127.0.0.1:${m.env.RA_PORT}/healthz`), 'the RA was stopped');
  });
});

test('make run refuses two services on one port (issue 20): exit 2, naming both variables', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'evpki-run-'));
  try {
    const r = spawnSync(process.execPath, ['scripts/run-dev.mjs'], { cwd: ROOT, env: { ...cleanEnv(), PKI_DATA_DIR: dataDir, RA_PORT: '18080', OCSP_PORT: '18080' }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /RA_PORT and OCSP_PORT are both 18080/);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
