import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { pemBlocks, toPem } from '@evpki/x509';
import { openssl } from './helpers/openssl.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';

const run = promisify(execFile);

// Security profile 3 (A00.FR.401-407): the CSMS's TLS server requires a client certificate and
// trusts only the CPO root; charge points present the chain we issued.
let pki: DevPki;
let stack: Stack;
let work: string;
let server: Server;
let port: number;
const seen: { authorized: boolean; cn?: string; error?: string }[] = [];

const f = (name: string): string => join(work, name);

before(async () => {
  pki = await makeDevPki();
  stack = await startStack(pki);
  work = mkdtempSync(join(tmpdir(), 'evpki-mtls-'));

  // The charge point: key and CSR by openssl, certificate through RA → CA.
  await registerStation(stack, 'cp-tls', 'CP-TLS-0001');
  assert.equal(openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('cp.key')]).code, 0);
  assert.equal(openssl(['req', '-new', '-key', f('cp.key'), '-subj', '/O=Demo CPO/CN=CP-TLS-0001', '-out', f('cp.csr')]).code, 0);
  const signed = await api(stack, 'POST', '/v1/stations/cp-tls/certificates', { csr: readFileSync(f('cp.csr'), 'utf8'), certificateType: 'ChargingStationCertificate' });
  assert.equal(signed.status, 201);
  writeFileSync(f('cp-chain.pem'), signed.body.certificateChain);
  const [leaf, ...rest] = pemBlocks(signed.body.certificateChain, 'CERTIFICATE');
  writeFileSync(f('cp-leaf.pem'), toPem('CERTIFICATE', leaf!));
  writeFileSync(f('cp-intermediates.pem'), rest.map((d) => toPem('CERTIFICATE', d)).join(''));
  const anchors = await api(stack, 'GET', '/v1/trust-anchors');
  writeFileSync(f('root.pem'), anchors.body.items[0].certificate);

  // The CSMS server's own certificate (server certificates come with their own issue): a test CA.
  assert.equal(openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=csms.test', '-addext', 'subjectAltName=DNS:localhost', '-keyout', f('srv.key'), '-out', f('srv.pem')]).code, 0);

  // An impostor: same subject, but from a CA the server does not trust.
  assert.equal(openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/O=Demo CPO/CN=Rogue CA', '-keyout', f('rogue-ca.key'), '-out', f('rogue-ca.pem')]).code, 0);
  assert.equal(openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/O=Demo CPO/CN=CP-TLS-0001', '-keyout', f('rogue.key'), '-out', f('rogue.csr')]).code, 0);
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyAgreement\n');
  assert.equal(openssl(['x509', '-req', '-in', f('rogue.csr'), '-CA', f('rogue-ca.pem'), '-CAkey', f('rogue-ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f('client.ext'), '-out', f('rogue.pem')]).code, 0);

  server = createServer(
    { key: readFileSync(f('srv.key')), cert: readFileSync(f('srv.pem')), ca: readFileSync(f('root.pem')), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    (socket: TLSSocket) => {
      seen.push({ authorized: socket.authorized, cn: String(socket.getPeerCertificate().subject?.CN) });
      socket.end('hello charge point\n');
    },
  );
  server.on('tlsClientError', (err) => seen.push({ authorized: false, error: err.message }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server?.close();
  await stack.stop();
  pki.cleanup();
  rmSync(work, { recursive: true, force: true });
});

function tlsClient(keyFile: string, certFile: string): Promise<{ ok: boolean; data: string; error?: string }> {
  return new Promise((resolve) => {
    let data = '';
    const s = connect({ host: '127.0.0.1', port, servername: 'localhost', key: readFileSync(keyFile), cert: readFileSync(certFile), ca: readFileSync(f('srv.pem')) });
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('end', () => resolve({ ok: data.includes('hello'), data }));
    s.on('error', (e) => resolve({ ok: false, data, error: e.message }));
  });
}

describe('mutual TLS with an issued charge point certificate (security profile 3)', () => {
  it('a server that trusts only the root accepts the issued chain (node tls)', async () => {
    seen.length = 0;
    const r = await tlsClient(f('cp.key'), f('cp-chain.pem'));
    assert.equal(r.ok, true, r.error);
    assert.deepEqual(seen[0], { authorized: true, cn: 'CP-TLS-0001' });
  });

  it('openssl s_client with the issued certificate completes the handshake', async () => {
    seen.length = 0;
    // OpenSSL 3 exits 1 on the server's plain EOF after the data, so judge by what it printed and
    // by what the server saw, not by the exit code.
    const { stdout } = await run('openssl', [
      's_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-cert', f('cp-leaf.pem'), '-cert_chain', f('cp-intermediates.pem'),
      '-key', f('cp.key'), '-CAfile', f('srv.pem'), '-verify_return_error', '-quiet',
    ], { timeout: 20_000 }).catch((e: { stdout: string }) => e);
    assert.match(stdout, /hello charge point/);
    assert.equal(seen[0]?.authorized, true);
  });

  it('a client certificate from another CA is rejected during the handshake', async () => {
    seen.length = 0;
    const r = await tlsClient(f('rogue.key'), f('rogue.pem'));
    assert.equal(r.ok, false);
    assert.ok(seen.some((s) => !s.authorized), JSON.stringify(seen));
  });

  it('the leaf alone, without its issuing CA, does not chain to the root', async () => {
    seen.length = 0;
    const r = await tlsClient(f('cp.key'), f('cp-leaf.pem'));
    assert.equal(r.ok, false, 'the CSMS must send the full chain from CertificateSigned.req');
  });
});
