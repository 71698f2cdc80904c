/**
 * Renewal of the internal mutual TLS certificates while the services run (issue 18): the real
 * `pki service-certs renew --if-expiring-within` (spawned) under a steady signing load through RA →
 * CA; the CA, RA and OCSP responder reload the files (watchServiceTls) with no restart, the next
 * handshakes present the new certificates (seen by a real TLS client of the CA, and by the CA's
 * own log of each client's certificate), and no request fails.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:tls';
import { SERVICE_TLS_SECRETS, writeServiceTlsSecrets } from '@evpki/cli';
import { createLogger, dataPaths, type ServiceCertName } from '@evpki/service';
import { openssl } from './helpers/openssl.js';
import { newP256Csr } from './helpers/csr.js';
import { TEST_DIR } from './helpers/fixtures.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';

const PKI = join(TEST_DIR, '..', 'services', 'cli', 'bin', 'pki.js');
const RELOAD_MS = '200';

interface Line {
  name?: string;
  event?: string;
  cn?: string;
  serialNumber?: string;
  serviceCertificate?: string;
}

let pki: DevPki;
let stack: Stack;
const lines: Line[] = [];

const files = (name: ServiceCertName) => dataPaths(pki.dataDir).serviceCert(name);
/** The serial of a service certificate on disk, as node prints it (upper-case hex), lower-cased. */
const serialOf = (name: ServiceCertName): string => new X509Certificate(readFileSync(files(name).cert)).serialNumber.toLowerCase();
const clientSerials = (cn: string): string[] => lines.filter((l) => l.event === 'tls.client' && l.cn === cn).map((l) => l.serialNumber!.replace(/^0+/, ''));
const reloaded = (name: ServiceCertName): number => lines.filter((l) => l.event === 'tls.reloaded' && l.serviceCertificate === name).length;

function pkiCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PKI|RA|CA|OCSP)_/.test(k)));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PKI, '--data-dir', pki.dataDir, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The certificate the CA's API presents to a real TLS 1.3 client with the RA's current client certificate. */
function caServerSerial(): Promise<string> {
  const f = files('ra-client');
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: Number(new URL(stack.caUrl).port), servername: 'localhost', ca: readFileSync(dataPaths(pki.dataDir).serviceCaCert), cert: readFileSync(f.cert), key: readFileSync(f.key), minVersion: 'TLSv1.3' }, () => {
      const serial = s.getPeerCertificate().serialNumber.toLowerCase();
      s.end();
      resolve(serial);
    });
    s.on('error', reject);
  });
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Workers signing charge point certificates through RA → CA until stopped; every status is kept. */
function signingLoad(workers: number): { stop(): Promise<number[]> } {
  let running = true;
  const statuses: number[] = [];
  let n = 0;
  const loops = Array.from({ length: workers }, async (_, w) => {
    while (running) {
      const station = `reload-${w}`;
      const r = await api(stack, 'POST', `/v1/stations/${station}/certificates`, { csr: newP256Csr(`CP-RELOAD-${w}`).csr, certificateType: 'ChargingStationCertificate' });
      statuses.push(r.status);
      n++;
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      assert.ok(n > 0);
      return statuses;
    },
  };
}

before(async () => {
  pki = await makeDevPki();
  const logger = createLogger('test', 'debug', { write: (l: string) => void lines.push(JSON.parse(l) as Line) }, 'json');
  const reload = { PKI_SERVICE_TLS_RELOAD_INTERVAL_MS: RELOAD_MS };
  stack = await startStack(pki, {
    logger,
    caLogger: logger,
    caEnv: reload,
    ocspEnv: reload,
    // The per-station and per-tenant CSR limits off: the load signs continually.
    raEnv: { ...reload, RA_RATE_STATION_CSRS_PER_DAY: '0', RA_RATE_TENANT_CSRS_PER_MINUTE: '0' },
  });
  for (let w = 0; w < 4; w++) await registerStation(stack, `reload-${w}`, `CP-RELOAD-${w}`);
});
after(async () => {
  await stack?.stop();
  pki?.cleanup();
});

describe('pki service-certs renew while the services run', () => {
  it('--if-expiring-within 30d on year-long certificates renews nothing (exit 0, files untouched)', async () => {
    const before = serialOf('ca-server');
    const r = await pkiCli(['service-certs', 'renew', '--if-expiring-within', '30d', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.renewed, false);
    assert.deepEqual(Object.keys(out.certificates).sort(), ['ca-server', 'ocsp-client', 'ra-client']);
    assert.equal(serialOf('ca-server'), before);
    const text = await pkiCli(['service-certs', 'renew', '--if-expiring-within', '30d']);
    assert.match(text.stdout, /No service certificate expires within 30d: nothing renewed/);
  });

  it('refuses a bad --if-expiring-within (exit 2)', async () => {
    for (const bad of ['30', '30m', '0h', '4000d', '-1d']) {
      const r = await pkiCli(['service-certs', 'renew', '--if-expiring-within', bad]);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.match(r.stderr, /--if-expiring-within/);
    }
  });

  it('renewed under signing load: the next handshakes present the new certificates, no restart, no failed request', async () => {
    const old = { ca: serialOf('ca-server'), ra: serialOf('ra-client'), ocsp: serialOf('ocsp-client') };
    assert.equal(await caServerSerial(), old.ca);
    const load = signingLoad(4);
    await sleep(500);
    // Due: the certificates live a year, so all are within 400 days.
    const r = await pkiCli(['service-certs', 'renew', '--if-expiring-within', '400d', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.renewed, true);
    const renewed = { ca: serialOf('ca-server'), ra: serialOf('ra-client'), ocsp: serialOf('ocsp-client') };
    for (const k of ['ca', 'ra', 'ocsp'] as const) assert.notEqual(renewed[k], old[k], k);
    await until('the three services to reload', () => reloaded('ca-server') >= 1 && reloaded('ra-client') >= 1 && reloaded('ocsp-client') >= 1);
    // The load goes on over the new connections for a while.
    const signedBefore = clientSerials('pki-ra').length;
    await sleep(1000);
    const statuses = await load.stop();
    assert.deepEqual([...new Set(statuses)], [201], `every request signed (${statuses.length} requests)`);
    assert.ok(statuses.length >= 8, `a load, not a trickle: ${statuses.length}`);

    // The CA presents its new certificate to a new client...
    assert.equal(await caServerSerial(), renewed.ca);
    // ...and saw the RA's new client certificate on the RA's new connections (none with the old one after them).
    assert.ok(clientSerials('pki-ra').length >= signedBefore, 'the RA connected again');
    const ra = clientSerials('pki-ra');
    assert.equal(ra.at(-1), renewed.ra.replace(/^0+/, ''), `the RA's latest connection presents the new certificate (${ra.join(', ')})`);
    assert.ok(ra.includes(old.ra.replace(/^0+/, '')), 'and its earlier ones the old one');
    // The responder's next call to the CA (its CA check on a scrape) presents its new certificate.
    assert.equal((await fetch(`${stack.ocspUrl}/metrics`)).status, 200);
    await until('the responder to connect to the CA', () => clientSerials('pki-ocsp').includes(renewed.ocsp.replace(/^0+/, '')));
    // The gauges show the renewed notAfter.
    const metrics = await (await fetch(`${stack.raUrl}/metrics`)).text();
    const raNotAfter = Math.floor(new Date(new X509Certificate(readFileSync(files('ra-client').cert)).validTo).getTime() / 1000);
    assert.match(metrics, new RegExp(`pki_certificate_not_after_seconds\\{kind="service",issuer="ra-client"[^}]*\\} ${raNotAfter}`));
  });

  it('a half-written pair (a key that is not the certificate\'s) is refused and the served one kept; the completed pair is taken', async () => {
    const f = files('ra-client');
    const cert = readFileSync(f.cert, 'utf8');
    const key = readFileSync(f.key, 'utf8');
    const failedBefore = lines.filter((l) => l.event === 'tls.reload-failed').length;
    copyFileSync(files('ocsp-client').key, f.key);
    await until('the refusal', () => lines.filter((l) => l.event === 'tls.reload-failed').length > failedBefore);
    await registerStation(stack, 'reload-torn', 'CP-RELOAD-TORN');
    const signed = await api(stack, 'POST', '/v1/stations/reload-torn/certificates', { csr: newP256Csr('CP-RELOAD-TORN').csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(signed.status, 201, 'the RA still signs with the pair it had');
    const reloads = reloaded('ra-client');
    writeFileSync(f.key, key);
    writeFileSync(f.cert, cert);
    await until('the completed pair', () => reloaded('ra-client') > reloads);
  });
});

describe('pki service-certs renew --k8s-secrets (the Redis overlay: the services read Secrets)', () => {
  it('writes each service its Secret (ca.crt, tls.crt, tls.key) with one merge patch, from the files', async () => {
    const saDir = mkdtempSync(join(tmpdir(), 'evpki-sa-'));
    const r = openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=kube-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(saDir, 'api.key'), '-out', join(saDir, 'ca.crt')]);
    assert.equal(r.code, 0, r.stderr);
    writeFileSync(join(saDir, 'token'), 'sa-token\n');
    writeFileSync(join(saDir, 'namespace'), 'ev-pki');
    const patches: { method: string; url: string; type: string; auth: string; body: { data: Record<string, string> } }[] = [];
    const api = createHttpsServer({ key: readFileSync(join(saDir, 'api.key')), cert: readFileSync(join(saDir, 'ca.crt')) }, (req, res) => {
      let text = '';
      req.setEncoding('utf8').on('data', (d: string) => (text += d));
      req.on('end', () => {
        patches.push({ method: req.method ?? '', url: req.url ?? '', type: String(req.headers['content-type']), auth: String(req.headers.authorization), body: JSON.parse(text) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    try {
      const written = await writeServiceTlsSecrets(pki.dataDir, { apiServer: `https://127.0.0.1:${(api.address() as AddressInfo).port}`, serviceAccountDir: saDir });
      assert.deepEqual(written, ['pki-ca-tls', 'pki-ra-tls', 'pki-ocsp-tls']);
      const paths = dataPaths(pki.dataDir);
      for (const [name, secret] of Object.entries(SERVICE_TLS_SECRETS) as [ServiceCertName, string][]) {
        const p = patches.find((x) => x.url === `/api/v1/namespaces/ev-pki/secrets/${secret}`);
        assert.ok(p, secret);
        assert.deepEqual([p.method, p.type, p.auth], ['PATCH', 'application/merge-patch+json', 'Bearer sa-token']);
        const decoded = Object.fromEntries(Object.entries(p.body.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
        assert.deepEqual(decoded, { 'ca.crt': readFileSync(paths.serviceCaCert, 'utf8'), 'tls.crt': readFileSync(files(name).cert, 'utf8'), 'tls.key': readFileSync(files(name).key, 'utf8') });
      }
    } finally {
      await new Promise((resolve) => api.close(resolve));
      rmSync(saDir, { recursive: true, force: true });
    }
  });

  it('outside a pod (no service account token) it is exit 2, saying so', async () => {
    const r = await pkiCli(['service-certs', 'renew', '--if-expiring-within', '30d', '--k8s-secrets']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /cannot read \/var\/run\/secrets\/kubernetes\.io\/serviceaccount\/namespace/);
  });
});
