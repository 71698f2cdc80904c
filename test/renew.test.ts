import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, get as httpsGet, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSecureContext } from 'node:tls';
import { parseAllDocuments } from 'yaml';
import { CliError, EXIT, parseRenewOptions, renewDaemon, renewOnce, writeTlsSecret, addToSecret, type RenewIo } from '@evpki/cli';
import { pemBlocks } from '@evpki/x509';
import { openssl, opensslAsync } from './helpers/openssl.js';
import { TEST_DIR } from './helpers/fixtures.js';
import { api, makeDevPki, startStack, type DevPki, type Stack } from './helpers/pki.js';

/**
 * `pki renew` (A00.FR.701: CSMS server certificates live under 24 h and are renewed continually)
 * through the real CLI binary against RA, CA and OCSP running in this process: files and their
 * modes, a fresh key every time, a real HTTPS server with the result (node and `openssl s_client`
 * check the host name against a root-only trust store), exit codes, and the daemon replacing a
 * one-minute certificate under a server that keeps accepting connections.
 */

const PKI = join(TEST_DIR, '..', 'services', 'cli', 'bin', 'pki.js');
const REPO = join(TEST_DIR, '..');
const CN = 'csms.demo.local';

let pki: DevPki;
let stack: Stack;
let work: string;
let rootPem: string;
let rootFile: string;
let tokenFile: string;
let n = 0;

before(async () => {
  pki = await makeDevPki();
  // One-minute certificates for the daemon test (the production minimum is an hour).
  stack = await startStack(pki, { caEnv: { CA_SERVER_MIN_VALIDITY_MINUTES: '1' } });
  work = mkdtempSync(join(tmpdir(), 'evpki-renew-'));
  rootPem = (await api(stack, 'GET', '/v1/trust-anchors')).body.items[0].certificate as string;
  rootFile = join(work, 'root.pem');
  writeFileSync(rootFile, rootPem);
  tokenFile = join(work, 'token');
  writeFileSync(tokenFile, (await stack.token()) + '\n');
});
after(async () => {
  await stack.stop();
  pki.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** A fresh directory for one test's key and chain. */
function outDir(): string {
  const d = join(work, `out-${++n}`);
  mkdirSync(d);
  return d;
}

const cleanEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PKI|RA|CA|OCSP)_/.test(k)));

/** The real CLI, spawned asynchronously: the stack runs in this process and must keep serving. */
function pkiCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PKI, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const renewArgs = (dir: string, extra: string[] = []): string[] => [
  'renew',
  '--ra-url',
  stack.raUrl,
  '--token-file',
  tokenFile,
  '--org',
  'Demo CPO',
  '--cn',
  CN,
  '--key-out',
  join(dir, 'key.pem'),
  '--cert-out',
  join(dir, 'chain.pem'),
  ...extra,
];

const leafOf = (dir: string): X509Certificate => new X509Certificate(pemBlocks(readFileSync(join(dir, 'chain.pem'), 'utf8'), 'CERTIFICATE')[0]!);
const spkiOf = (dir: string): string =>
  createPublicKey(createPrivateKey(readFileSync(join(dir, 'key.pem'), 'utf8')))
    .export({ type: 'spki', format: 'der' })
    .toString('hex');

/** An HTTPS server answering its certificate's serial; `reload` re-reads the files (as a CSMS would). */
async function httpsServer(dir: string): Promise<{ server: HttpsServer; port: number; reload(): boolean }> {
  let loaded = '';
  const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'chain.pem')) }, (_req, res) => {
    res.setHeader('connection', 'close');
    res.end('ok\n');
  });
  loaded = readFileSync(join(dir, 'chain.pem'), 'utf8');
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const reload = (): boolean => {
    const chain = readFileSync(join(dir, 'chain.pem'), 'utf8');
    if (chain === loaded) return false;
    try {
      // Throws while the key is already new and the chain not (or the reverse): keep the old one then.
      server.setSecureContext({ key: readFileSync(join(dir, 'key.pem')), cert: chain });
      createSecureContext({ key: readFileSync(join(dir, 'key.pem')), cert: chain });
      loaded = chain;
      return true;
    } catch {
      return false;
    }
  };
  return { server, port: (server.address() as AddressInfo).port, reload };
}

/** One HTTPS GET trusting only `ca`, checking `servername`; resolves with the server certificate's serial. */
/** `ca` null: the default trust store, without our root. */
function fetchSerial(port: number, servername: string, ca: string | null = rootPem): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsGet({ host: '127.0.0.1', port, path: '/', servername, ...(ca === null ? {} : { ca }), agent: false }, (res) => {
      const serial = (res.socket as unknown as { getPeerCertificate(): { serialNumber: string } }).getPeerCertificate().serialNumber;
      res.resume();
      res.on('end', () => resolve(serial.toLowerCase().replace(/^0+/, '')));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

const closeServer = (s: HttpsServer | HttpServer): Promise<void> =>
  new Promise((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });

describe('pki renew (A00.FR.701)', () => {
  it('writes a fresh key (mode 0600) and the chain; every run makes a new key; says when to renew', async () => {
    const dir = outDir();
    const first = await pkiCli(renewArgs(dir, ['--san', 'ocpp.demo.local', '--json']));
    assert.equal(first.code, 0, first.stderr);
    const out = JSON.parse(first.stdout) as Record<string, string>;
    assert.equal(statSync(join(dir, 'key.pem')).mode & 0o777, 0o600, 'key mode');
    const blocks = pemBlocks(readFileSync(join(dir, 'chain.pem'), 'utf8'), 'CERTIFICATE');
    assert.equal(blocks.length, 2, 'leaf and issuing CA, no root');
    const leaf = new X509Certificate(blocks[0]!);
    const issuer = new X509Certificate(blocks[1]!);
    assert.ok(leaf.checkPrivateKey(createPrivateKey(readFileSync(join(dir, 'key.pem'), 'utf8'))), 'the key matches the leaf');
    assert.ok(leaf.verify(issuer.publicKey) && issuer.verify(new X509Certificate(rootPem).publicKey), 'leaf → issuing CA → root');
    assert.equal(leaf.subjectAltName, 'DNS:csms.demo.local, DNS:ocpp.demo.local');
    assert.match(leaf.subject, /O=Demo CPO/);
    assert.equal(out.serialNumber, leaf.serialNumber.toLowerCase().replace(/^0+/, ''));
    assert.equal(new Date(out.notAfter!).getTime(), Date.parse(leaf.validTo));
    assert.ok(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom) < 86_400_000, 'under 24 hours');
    const due = Date.parse(out.nextRenewalAt!);
    assert.ok(due > Date.now() && due < Date.parse(leaf.validTo), `next renewal ${out.nextRenewalAt} lies before notAfter ${out.notAfter}`);
    const spki1 = spkiOf(dir);

    const second = await pkiCli(renewArgs(dir, ['--san', 'ocpp.demo.local']));
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /certificate [0-9a-f]+ for csms\.demo\.local, ocpp\.demo\.local valid until \S+; next renewal due \S+/);
    assert.notEqual(spkiOf(dir), spki1, 'a new key, never the old one');
    assert.notEqual(leafOf(dir).serialNumber.toLowerCase().replace(/^0+/, ''), out.serialNumber);
    assert.deepEqual(readdirSync(dir).sort(), ['chain.pem', 'key.pem'], 'no temporary files left');
  });

  it('--bundle-out writes key and chain into one 0600 file that node tls loads', async () => {
    const dir = outDir();
    const r = await pkiCli(['renew', '--ra-url', stack.raUrl, '--token-file', tokenFile, '--org', 'Demo CPO', '--cn', CN, '--bundle-out', join(dir, 'bundle.pem')]);
    assert.equal(r.code, 0, r.stderr);
    const bundle = readFileSync(join(dir, 'bundle.pem'), 'utf8');
    assert.equal(statSync(join(dir, 'bundle.pem')).mode & 0o777, 0o600);
    assert.match(bundle, /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(pemBlocks(bundle, 'CERTIFICATE').length, 2);
    createSecureContext({ key: bundle, cert: bundle });
  });

  it('an HTTPS server with the files: root-only clients connect to its names, not to others; openssl s_client agrees', async () => {
    const dir = outDir();
    const r = await pkiCli(renewArgs(dir, ['--san', 'ocpp.demo.local']));
    assert.equal(r.code, 0, r.stderr);
    const serial = leafOf(dir).serialNumber.toLowerCase().replace(/^0+/, '');
    const { server, port } = await httpsServer(dir);
    try {
      assert.equal(await fetchSerial(port, CN), serial);
      assert.equal(await fetchSerial(port, 'ocpp.demo.local'), serial, 'the --san name');
      await assert.rejects(fetchSerial(port, 'other.demo.local'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      await assert.rejects(fetchSerial(port, CN, null), (e: NodeJS.ErrnoException) => /UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED/.test(e.code ?? ''), 'a client without the root');

      const sClient = (name: string) =>
        opensslAsync(['s_client', '-connect', `127.0.0.1:${port}`, '-servername', CN, '-verify_hostname', name, '-CAfile', rootFile, '-verify_return_error'], '');
      const ok = await sClient(CN);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /Verify return code: 0 \(ok\)/);
      const wrong = await sClient('other.demo.local');
      assert.notEqual(wrong.code, 0, 'a wrong host name fails');
      assert.match(wrong.stdout + wrong.stderr, /hostname mismatch/);
    } finally {
      await closeServer(server);
    }
  });

  describe('exit codes', () => {
    const cases: { name: string; args: (dir: string) => string[]; stderr: RegExp }[] = [
      { name: 'no --cn', args: (d) => renewArgs(d).filter((a, i, all) => a !== '--cn' && all[i - 1] !== '--cn'), stderr: /--cn is required/ },
      { name: 'no --ra-url', args: (d) => ['renew', ...renewArgs(d).slice(3)], stderr: /--ra-url/ },
      { name: '--validity-hours 24', args: (d) => renewArgs(d, ['--validity-hours', '24']), stderr: /below 24/ },
      { name: 'unknown --key-type', args: (d) => renewArgs(d, ['--key-type', 'dsa-1024']), stderr: /--key-type/ },
      { name: 'no output', args: (d) => renewArgs(d).slice(0, -4), stderr: /nowhere to write/ },
      { name: 'a missing token file', args: (d) => renewArgs(d).map((a) => (a === tokenFile ? join(d, 'nope') : a)), stderr: /cannot read the token file/ },
      { name: 'a name outside the tenant domains (RA 422, A00.FR.510)', args: (d) => renewArgs(d, ['--san', 'csms.example.com']), stderr: /422[\s\S]*A00\.FR\.510/ },
      { name: 'another organisation (RA 422)', args: (d) => renewArgs(d).map((a) => (a === 'Demo CPO' ? 'Other CPO' : a)), stderr: /422[\s\S]*Other CPO/ },
      { name: 'a lifetime below the configured minimum (RA 422, A00.FR.701)', args: (d) => renewArgs(d, ['--validity-hours', '0.001']), stderr: /A00\.FR\.701/ },
    ];
    for (const c of cases)
      it(`exit 2: ${c.name}; nothing written`, async () => {
        const dir = outDir();
        const r = await pkiCli(c.args(dir));
        assert.equal(r.code, 2, `exit ${r.code}: ${r.stderr}`);
        assert.match(r.stderr, c.stderr);
        assert.deepEqual(readdirSync(dir), []);
      });

    it('exit 2: a token the RA does not accept (401); the old files are kept', async () => {
      const dir = outDir();
      assert.equal((await pkiCli(renewArgs(dir))).code, 0);
      const before = [readFileSync(join(dir, 'key.pem'), 'utf8'), readFileSync(join(dir, 'chain.pem'), 'utf8')];
      const badToken = join(dir, 'bad-token');
      writeFileSync(badToken, 'not.a.jwt');
      const r = await pkiCli(renewArgs(dir).map((a) => (a === tokenFile ? badToken : a)));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /401/);
      assert.deepEqual([readFileSync(join(dir, 'key.pem'), 'utf8'), readFileSync(join(dir, 'chain.pem'), 'utf8')], before);
      assert.deepEqual(readdirSync(dir).sort(), ['bad-token', 'chain.pem', 'key.pem']);
    });

    it('exit 75: the RA is unreachable, or answers 503; PKI_RA_URL and PKI_RA_TOKEN_FILE are read', async () => {
      const dir = outDir();
      const closed = createHttpServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const closedPort = closed.address() as AddressInfo;
      await closeServer(closed);
      const args = ['renew', ...renewArgs(dir).slice(5)]; // without --ra-url and --token-file
      const down = await pkiCli(args, { PKI_RA_URL: `http://127.0.0.1:${closedPort.port}`, PKI_RA_TOKEN_FILE: tokenFile });
      assert.equal(down.code, 75, down.stderr);
      assert.match(down.stderr, /unreachable \(ECONNREFUSED\)/);

      const unavailable = createHttpServer((_req: IncomingMessage, res) => {
        res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '30' });
        res.end(JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'the CA is unavailable' }));
      });
      await new Promise<void>((resolve) => unavailable.listen(0, '127.0.0.1', resolve));
      try {
        const r = await pkiCli(args, { PKI_RA_URL: `http://127.0.0.1:${(unavailable.address() as AddressInfo).port}`, PKI_RA_TOKEN_FILE: tokenFile });
        assert.equal(r.code, 75, r.stderr);
        assert.match(r.stderr, /503 Service Unavailable: the CA is unavailable/);
      } finally {
        await closeServer(unavailable);
      }
      assert.deepEqual(readdirSync(dir), []);
    });
  });

  it('--daemon replaces a one-minute certificate before it expires; the server picks it up without refusing connections', async () => {
    const dir = outDir();
    const { child, output, exited } = startDaemon(renewArgs(dir, ['--validity-hours', '0.016667', '--daemon']));
    let server: Awaited<ReturnType<typeof httpsServer>> | undefined;
    try {
      await waitFor(() => existsSync(join(dir, 'chain.pem')), 30_000, 'the first certificate');
      const first = leafOf(dir);
      const firstSerial = first.serialNumber.toLowerCase().replace(/^0+/, '');
      const firstNotAfter = Date.parse(first.validTo);
      assert.ok(firstNotAfter - Date.now() <= 61_000, `a one-minute certificate (notAfter ${first.validTo})`);
      server = await httpsServer(dir);

      // A CSMS re-reading its files every 50 ms, and clients connecting every 50 ms meanwhile.
      const seen: { serial: string; at: number }[] = [];
      const failures: string[] = [];
      let swappedAt: number | undefined;
      while (Date.now() < firstNotAfter + 5_000) {
        if (server.reload()) swappedAt ??= Date.now();
        try {
          seen.push({ serial: await fetchSerial(server.port, CN), at: Date.now() });
        } catch (e) {
          failures.push(`${new Date().toISOString()} ${(e as Error).message}`);
        }
        if (swappedAt !== undefined && seen.filter((x) => x.at > swappedAt!).length >= 10) break;
        await sleep(50);
      }
      assert.deepEqual(failures, [], 'every connection succeeded');
      assert.ok(swappedAt !== undefined, `the daemon wrote no new certificate:\n${output()}`);
      assert.ok(swappedAt < firstNotAfter, `renewed at ${new Date(swappedAt).toISOString()}, after notAfter ${first.validTo}`);
      const newer = seen.find((s) => s.serial !== firstSerial);
      assert.ok(newer, 'clients saw the new certificate');
      assert.ok(newer.at < firstNotAfter, 'before the old one expired');
      assert.ok(seen.some((s) => s.serial === firstSerial), 'and the old one before');
      assert.notEqual(leafOf(dir).serialNumber.toLowerCase().replace(/^0+/, ''), firstSerial);
      assert.match(output(), /next renewal due/);
    } finally {
      if (server) await closeServer(server.server);
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, `SIGTERM stops the daemon cleanly:\n${output()}`);
    assert.deepEqual(readdirSync(dir).sort(), ['chain.pem', 'key.pem'], 'no temporary files left');

    // A restart with a still-valid certificate in place schedules from it instead of renewing now.
    const serialBefore = leafOf(dir).serialNumber;
    const again = startDaemon(renewArgs(dir, ['--validity-hours', '0.016667', '--daemon']));
    try {
      await waitFor(() => /in place/.test(again.output()), 10_000, 'the daemon reading the existing certificate');
      await sleep(1000);
      assert.equal(leafOf(dir).serialNumber, serialBefore, 'not renewed at start');
      assert.match(again.output(), /certificate [0-9a-f]+ in place, valid until \S+; next renewal due \S+/);
    } finally {
      again.child.kill('SIGINT');
    }
    assert.equal(await again.exited, 0);
  });
});

it('the daemon backs off while the RA is down, keeps the old files, and logs an error before the certificate would expire unrenewed', async () => {
  const dir = outDir();
  const args = { 'ra-url': stack.raUrl, 'token-file': tokenFile, org: 'Demo CPO', cn: CN, 'key-out': join(dir, 'key.pem'), 'cert-out': join(dir, 'chain.pem') };
  const quiet: string[] = [];
  await renewOnce({ ...parseRenewOptions({ ...args, 'validity-hours': '0.016667' }, {}) }, {
    out: (t) => quiet.push(t),
    err: (t) => quiet.push(t),
    now: () => new Date(),
    random: () => 0.5,
    signal: new AbortController().signal,
  });
  const before = [readFileSync(join(dir, 'key.pem'), 'utf8'), readFileSync(join(dir, 'chain.pem'), 'utf8')];
  const notAfter = Date.parse(leafOf(dir).validTo);

  const closed = createHttpServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await closeServer(closed);
  // The daemon's clock runs so that the one-minute certificate has about 6 s left: past its 2/3.
  const offset = notAfter - 6_000 - Date.now();
  const stop = new AbortController();
  const log: string[] = [];
  const daemon = renewDaemon(parseRenewOptions({ ...args, 'ra-url': `http://127.0.0.1:${port}` }, {}), {
    out: (t) => log.push(t),
    err: (t) => log.push(t),
    now: () => new Date(Date.now() + offset),
    random: () => 0.5,
    signal: stop.signal,
  });
  try {
    await waitFor(() => log.some((l) => /ERROR: certificate [0-9a-f]+ expires at/.test(l)), 15_000, 'the error before expiry');
  } finally {
    stop.abort();
  }
  assert.equal(await daemon, EXIT.ok, 'stops cleanly when aborted');
  const text = log.join('');
  assert.match(text, /in place, valid until/);
  assert.match(text, /renewal temporary: the RA at \S+ is unreachable \(ECONNREFUSED\)\n.*retrying in 1\.0 s\n[\s\S]*retrying in 2\.0 s/);
  // Each retry is scheduled (by the daemon's clock, the line's timestamp) no later than notAfter.
  const retries = [...text.matchAll(/^(\S+) pki renew: retrying in ([\d.]+) s$/gm)].map((m) => ({ at: Date.parse(m[1]!), delay: Number(m[2]) * 1000 }));
  assert.ok(retries.length >= 3, text);
  for (const r of retries) assert.ok(r.at + r.delay <= notAfter, `a retry at ${new Date(r.at + r.delay).toISOString()}, after notAfter ${new Date(notAfter).toISOString()}`);
  assert.deepEqual([readFileSync(join(dir, 'key.pem'), 'utf8'), readFileSync(join(dir, 'chain.pem'), 'utf8')], before, 'the old pair stays');
});

function startDaemon(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number> } {
  const child = spawn(process.execPath, [PKI, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (text += d));
  const exited = new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? -1 : -2))));
  return { child, output: () => text, exited };
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// The Kubernetes TLS Secret (--k8s-secret), against a local HTTPS server standing in for the API

describe('pki renew --k8s-secret', () => {
  interface Recorded {
    method: string;
    url: string;
    headers: IncomingMessage['headers'];
    body: any;
  }
  let api: HttpsServer;
  let saDir: string;
  let apiServer: string;
  const recorded: Recorded[] = [];
  const answers: { status: number; body?: unknown }[] = [];

  before(async () => {
    saDir = join(work, 'serviceaccount');
    mkdirSync(saDir);
    // The API server's certificate: self-signed for 127.0.0.1, the pod's ca.crt.
    const r = openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=kube-apiserver',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(saDir, 'api.key'), '-out', join(saDir, 'ca.crt')]);
    assert.equal(r.code, 0, r.stderr);
    writeFileSync(join(saDir, 'token'), 'sa-token-1\n');
    writeFileSync(join(saDir, 'namespace'), 'ev-pki');
    api = createHttpsServer({ key: readFileSync(join(saDir, 'api.key')), cert: readFileSync(join(saDir, 'ca.crt')) }, (req, res) => {
      let text = '';
      req.setEncoding('utf8').on('data', (d: string) => (text += d));
      req.on('end', () => {
        recorded.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: text ? JSON.parse(text) : undefined });
        const a = answers.shift() ?? { status: 500 };
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(a.body ?? { kind: 'Status', message: `status ${a.status}` }));
      });
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    apiServer = `https://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });
  after(() => closeServer(api));

  const io = (lines: string[]): RenewIo => ({ out: (t) => lines.push(t), err: (t) => lines.push(t), now: () => new Date(), random: () => 0.5, signal: new AbortController().signal });
  const secretPath = '/api/v1/namespaces/ev-pki/secrets';

  it('renews into the Secret with one merge patch (key and chain together), re-reading the token', async () => {
    const o = {
      ...parseRenewOptions({ 'ra-url': stack.raUrl, 'token-file': tokenFile, org: 'Demo CPO', cn: CN, 'k8s-secret': 'csms-tls', json: true }, {}),
      k8s: { apiServer, serviceAccountDir: saDir },
    };
    recorded.length = 0;
    answers.push({ status: 200 });
    const lines: string[] = [];
    const r = await renewOnce(o, io(lines));
    assert.equal(recorded.length, 1);
    const req = recorded[0]!;
    assert.equal(req.method, 'PATCH');
    assert.equal(req.url, `${secretPath}/csms-tls`);
    assert.equal(req.headers['content-type'], 'application/merge-patch+json');
    assert.equal(req.headers.authorization, 'Bearer sa-token-1');
    const crt = Buffer.from(req.body.data['tls.crt'] as string, 'base64').toString();
    const key = Buffer.from(req.body.data['tls.key'] as string, 'base64').toString();
    assert.equal(crt, r.chainPem);
    assert.ok(new X509Certificate(pemBlocks(crt, 'CERTIFICATE')[0]!).checkPrivateKey(createPrivateKey(key)), 'key and chain of one pair');
    assert.equal(req.body.metadata.annotations['evpki.io/serial-number'], r.serialNumber);
    assert.equal(JSON.parse(lines.join('')).k8sSecret, 'csms-tls');

    // A missing Secret is created (type kubernetes.io/tls); the rotated token is used.
    writeFileSync(join(saDir, 'token'), 'sa-token-2\n');
    recorded.length = 0;
    answers.push({ status: 404 }, { status: 201 });
    await writeTlsSecret({ apiServer, serviceAccountDir: saDir }, { name: 'csms-tls', keyPem: key, chainPem: crt, serialNumber: r.serialNumber, notAfter: r.notAfter.toISOString() });
    assert.deepEqual(recorded.map((x) => `${x.method} ${x.url}`), [`PATCH ${secretPath}/csms-tls`, `POST ${secretPath}`]);
    assert.equal(recorded[1]!.headers.authorization, 'Bearer sa-token-2');
    assert.equal(recorded[1]!.body.type, 'kubernetes.io/tls');
    assert.equal(recorded[1]!.body.metadata.name, 'csms-tls');
    assert.deepEqual(recorded[1]!.body.data, recorded[0]!.body.data);
  });

  it('exit codes: 403 on create (RBAC grants no create) is 2, with how to create the Secret; 5xx is 75', async () => {
    const content = { name: 'csms-tls', keyPem: 'k', chainPem: 'c', serialNumber: '1', notAfter: new Date().toISOString() };
    answers.push({ status: 404 }, { status: 403 });
    await assert.rejects(writeTlsSecret({ apiServer, serviceAccountDir: saDir }, content), (e: unknown) => {
      assert.ok(e instanceof CliError);
      assert.equal(e.exitCode, EXIT.badInput);
      assert.match(e.message, /kubectl -n ev-pki create secret generic csms-tls --type=kubernetes\.io\/tls/);
      return true;
    });
    answers.push({ status: 503 });
    await assert.rejects(writeTlsSecret({ apiServer, serviceAccountDir: saDir }, content), (e: unknown) => e instanceof CliError && e.exitCode === EXIT.tempFail);
  });

  it('rotate-* prepare --k8s-secret: the new issuing CA key is merged into the CA key Secret; never created', async () => {
    recorded.length = 0;
    answers.push({ status: 200 });
    await addToSecret({ apiServer, serviceAccountDir: saDir }, 'pki-ca-issuer-key', { 'cp-0a1b.key.pem': 'ENCRYPTED PEM' });
    assert.deepEqual(recorded.map((x) => `${x.method} ${x.url} ${String(x.headers['content-type'])}`), [`PATCH ${secretPath}/pki-ca-issuer-key application/merge-patch+json`]);
    assert.deepEqual(recorded[0]!.body, { data: { 'cp-0a1b.key.pem': Buffer.from('ENCRYPTED PEM').toString('base64') } }, 'only the new file: the other keys stay');
    answers.push({ status: 404 });
    await assert.rejects(addToSecret({ apiServer, serviceAccountDir: saDir }, 'pki-ca-issuer-key', { a: 'b' }), (e: unknown) => e instanceof CliError && e.exitCode === EXIT.badInput);
    answers.push({ status: 503 });
    await assert.rejects(addToSecret({ apiServer, serviceAccountDir: saDir }, 'pki-ca-issuer-key', { a: 'b' }), (e: unknown) => e instanceof CliError && e.exitCode === EXIT.tempFail);
  });
});

// ---------------------------------------------------------------------------------------------
// The CronJob in k8s/ (the whole base is validated by k8s-base.test.ts)

it('k8s/cronjob-csms-cert.yaml: renews well within the 23 h lifetime, never concurrently, into the one Secret its Role allows', () => {
  const docs = parseAllDocuments(readFileSync(join(REPO, 'k8s', 'cronjob-csms-cert.yaml'), 'utf8')).map((d) => d.toJS());
  const cron = docs.find((d) => d.kind === 'CronJob');
  const role = docs.find((d) => d.kind === 'Role');
  assert.equal(cron.spec.concurrencyPolicy, 'Forbid');
  const hours = /^\d+ \*\/(\d+) \* \* \*$/.exec(cron.spec.schedule as string);
  assert.ok(hours, `schedule ${cron.spec.schedule} is "M */H * * *"`);
  assert.ok(Number(hours[1]) * 4 <= 23, 'at least three more runs before a fresh 23 h certificate expires');
  const pod = cron.spec.jobTemplate.spec.template.spec;
  const c = pod.containers[0];
  assert.deepEqual(c.command, ['node', 'services/cli/bin/pki.js']);
  const args = c.args as string[];
  assert.equal(args[0], 'renew');
  assert.ok(!args.includes('--daemon') && !args.includes('--validity-hours'), 'one renewal per run, the default 23 h');
  const secret = args[args.indexOf('--k8s-secret') + 1];
  assert.deepEqual(role.rules, [{ apiGroups: [''], resources: ['secrets'], resourceNames: [secret], verbs: ['get', 'update', 'patch'] }]);
  assert.equal(pod.serviceAccountName, docs.find((d) => d.kind === 'ServiceAccount').metadata.name);
  assert.deepEqual(cron.spec.jobTemplate.spec.podFailurePolicy.rules[0].onExitCodes.values, [EXIT.badInput], 'bad input fails the Job at once; 75 is retried');
  // The options parse as `pki renew` would parse them, with the container's env.
  const env = Object.fromEntries((c.env as { name: string; value: string }[]).map((e) => [e.name, e.value]));
  const o = parseRenewOptions(
    { org: args[args.indexOf('--org') + 1], cn: args[args.indexOf('--cn') + 1], 'k8s-secret': secret },
    { ...env, KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' },
  );
  assert.equal(o.raUrl, 'http://ra:8080');
  assert.equal(o.k8s?.apiServer, 'https://10.0.0.1:443');
  const mounts = (c.volumeMounts as { mountPath: string }[]).map((m) => m.mountPath);
  assert.ok(mounts.includes('/var/run/secrets/kubernetes.io/serviceaccount'));
  assert.ok(mounts.some((m) => o.tokenFile.startsWith(m + '/')), 'the RA token file is mounted');
});

describe('pki renew over plain HTTP', () => {
  it('issue 14.14: warns that the bearer token goes in clear; --require-https refuses (exit 2) before sending anything', async () => {
    const dir = outDir();
    const ok = await pkiCli(renewArgs(dir));
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /WARNING: --ra-url http:\/\/127\.0\.0\.1:\d+ is plain http: the bearer token is sent in clear/);

    let requests = 0;
    const listener = createHttpServer((_req, res) => void (requests++, res.writeHead(503).end()));
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
      const refused = await pkiCli(renewArgs(outDir(), ['--require-https']).map((a) => (a === stack.raUrl ? url : a)));
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /plain http: the bearer token would be sent in clear \(--require-https\)/);
      assert.equal(requests, 0, 'nothing sent');
    } finally {
      await closeServer(listener);
    }
  });
});
