/**
 * The RA over HTTPS (RA_TLS_CERT_FILE, RA_TLS_KEY_FILE): real TLS handshakes (node:https and
 * openssl s_client) with a certificate for 127.0.0.1/localhost from the test's own CA; the API
 * answering over it; the files swapped as a Kubernetes Secret is (a `..data` symlink renamed over)
 * and the new certificate served without a restart and without a failed request; a broken pair
 * logged and the served one kept; TLS 1.1 refused, 1.2 accepted, 1.3 preferred.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { createLogger } from '@evpki/service';
import { loadRaConfig } from '@evpki/ra';
import { openssl, opensslAsync } from './helpers/openssl.js';
import { runPki } from './helpers/processes.js';
import { makeDevPki, startStack, type DevPki, type Stack } from './helpers/pki.js';

const RELOAD_MS = 200;

function run(args: string[]): string {
  const r = openssl(args);
  assert.equal(r.code, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A P-256 key and a certificate for localhost and 127.0.0.1 signed by the test CA in `dir`. */
function serverPair(dir: string, name: string): { cert: string; key: string; fingerprint: string } {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  run(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  run(['x509', '-req', '-in', csr, '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', cert]);
  const pem = readFileSync(cert, 'utf8');
  return { cert: pem, key: readFileSync(key, 'utf8'), fingerprint: new X509Certificate(pem).fingerprint256 };
}

/**
 * A Secret volume as the kubelet writes it: `tls.crt` and `tls.key` are links through `..data` to a
 * timestamped directory; an update writes a new directory and renames a new `..data` over the old.
 */
class SecretVolume {
  private n = 0;
  constructor(readonly dir: string) {
    mkdirSync(dir);
    symlinkSync('..data/tls.crt', join(dir, 'tls.crt'));
    symlinkSync('..data/tls.key', join(dir, 'tls.key'));
  }
  write(cert: string, key: string): void {
    const version = `..v${++this.n}`;
    mkdirSync(join(this.dir, version));
    writeFileSync(join(this.dir, version, 'tls.crt'), cert);
    writeFileSync(join(this.dir, version, 'tls.key'), key);
    symlinkSync(version, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
  }
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly fingerprint: string;
  readonly protocol: string;
}

/** One request on a new connection, trusting only the test CA. */
function get(url: string, ca: string, path: string, token?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { ca, agent: false, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      const socket = res.socket as TLSSocket;
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      const protocol = socket.getProtocol() ?? '';
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, fingerprint, protocol }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Requests `path` until the served certificate is `fingerprint`, every answer a 200 (at most `ms`). */
async function untilServed(url: string, ca: string, fingerprint: string, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let requests = 0;
  for (;;) {
    const a = await get(url, ca, '/healthz');
    requests++;
    assert.equal(a.status, 200, 'no failed request while the certificate is swapped');
    if (a.fingerprint === fingerprint) return requests;
    if (Date.now() > deadline) assert.fail(`certificate ${fingerprint} not served within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('RA over HTTPS (RA_TLS_CERT_FILE, RA_TLS_KEY_FILE)', () => {
  let pki: DevPki;
  let stack: Stack;
  let dir: string;
  let ca: string;
  let volume: SecretVolume;
  let first: ReturnType<typeof serverPair>;
  const lines: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'evpki-ra-tls-'));
    run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'), '-subj', '/CN=RA TLS test CA', '-days', '2']);
    ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
    first = serverPair(dir, 'first');
    volume = new SecretVolume(join(dir, 'secret'));
    volume.write(first.cert, first.key);
    pki = await makeDevPki();
    const logger = createLogger('ra', 'info', { write: (l: string) => void lines.push(l) });
    stack = await startStack(pki, {
      logger,
      raEnv: { RA_TLS_CERT_FILE: join(volume.dir, 'tls.crt'), RA_TLS_KEY_FILE: join(volume.dir, 'tls.key'), RA_TLS_RELOAD_INTERVAL_MS: String(RELOAD_MS) },
    });
    assert.match(stack.raUrl, /^https:/);
  });

  after(async () => {
    await stack?.stop();
    pki?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the API over TLS 1.3 with the configured certificate', async () => {
    const token = await stack.token();
    const a = await get(stack.raUrl, ca, '/v1/trust-anchors', token);
    assert.equal(a.status, 200, a.body);
    assert.ok(JSON.parse(a.body).items.length >= 1, a.body);
    assert.equal(a.fingerprint, first.fingerprint);
    assert.equal(a.protocol, 'TLSv1.3');
    const anonymous = await get(stack.raUrl, ca, '/v1/trust-anchors');
    assert.equal(anonymous.status, 401);
  });

  it('openssl s_client: the chain verifies against the test CA for localhost; TLS 1.2 accepted, TLS 1.1 refused', async () => {
    const port = new URL(stack.raUrl).port;
    const ok = await opensslAsync(['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', join(dir, 'ca.pem'), '-verify_hostname', 'localhost', '-verify_return_error', '-brief'], '');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /Protocol version: TLSv1\.3/);
    assert.match(ok.stderr, /Verification: OK/);
    const tls12 = await opensslAsync(['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-CAfile', join(dir, 'ca.pem'), '-verify_return_error', '-brief'], '');
    assert.equal(tls12.code, 0, tls12.stderr);
    assert.match(tls12.stderr, /Protocol version: TLSv1\.2/);
    // The client side allows TLS 1.1 (security level 0): the refusal is the RA's.
    const tls11 = await opensslAsync(['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0', '-brief'], '');
    assert.notEqual(tls11.code, 0);
    assert.match(tls11.stderr, /alert protocol version/, 'the RA answers a protocol_version alert');
    // A client certificate is asked for but optional (EST simplereenroll by the SECC's certificate,
    // est-secc-tls.test.ts): the handshake above completed without one.
    assert.match(ok.stderr, /Requested Signature Algorithms/);
  });

  it('pki renew --require-https reaches it, trusting the CA of the RA certificate through NODE_EXTRA_CA_CERTS (as the csms-cert-renew CronJob would)', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${await stack.token()}\n`);
    const out = join(dir, 'renew-out');
    mkdirSync(out);
    const args = ['renew', '--ra-url', stack.raUrl, '--require-https', '--token-file', tokenFile, '--org', 'Demo CPO', '--cn', 'csms.demo.local', '--key-out', join(out, 'key.pem'), '--cert-out', join(out, 'chain.pem')];
    const untrusted = await runPki(args);
    assert.notEqual(untrusted.code, 0, 'without the CA the RA certificate is not trusted');
    const r = await runPki(args, { NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /WARNING/);
    assert.match(readFileSync(join(out, 'chain.pem'), 'utf8'), /BEGIN CERTIFICATE/);
  });

  it('a renewed Secret is served without a restart and without a failed request; a broken pair is logged and the served one kept', async () => {
    // Requests on new connections all along, while the Secret is swapped.
    const second = serverPair(dir, 'second');
    volume.write(second.cert, second.key);
    const requests = await untilServed(stack.raUrl, ca, second.fingerprint, 20 * RELOAD_MS + 5000);
    assert.ok(requests >= 1);
    assert.ok(lines.some((l) => JSON.parse(l).event === 'tls.reloaded'));

    // A key that is not the certificate's: refused, logged, the second certificate still served.
    const third = serverPair(dir, 'third');
    volume.write(third.cert, second.key);
    const deadline = Date.now() + 20 * RELOAD_MS + 5000;
    while (!lines.some((l) => JSON.parse(l).event === 'tls.reload-failed')) {
      assert.ok(Date.now() < deadline, 'the broken pair is logged');
      const a = await get(stack.raUrl, ca, '/healthz');
      assert.equal(a.status, 200);
      assert.equal(a.fingerprint, second.fingerprint);
      await new Promise((r) => setTimeout(r, 20));
    }
    const failed = JSON.parse(lines.find((l) => JSON.parse(l).event === 'tls.reload-failed')!);
    assert.match(failed.err, /key values mismatch/);
    assert.equal((await get(stack.raUrl, ca, '/healthz')).fingerprint, second.fingerprint);

    // Fixed: the next change is taken.
    volume.write(third.cert, third.key);
    await untilServed(stack.raUrl, ca, third.fingerprint, 20 * RELOAD_MS + 5000);
  });
});

describe('RA TLS configuration', () => {
  it('one of RA_TLS_CERT_FILE, RA_TLS_KEY_FILE alone is refused; neither is plain HTTP', () => {
    assert.throws(() => loadRaConfig({ RA_TLS_CERT_FILE: '/x.pem' }), /set both RA_TLS_CERT_FILE and RA_TLS_KEY_FILE/);
    assert.throws(() => loadRaConfig({ RA_TLS_KEY_FILE: '/x.key' }), /set both RA_TLS_CERT_FILE and RA_TLS_KEY_FILE/);
    assert.equal(loadRaConfig({}).tls, undefined);
    assert.deepEqual(loadRaConfig({ RA_TLS_CERT_FILE: '/c', RA_TLS_KEY_FILE: '/k' }).tls, { certFile: '/c', keyFile: '/k', reloadIntervalMs: 5000 });
  });
});
