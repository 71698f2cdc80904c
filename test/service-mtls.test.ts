import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { DEFAULT_CA_HOSTNAMES } from '@evpki/cli';
import { dataPaths, type ServiceCertName } from '@evpki/service';
import { newP256Csr } from './helpers/csr.js';
import { opensslAsync } from './helpers/openssl.js';
import { api, makeDevPki, registerStation, requestJson, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { PKI_CLI, serviceEnv, sleep } from './helpers/processes.js';
import { caRequest } from './helpers/service-tls.js';

/**
 * Issue 7: RA → CA and OCSP → CA mutual TLS with certificates from the internal service CA that
 * `pki init` creates. The CA's API port refuses any other client at the TLS layer; the verified
 * client certificate's CN decides which routes it may call; probes and scrapers use a plain-HTTP
 * ops port. Checked with openssl (s_client, verify), raw sockets and the real RA.
 */

const run = promisify(execFile);
let pki: DevPki;
let stack: Stack;
let work: string;
const f = (name: string): string => join(work, name);
const files = (name: ServiceCertName) => dataPaths(pki.dataDir).serviceCert(name);
const serviceCa = (): string => dataPaths(pki.dataDir).serviceCaCert;
const cert = (path: string): X509Certificate => new X509Certificate(readFileSync(path));
const caPort = (): string => new URL(stack.caUrl).port;
const PING = 'GET /v1/ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';

/** Why the CA refused TLS clients, from its `tls.refused` log lines. */
const refusals: string[] = [];
const caLogger = pino({ level: 'warn' }, { write: (line: string) => void ((JSON.parse(line) as { event?: string }).event === 'tls.refused' && refusals.push((JSON.parse(line) as { reason: string }).reason)) });
const start = (): Promise<Stack> => startStack(pki, { caLogger });

/** `openssl s_client` to the CA's API port, sending one HTTP request; judged by what it printed (OpenSSL 3 exits 1 on a plain EOF). */
async function sClient(args: string[], request = PING): Promise<{ out: string; http: boolean }> {
  const r = await opensslAsync(['s_client', '-connect', `127.0.0.1:${caPort()}`, '-servername', 'localhost', '-CAfile', serviceCa(), '-verify_return_error', '-ign_eof', '-brief', ...args], request);
  const out = r.stdout + r.stderr;
  return { out, http: /^HTTP\/1\.1 /m.test(r.stdout) };
}

const asService = (name: ServiceCertName): string[] => ['-cert', files(name).cert, '-key', files(name).key];

/**
 * An s_client connection the CA refuses at the TLS layer: no HTTP. A missing certificate or an old
 * protocol gets an alert; a certificate that does not verify only a closed connection (Node closes
 * without an alert). Returns the reason the CA logged.
 */
async function refused(args: string[]): Promise<{ out: string; reason: string }> {
  refusals.length = 0;
  const r = await sClient(args);
  assert.equal(r.http, false, r.out);
  assert.match(r.out, /alert|unexpected eof|CONNECTION CLOSED BY SERVER/, r.out);
  for (let i = 0; i < 100 && !refusals.length; i++) await sleep(20);
  return { out: r.out, reason: refusals.join(' ') };
}

/** `pki` through the real CLI, asynchronously (a stack runs in this process). */
async function pki_(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [PKI_CLI, ...args], { env: serviceEnv({}), timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

async function issueThroughRa(stationId: string, serial: string): Promise<number> {
  await registerStation(stack, stationId, serial);
  const r = await api(stack, 'POST', `/v1/stations/${stationId}/certificates`, { csr: newP256Csr(serial).csr, certificateType: 'ChargingStationCertificate' });
  return r.status;
}

before(async () => {
  pki = await makeDevPki();
  stack = await start();
  work = mkdtempSync(join(tmpdir(), 'evpki-service-mtls-'));
  // A client certificate from another CA, with the RA's CN: the name alone must not help.
  const ok = async (args: string[]) => assert.equal((await opensslAsync(args)).code, 0, args.join(' '));
  await ok(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=Other CA', '-keyout', f('other-ca.key'), '-out', f('other-ca.pem')]);
  await ok(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=pki-ra', '-keyout', f('other.key'), '-out', f('other.csr')]);
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
  await ok(['x509', '-req', '-in', f('other.csr'), '-CA', f('other-ca.pem'), '-CAkey', f('other-ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f('client.ext'), '-out', f('other.pem')]);
});

after(async () => {
  await stack.stop();
  pki.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('pki init: the internal service CA and the three service certificates', () => {
  it('writes the service CA (encrypted key) and the leaf keys and certificates with the right modes', async () => {
    const paths = dataPaths(pki.dataDir);
    const ca = cert(paths.serviceCaCert);
    assert.equal(ca.subject, 'O=Demo CPO\nCN=Demo CPO Internal Service CA');
    assert.ok(ca.ca && ca.checkIssued(ca) && ca.verify(ca.publicKey));
    assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const years = (Date.parse(ca.validTo) - Date.now()) / (365 * 86400_000);
    assert.ok(years > 9.9 && years < 10.1, `service CA lives 10 years (${years})`);
    assert.match(readFileSync(paths.serviceCaKey, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    assert.equal(statSync(paths.serviceCaKey).mode & 0o777, 0o600);
    // Encrypted with the issuer key passphrase.
    assert.equal((await opensslAsync(['pkey', '-in', paths.serviceCaKey, '-passin', `file:${paths.devPassphrase}`, '-noout'])).code, 0);
    for (const name of ['ca-server', 'ra-client', 'ocsp-client'] as const) {
      const { cert: certFile, key } = files(name);
      assert.equal(statSync(key).mode & 0o777, 0o600, `${name} key mode`);
      assert.equal(statSync(certFile).mode & 0o022, 0, `${name} certificate writable by others`);
      assert.match(readFileSync(key, 'utf8'), /^-----BEGIN PRIVATE KEY-----/, `${name} key is unencrypted PKCS#8`);
      const text = (await opensslAsync(['pkey', '-in', key, '-noout', '-text'])).stdout;
      assert.match(text, /prime256v1/, `${name} key is EC P-256`);
      const c = cert(certFile);
      assert.ok(c.checkIssued(ca) && c.verify(ca.publicKey), `${name} is issued by the service CA`);
      assert.ok(!c.ca);
      const days = (Date.parse(c.validTo) - Date.now()) / 86400_000;
      assert.ok(days > 364 && days < 366, `${name} lives about a year (${days} days)`);
    }
    assert.match(cert(files('ra-client').cert).subject, /CN=pki-ra$/);
    assert.match(cert(files('ocsp-client').cert).subject, /CN=pki-ocsp$/);
  });

  it('openssl verifies the server certificate for sslserver and the client certificates for sslclient only', async () => {
    const verify = async (purpose: string, name: ServiceCertName) => (await opensslAsync(['verify', '-CAfile', serviceCa(), '-purpose', purpose, files(name).cert])).code;
    assert.equal(await verify('sslserver', 'ca-server'), 0);
    assert.equal(await verify('sslclient', 'ra-client'), 0);
    assert.equal(await verify('sslclient', 'ocsp-client'), 0);
    assert.notEqual(await verify('sslclient', 'ca-server'), 0, 'the server certificate is no client certificate');
    assert.notEqual(await verify('sslserver', 'ra-client'), 0, 'a client certificate is no server certificate');
  });

  it('the CA server certificate carries the default host names, the k8s Service ca with its namespace forms among them', async () => {
    const san = cert(files('ca-server').cert).subjectAltName ?? '';
    for (const name of DEFAULT_CA_HOSTNAMES) {
      const entry = name.includes(':') ? 'IP Address:0:0:0:0:0:0:0:1' : /^[\d.]+$/.test(name) ? `IP Address:${name}` : `DNS:${name}`;
      assert.ok(san.split(', ').includes(entry), `${entry} in ${san}`);
    }
    for (const name of ['ca', 'ca.ev-pki.svc', 'ca.ev-pki.svc.cluster.local', 'localhost', 'pki-ca']) assert.ok(DEFAULT_CA_HOSTNAMES.includes(name), name);
  });

  it('--ca-hostnames sets the names; a bad one exits 2', async () => {
    const dir = join(work, 'init-hostnames');
    const r = await pki_(['init', '--dev', '--data-dir', dir, '--ca-hostnames', 'ca.pki.example.net, 10.0.0.5,fd00::5']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(cert(dataPaths(dir).serviceCert('ca-server').cert).subjectAltName, 'DNS:ca.pki.example.net, IP Address:10.0.0.5, IP Address:FD00:0:0:0:0:0:0:5');
    const bad = await pki_(['init', '--dev', '--force', '--data-dir', dir, '--ca-hostnames', 'ca.example.net,not a host']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^pki: --ca-hostnames: "not a host" is neither a DNS name nor an IP address\n$/);
  });
});

describe("the CA's API port: mutual TLS 1.3 with service certificates only", () => {
  it('without a client certificate the handshake fails with an alert, and no HTTP is answered', async () => {
    const r = await refused([]);
    assert.match(r.out, /alert certificate required/, r.out);
    assert.equal(r.reason, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
  });

  it('a client certificate from another CA (even with CN pki-ra) is refused at the TLS layer', async () => {
    assert.equal((await refused(['-cert', f('other.pem'), '-key', f('other.key')])).reason, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it("the CA's own server certificate is refused as a client certificate (EKU serverAuth only)", async () => {
    assert.equal((await refused(asService('ca-server'))).reason, 'INVALID_PURPOSE');
  });

  it('TLS 1.2 is refused', async () => {
    const r = await refused([...asService('ra-client'), '-tls1_2']);
    assert.match(r.out, /alert protocol version/, r.out);
    assert.equal(r.reason, 'ERR_SSL_UNSUPPORTED_PROTOCOL');
  });

  it('with the RA certificate the handshake completes (TLS 1.3, server name verified) and /v1/ping names the client', async () => {
    const r = await sClient(asService('ra-client'));
    assert.match(r.out, /^HTTP\/1\.1 200 /m, r.out);
    assert.match(r.out, /"client":"pki-ra"/);
    assert.match(r.out, /^Protocol version: TLSv1\.3$/m, r.out);
    assert.match(r.out, /^Verification: OK$/m, r.out);
  });

  it('plain HTTP to the TLS port gets no HTTP answer', async () => {
    refusals.length = 0;
    const text = await new Promise<string>((resolve) => {
      let data = '';
      const s = connect(Number(caPort()), '127.0.0.1', () => s.write(PING));
      s.setTimeout(5000, () => s.destroy());
      s.on('data', (d: Buffer) => (data += d.toString('latin1')));
      s.on('close', () => resolve(data));
      s.on('error', () => undefined);
    });
    assert.ok(!text.includes('HTTP/'), JSON.stringify(text));
    for (let i = 0; i < 100 && !refusals.length; i++) await sleep(20);
    assert.deepEqual(refusals, ['ERR_SSL_HTTP_REQUEST']);
  });

  it('authorization by CN: the OCSP responder may not sign (403), the RA may not get signer certificates (403)', async () => {
    const sign = { tenant: 'demo', stationId: 'cp-x', csr: newP256Csr('CP-X').csr, certificateType: 'ChargingStationCertificate', actor: 'test' };
    const asOcsp = await caRequest(pki.dataDir, stack.caUrl, 'ocsp-client', 'POST', '/v1/sign', sign);
    assert.equal(asOcsp.status, 403, asOcsp.text);
    assert.match(asOcsp.body.detail, /only pki-ra may call \/v1\/sign; this client is pki-ocsp/);
    for (const path of ['/v1/sign-server', '/v1/revoke', '/v1/stations/remove']) assert.equal((await caRequest(pki.dataDir, stack.caUrl, 'ocsp-client', 'POST', path, {})).status, 403, path);
    const asRa = await caRequest(pki.dataDir, stack.caUrl, 'ra-client', 'POST', '/v1/ocsp-signers', { issuerId: pki.manifest.issuers.chargePoint, csr: newP256Csr('x').csr });
    assert.equal(asRa.status, 403, asRa.text);
    assert.match(asRa.body.detail, /only pki-ocsp may call \/v1\/ocsp-signers; this client is pki-ra/);
    assert.equal((await caRequest(pki.dataDir, stack.caUrl, 'ra-client', 'POST', '/v1/nope', {})).status, 404);
    assert.equal((await caRequest(pki.dataDir, stack.caUrl, 'ra-client', 'GET', '/healthz')).status, 404, 'the API port serves only /v1/*');
    assert.deepEqual((await caRequest(pki.dataDir, stack.caUrl, 'ocsp-client', 'GET', '/v1/ping')).body, { status: 'ok', client: 'pki-ocsp', contract: 2 });
  });
});

describe("the CA's ops port: plain HTTP, no client certificate, no API", () => {
  it('answers /healthz, /readyz and /metrics', async () => {
    assert.deepEqual((await requestJson(`${stack.caOpsUrl}/healthz`, 'GET')).body, { status: 'ok' });
    const ready = await requestJson(`${stack.caOpsUrl}/readyz`, 'GET');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.checks, { store: true, keys: true });
    const metrics = await fetch(`${stack.caOpsUrl}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^pki_ca_/m);
  });

  it('serves no /v1 route', async () => {
    assert.equal((await requestJson(`${stack.caOpsUrl}/v1/ping`, 'GET')).status, 404);
    const sign = await requestJson(`${stack.caOpsUrl}/v1/sign`, 'POST', { tenant: 'demo', stationId: 'cp-x', csr: 'x', certificateType: 'ChargingStationCertificate' });
    assert.equal(sign.status, 404);
    assert.equal((await requestJson(`${stack.caOpsUrl}/v1/ocsp-signers`, 'POST', {})).status, 404);
  });
});

describe('RA → CA end to end', () => {
  it('the RA issues a charge point certificate through the CA (201) and its readiness includes the CA over mutual TLS', async () => {
    assert.equal(await issueThroughRa('cp-mtls-1', 'CP-MTLS-0001'), 201);
    const ready = await requestJson(`${stack.raUrl}/readyz`, 'GET');
    assert.deepEqual(ready.body.checks, { store: true, ca: true });
    // The OCSP responder got its delegated signer from the CA with its own client certificate.
    assert.equal((await requestJson(`${stack.ocspUrl}/readyz`, 'GET')).body.checks.signers, true);
  });
});

describe('pki service-certs renew', () => {
  const serials = (): Record<string, string> =>
    Object.fromEntries((['ca-server', 'ra-client', 'ocsp-client'] as const).map((n) => [n, cert(files(n).cert).serialNumber]));

  it('re-issues the three certificates (new serials and keys) from the same service CA; the restarted stack works with them', async () => {
    const before = serials();
    const caBefore = readFileSync(serviceCa(), 'utf8');
    const keyBefore = readFileSync(files('ra-client').key, 'utf8');
    const r = await pki_(['service-certs', 'renew', '--data-dir', pki.dataDir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.serviceCa.new, false);
    assert.deepEqual(out.caHostnames, [...DEFAULT_CA_HOSTNAMES.filter((h) => !/^[\d.:]+$/.test(h)), '127.0.0.1', '::1'], 'the names of the current certificate');
    const after = serials();
    for (const n of Object.keys(before)) {
      assert.notEqual(after[n], before[n], `${n} has a new serial`);
      assert.equal(out.certificates[n].serialNumber, after[n]!.toLowerCase().replace(/^0+/, ''));
    }
    assert.equal(readFileSync(serviceCa(), 'utf8'), caBefore, 'the service CA is kept');
    assert.notEqual(readFileSync(files('ra-client').key, 'utf8'), keyBefore, 'a new key');
    for (const [purpose, name] of [['sslserver', 'ca-server'], ['sslclient', 'ra-client'], ['sslclient', 'ocsp-client']] as const)
      assert.equal((await opensslAsync(['verify', '-CAfile', serviceCa(), '-purpose', purpose, files(name).cert])).code, 0, name);
    // The running services go on (they reload the files within PKI_SERVICE_TLS_RELOAD_INTERVAL_MS; service-tls-reload.test.ts).
    assert.equal(await issueThroughRa('cp-mtls-2', 'CP-MTLS-0002'), 201);
    await stack.stop();
    stack = await start();
    assert.equal(await issueThroughRa('cp-mtls-3', 'CP-MTLS-0003'), 201);
    assert.match((await sClient(asService('ra-client'))).out, /"client":"pki-ra"/);
    // Idempotent: again is fine, and again new serials.
    const again = await pki_(['service-certs', 'renew', '--data-dir', pki.dataDir]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /The CA, the RA and the OCSP responder reload them/);
    assert.notEqual(serials()['ra-client'], after['ra-client']);
  });

  it('--ca-hostnames changes the server names, which later renewals keep', async () => {
    const r = await pki_(['service-certs', 'renew', '--data-dir', pki.dataDir, '--ca-hostnames', '127.0.0.1,ca.internal.example']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(cert(files('ca-server').cert).subjectAltName, 'DNS:ca.internal.example, IP Address:127.0.0.1');
    assert.equal((await pki_(['service-certs', 'renew', '--data-dir', pki.dataDir])).code, 0);
    assert.equal(cert(files('ca-server').cert).subjectAltName, 'DNS:ca.internal.example, IP Address:127.0.0.1');
    await stack.stop();
    stack = await start();
    assert.equal(await issueThroughRa('cp-mtls-4', 'CP-MTLS-0004'), 201, 'the RA reaches https://127.0.0.1 with the IP name');
  });

  it('--new-ca replaces the service CA: after the restart, certificates of the old one are refused', async () => {
    copyFileSync(files('ra-client').cert, f('old-ra.pem'));
    copyFileSync(files('ra-client').key, f('old-ra.key'));
    const oldCa = cert(serviceCa()).serialNumber;
    const r = await pki_(['service-certs', 'renew', '--new-ca', '--data-dir', pki.dataDir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).serviceCa.new, true);
    assert.notEqual(cert(serviceCa()).serialNumber, oldCa);
    await stack.stop();
    stack = await start();
    assert.equal(await issueThroughRa('cp-mtls-5', 'CP-MTLS-0005'), 201);
    assert.equal((await refused(['-cert', f('old-ra.pem'), '-key', f('old-ra.key')])).reason, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('without a service CA or a PKI it exits 2', async () => {
    const empty = join(work, 'empty');
    const r = await pki_(['service-certs', 'renew', '--data-dir', empty]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no PKI/);
    const bad = await pki_(['service-certs', 'renew', '--data-dir', pki.dataDir, '--ca-hostnames', 'under_score']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /under_score/);
  });
});
