import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { createCertificateStatus, loadRaConfig, parseAllowedHosts } from '@evpki/ra';
import { createLogger } from '@evpki/service';
import { certificateHashData, parseCertificate, pemBlocks, toPem } from '@evpki/x509';
import { newP256Csr } from './helpers/csr.js';
import { openssl } from './helpers/openssl.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { freePort } from './helpers/processes.js';

/**
 * OCPP GetCertificateStatus through the RA (Plug&Charge 4.5): our certificates are answered by our
 * own responder, a "V2G PKI" certificate by a real `openssl ocsp` responder on the allow-list, and
 * misbehaving responders by an in-process stub.
 */
let pki: DevPki;
let stack: Stack;
let work: string;
let v2g: ChildProcess | undefined;
let v2gPort: number;
let stub: Server;
let stubPort: number;
let closedPort: number;
/** Where redirects point: not on the allow-list; nothing may ever arrive there. */
let canary: Server;
let canaryPort: number;
let canaryHits = 0;

const TIMEOUT_MS = 1500;


const sh = (args: string[]) => {
  const r = openssl(args);
  assert.equal(r.code, 0, `openssl ${args.join(' ')}\n${r.stderr}`);
};

/** A small V2G-like CA made with openssl: a root, a good and a revoked leaf, an index.txt. */
function makeV2gPki(dir: string): void {
  const p = (f: string) => join(dir, f);
  sh(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'),
    '-subj', '/CN=Test V2G Root CA/O=V2G Test', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  for (const [name, serial] of [['good', '0x5EC00001'], ['revoked', '0x5EC00002']] as const) {
    sh(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=SECC-${name}/O=V2G Test`]);
    sh(['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-set_serial', serial, '-days', '30', '-out', p(`${name}.pem`)]);
  }
  writeFileSync(
    p('index.txt'),
    'V\t351231235959Z\t\t5EC00001\tunknown\t/CN=SECC-good/O=V2G Test\n' +
      'R\t351231235959Z\t250101000000Z,keyCompromise\t5EC00002\tunknown\t/CN=SECC-revoked/O=V2G Test\n',
  );
}

/** `openssl ocsp` as the V2G PKI's responder; resolves once it accepts connections. */
async function startOpensslResponder(dir: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    'openssl',
    ['ocsp', '-index', join(dir, 'index.txt'), '-port', String(port), '-rsigner', join(dir, 'ca.pem'), '-rkey', join(dir, 'ca.key'), '-CA', join(dir, 'ca.pem'), '-nmin', '60', '-ignore_err'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    if (/waiting for OCSP client connections/.test(output)) return child;
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill();
  throw new Error(`openssl ocsp did not start: ${output}`);
}

/** A successful basic OCSPResponse shape whose base64 is over 5500 characters. */
function oversizedOcspResponse(): Buffer {
  const inner = Buffer.concat([Buffer.from([0x04, 0x82, 0x13, 0x88]), Buffer.alloc(5000, 1)]); // OCTET STRING, 5000 octets
  const basicOid = Buffer.from('06092b0601050507300101', 'hex');
  const seqBody = Buffer.concat([basicOid, inner]);
  const rb = Buffer.concat([Buffer.from([0x30, 0x82, seqBody.length >> 8, seqBody.length & 0xff]), seqBody]);
  const ctx0 = Buffer.concat([Buffer.from([0xa0, 0x82, rb.length >> 8, rb.length & 0xff]), rb]);
  const body = Buffer.concat([Buffer.from([0x0a, 0x01, 0x00]), ctx0]);
  return Buffer.concat([Buffer.from([0x30, 0x82, body.length >> 8, body.length & 0xff]), body]);
}

/** Misbehaving "responders", one per path. */
function startStub(): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume();
    const ocsp = (b: Buffer) => res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(b);
    switch (req.url) {
      case '/slow':
        setTimeout(() => ocsp(Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x00])), TIMEOUT_MS * 3).unref();
        return;
      case '/html':
        return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>');
      case '/garbage':
        return ocsp(Buffer.from('definitely not DER'));
      case '/error':
        return void res.writeHead(500).end();
      case '/redirect':
        return void res.writeHead(302, { location: `http://127.0.0.1:${v2gPort}/` }).end();
      case '/big':
        return ocsp(Buffer.alloc(20 * 1024, 0x30));
      case '/unauthorized':
        return ocsp(Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x06]));
      case '/oversized':
        return ocsp(oversizedOcspResponse());
      case '/redirect-301':
      case '/redirect-307':
      case '/redirect-308':
        // To a host that is not on the allow-list (a canary that counts whoever arrives).
        return void res.writeHead(Number(req.url.slice(-3)), { location: `http://127.0.0.2:${canaryPort}/internal` }).end();
      case '/redirect-metadata':
        return void res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      case '/big-chunked': {
        // No content-length: the limit has to be found while reading.
        res.writeHead(200, { 'content-type': 'application/ocsp-response' });
        for (let i = 0; i < 40; i++) res.write(Buffer.alloc(1024, 0x30));
        return void res.end();
      }
      case '/slow-body': {
        // Headers at once, then a byte every 100 ms: each chunk is "in time", the whole is not.
        res.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': 200 });
        const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write(Buffer.from([0x30]))), 100);
        res.on('close', () => clearInterval(drip));
        return;
      }
      default:
        return void res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'evpki-status-'));
  makeV2gPki(work);
  v2gPort = await freePort();
  v2g = await startOpensslResponder(work, v2gPort);
  stub = await startStub();
  stubPort = (stub.address() as AddressInfo).port;
  closedPort = await freePort();
  canary = createServer((req, res) => {
    canaryHits++;
    req.resume();
    res.end();
  });
  await new Promise<void>((resolve) => canary.listen(0, '127.0.0.2', resolve));
  canaryPort = (canary.address() as AddressInfo).port;
  pki = await makeDevPki();
  stack = await startStack(pki, {
    raEnv: {
      RA_OCSP_ALLOWED_HOSTS: `127.0.0.1:${v2gPort}, 127.0.0.1:${stubPort},127.0.0.1:${closedPort}`,
      RA_OCSP_TIMEOUT_MS: String(TIMEOUT_MS),
    },
  });
  await stack.store.putTenant({ id: 'other', cpoName: 'Other CPO', disabled: false, createdAt: new Date().toISOString() });
});
after(async () => {
  await stack?.stop();
  pki?.cleanup();
  v2g?.kill();
  stub?.closeAllConnections();
  canary?.closeAllConnections();
  await new Promise<void>((resolve) => (canary ? canary.close(() => resolve()) : resolve()));
  await new Promise<void>((resolve) => (stub ? stub.close(() => resolve()) : resolve()));
  rmSync(work, { recursive: true, force: true });
});

type HashName = 'sha256' | 'sha384' | 'sha512';

/** OCPP OCSPRequestData for a certificate, as a charge point builds it. */
function requestData(leafDer: Buffer, issuerDer: Buffer, responderURL: string, hash: HashName = 'sha256') {
  return { ...certificateHashData(parseCertificate(leafDer), parseCertificate(issuerDer), hash), responderURL };
}

const status = (body: unknown, headers: Record<string, string> = {}) => api(stack, 'POST', '/v1/certificate-status', body, headers);

interface Decoded {
  serial: string;
  certStatus: 'good' | 'revoked' | 'unknown';
  text: string;
}

/** Decodes ocspResult with pkijs and with `openssl ocsp -respin`. */
function decode(ocspResult: string): Decoded {
  assert.ok(ocspResult.length <= 5500, 'MAX_OCSP_RESULT_CHARS');
  const der = Buffer.from(ocspResult, 'base64');
  assert.equal(der.toString('base64'), ocspResult, 'plain base64 of DER');
  const resp = pkijs.OCSPResponse.fromBER(der);
  assert.equal(resp.responseStatus.valueBlock.valueDec, 0, 'successful');
  assert.equal(resp.responseBytes!.responseType, '1.3.6.1.5.5.7.48.1.1');
  const basic = pkijs.BasicOCSPResponse.fromBER(resp.responseBytes!.response.valueBlock.valueHexView);
  assert.equal(basic.tbsResponseData.responses.length, 1);
  const single = basic.tbsResponseData.responses[0]!;
  const tag = (single.certStatus as { idBlock: { tagNumber: number } }).idBlock.tagNumber;
  const file = join(work, `resp-${Math.random().toString(36).slice(2)}.der`);
  writeFileSync(file, der);
  const text = openssl(['ocsp', '-respin', file, '-resp_text', '-noverify']);
  assert.equal(text.code, 0, text.stderr);
  return {
    serial: Buffer.from(single.certID.serialNumber.valueBlock.valueHexView).toString('hex').replace(/^0+/, ''),
    certStatus: (['good', 'revoked', 'unknown'] as const)[tag]!,
    text: text.stdout,
  };
}

describe('our own certificates: answered by our responder (A00.FR.702)', () => {
  let serial: string;
  let leaf: Buffer;
  let sub: Buffer;
  let root: Buffer;

  before(async () => {
    await registerStation(stack, 'cp-status', 'CP-STATUS');
    const r = await api(stack, 'POST', '/v1/stations/cp-status/certificates', { csr: newP256Csr('CP-STATUS').csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    serial = r.body.serialNumber;
    [leaf, sub] = pemBlocks(r.body.certificateChain, 'CERTIFICATE') as [Buffer, Buffer];
    root = pemBlocks((await api(stack, 'GET', '/v1/trust-anchors')).body.items[0].certificate, 'CERTIFICATE')[0]!;
  });

  it('SHA256 CertID → Accepted, good for the right serial; openssl verifies the response against our root', async () => {
    const r = await status(requestData(leaf, sub, 'http://127.0.0.1:8082/ocsp'));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'Accepted');
    const d = decode(r.body.ocspResult);
    assert.equal(d.serial, serial);
    assert.equal(d.certStatus, 'good');
    assert.match(d.text, /Cert Status: good/);
    assert.match(d.text, /Hash Algorithm: sha256/);

    const f = (name: string, b: Buffer) => (writeFileSync(join(work, name), toPem('CERTIFICATE', b)), join(work, name));
    const respin = join(work, 'own-good.der');
    writeFileSync(respin, Buffer.from(r.body.ocspResult, 'base64'));
    const v = openssl(['ocsp', '-respin', respin, '-CAfile', f('root.pem', root), '-verify_other', f('sub.pem', sub), '-sha256', '-issuer', f('sub.pem', sub), '-cert', f('leaf.pem', leaf), '-no_nonce']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stderr + v.stdout, /Response verify OK/);
    assert.match(v.stdout, /leaf\.pem: good/);
  });

  it('issue 14.12: RA_OCSP_URL follows OCSP_PORT, so under make run with other ports our certificates are answered (not 503)', async () => {
    assert.equal(loadRaConfig({ OCSP_PORT: '9182' }).ocspUrl, 'http://127.0.0.1:9182');
    assert.equal(loadRaConfig({ OCSP_PORT: '9182', RA_OCSP_URL: 'http://ocsp:8082' }).ocspUrl, 'http://ocsp:8082', 'an explicit RA_OCSP_URL wins');
    // The stack's RA is configured as make run configures it: OCSP_PORT (a free port, not 8082), no RA_OCSP_URL.
    assert.notEqual(new URL(stack.ocspUrl).port, '8082');
    const r = await status(requestData(leaf, sub, 'http://127.0.0.1:8082/ocsp'));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(decode(r.body.ocspResult).certStatus, 'good');
  });

  for (const hash of ['sha384', 'sha512'] as const) {
    it(`${hash.toUpperCase()} CertID → Accepted, good`, async () => {
      const r = await status(requestData(leaf, sub, 'http://127.0.0.1:8082/ocsp', hash));
      assert.equal(r.body.status, 'Accepted', JSON.stringify(r.body));
      const d = decode(r.body.ocspResult);
      assert.equal(d.certStatus, 'good');
      assert.match(d.text, new RegExp(`Hash Algorithm: ${hash}`));
    });
  }

  it('upper-case hex is accepted', async () => {
    const data = requestData(leaf, sub, 'http://127.0.0.1:8082/ocsp');
    const r = await status({ ...data, issuerNameHash: data.issuerNameHash.toUpperCase(), issuerKeyHash: data.issuerKeyHash.toUpperCase(), serialNumber: data.serialNumber.toUpperCase() });
    assert.equal(r.body.status, 'Accepted', JSON.stringify(r.body));
    assert.equal(decode(r.body.ocspResult).serial, serial);
  });

  it('responderURL is never fetched for our issuers (an unreachable, not allow-listed URL still answers)', async () => {
    const r = await status(requestData(leaf, sub, 'http://203.0.113.7:9/ocsp'));
    assert.equal(r.body.status, 'Accepted', JSON.stringify(r.body));
    assert.equal(decode(r.body.ocspResult).certStatus, 'good');
  });

  it('any tenant may ask (a status query, not an object of the tenant)', async () => {
    const r = await status(requestData(leaf, sub, 'http://127.0.0.1:8082/ocsp'), { authorization: `Bearer ${await stack.token('other')}` });
    assert.equal(r.body.status, 'Accepted', JSON.stringify(r.body));
  });

  it('a serial we never issued under our issuer is still answered by our responder, not refused', async () => {
    const r = await status({ ...requestData(leaf, sub, 'http://127.0.0.1:8082/ocsp'), serialNumber: '7abcdef0123456789' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    if (r.body.status === 'Accepted') assert.notEqual(decode(r.body.ocspResult).certStatus, 'good');
  });

  it('the moment the RA answers a revocation, the status is revoked (A00.FR.704)', async () => {
    // Asked first, so that a pre-signed "good" response exists and must not be served stale.
    assert.equal(decode((await status(requestData(leaf, sub, 'http://127.0.0.1:8082/ocsp'))).body.ocspResult).certStatus, 'good');
    const rev = await api(stack, 'POST', `/v1/certificates/${serial}/revoke`, { reason: 'keyCompromise' });
    assert.equal(rev.status, 200, JSON.stringify(rev.body));
    for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
      const r = await status(requestData(leaf, sub, 'http://127.0.0.1:8082/ocsp', hash));
      assert.equal(r.body.status, 'Accepted', JSON.stringify(r.body));
      const d = decode(r.body.ocspResult);
      assert.equal(d.certStatus, 'revoked', hash);
      assert.equal(d.serial, serial);
      assert.match(d.text, /Reason: keyCompromise/);
    }
  });

  it('a removed station: its certificate is revoked (cessationOfOperation) at once', async () => {
    await registerStation(stack, 'cp-status-gone', 'CP-STATUS-GONE');
    const s = await api(stack, 'POST', '/v1/stations/cp-status-gone/certificates', { csr: newP256Csr('CP-STATUS-GONE').csr, certificateType: 'ChargingStationCertificate' });
    const [gone, goneSub] = pemBlocks(s.body.certificateChain, 'CERTIFICATE') as [Buffer, Buffer];
    assert.equal(decode((await status(requestData(gone, goneSub, 'x'))).body.ocspResult).certStatus, 'good');
    assert.equal((await api(stack, 'DELETE', '/v1/stations/cp-status-gone')).status, 204);
    const d = decode((await status(requestData(gone, goneSub, 'x'))).body.ocspResult);
    assert.equal(d.certStatus, 'revoked');
    assert.match(d.text, /Reason: cessationOfOperation/);
  });
});

describe('other issuers: only allow-listed responders, refused otherwise (PnC-4.5)', () => {
  let good: Buffer;
  let revoked: Buffer;
  let ca: Buffer;
  before(() => {
    const der = (f: string) => pemBlocks(readFileSync(join(work, f), 'utf8'), 'CERTIFICATE')[0]!;
    [good, revoked, ca] = [der('good.pem'), der('revoked.pem'), der('ca.pem')];
  });

  it('allow-listed openssl responder → Accepted with its response (good)', async () => {
    const r = await status(requestData(good, ca, `http://127.0.0.1:${v2gPort}/`));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'Accepted', JSON.stringify(r.body));
    const d = decode(r.body.ocspResult);
    assert.equal(d.serial, '5ec00001');
    assert.equal(d.certStatus, 'good');
    assert.match(d.text, /Responder Id: CN = Test V2G Root CA/);
  });

  it('allow-listed openssl responder → Accepted, revoked (SHA384 CertID)', async () => {
    const r = await status(requestData(revoked, ca, `http://127.0.0.1:${v2gPort}/`, 'sha384'));
    assert.equal(r.body.status, 'Accepted', JSON.stringify(r.body));
    const d = decode(r.body.ocspResult);
    assert.equal(d.serial, '5ec00002');
    assert.equal(d.certStatus, 'revoked');
    assert.match(d.text, /Reason: keyCompromise/);
  });

  const refused: [string, string][] = [
    ['a host not on the allow-list', 'http://127.0.0.2:8080/ocsp'],
    ['an allow-listed host on another port', 'http://127.0.0.1:1/'],
    ['a public responder', 'http://ocsp.example.com/'],
    ['a non-http scheme', `ftp://127.0.0.1:${v2gPort}/`],
    ['credentials in the URL', `http://user:pw@127.0.0.1:${v2gPort}/`],
    ['not a URL', 'ocsp responder'],
  ];
  for (const [name, url] of refused) {
    it(`${name} → 422 PnC-4.5, nothing fetched`, async () => {
      const r = await status(requestData(good, ca, url));
      assert.equal(r.status, 422, JSON.stringify(r.body));
      assert.equal(r.headers.get('content-type'), 'application/problem+json');
      assert.equal(r.body.violations[0].rule, 'PnC-4.5');
    });
  }

  const failures: [string, string, RegExp][] = [
    ['times out', '/slow', /did not answer within 1500 ms/],
    ['answers HTML', '/html', /text\/html, not application\/ocsp-response/],
    ['answers garbage', '/garbage', /not a DER OCSPResponse/],
    ['answers HTTP 500', '/error', /HTTP 500/],
    ['redirects', '/redirect', /HTTP 302 \(redirects are not followed\)/],
    ['answers more than the size limit', '/big', /larger than 16384 bytes/],
    ['answers unauthorized', '/unauthorized', /answered unauthorized/],
    ['answers over 5500 characters of base64', '/oversized', /more than OCPP's 5500/],
  ];
  for (const [name, path, reason] of failures) {
    it(`an allow-listed responder that ${name} → 200 Failed with a reason`, async () => {
      const url = `http://127.0.0.1:${stubPort}${path}`;
      const t0 = Date.now();
      const r = await status(requestData(good, ca, url));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(Object.keys(r.body).sort(), ['reason', 'status']);
      assert.equal(r.body.status, 'Failed');
      assert.match(r.body.reason, reason);
      assert.ok(Date.now() - t0 < TIMEOUT_MS * 2.5, 'bounded by RA_OCSP_TIMEOUT_MS');
    });
  }

  it('an allow-listed responder that is down → 200 Failed (unreachable)', async () => {
    const r = await status(requestData(good, ca, `http://127.0.0.1:${closedPort}/`));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'Failed');
    assert.match(r.body.reason, /unreachable/);
  });
});

describe('SSRF: responderURL cannot reach hosts outside the allow-list (issue 7)', () => {
  let good: Buffer;
  let ca: Buffer;
  before(() => {
    const der = (f: string) => pemBlocks(readFileSync(join(work, f), 'utf8'), 'CERTIFICATE')[0]!;
    [good, ca] = [der('good.pem'), der('ca.pem')];
  });

  // URLs are built when the test runs (the ports are known only then).
  const refused: [string, () => string][] = [
    ['127.0.0.2 in decimal', () => `http://2130706434:${stubPort}/`],
    ['127.0.0.2 in hex', () => `http://0x7f.0.0.2:${stubPort}/`],
    ['127.0.0.2 in octal', () => `http://0177.0.0.2:${stubPort}/`],
    ['127.0.0.2 in short form', () => `http://127.2:${stubPort}/`],
    ['the IPv4-mapped IPv6 form of the allow-listed 127.0.0.1 (only the listed spelling is allowed)', () => `http://[::ffff:127.0.0.1]:${stubPort}/`],
    ['IPv6 loopback', () => `http://[::1]:${stubPort}/`],
    ['IPv6 link-local', () => `http://[fe80::1]:${stubPort}/`],
    ['0.0.0.0 as "0"', () => `http://0:${stubPort}/`],
    ['the cloud metadata address in decimal', () => 'http://2852039166/latest/meta-data/'],
    ['localhost (a name, not the listed IP literal)', () => `http://localhost:${stubPort}/`],
    ['userinfo naming the allowed host before another one', () => `http://127.0.0.1:${stubPort}@evil.example/`],
    ['userinfo without a password', () => `http://127.0.0.1@evil.example:${stubPort}/`],
    ['a backslash before @ (WHATWG: the host is the part before it)', () => `http://evil.example\\@127.0.0.1:${stubPort}/`],
    ['a fragment before @', () => `http://evil.example#@127.0.0.1:${stubPort}/`],
    ['a query before @', () => `http://evil.example?@127.0.0.1:${stubPort}/`],
    ['an encoded @ in the host', () => `http://127.0.0.1%40evil.example:${stubPort}/`],
    ['file:', () => 'file:///etc/passwd'],
    ['gopher:', () => `gopher://127.0.0.1:${stubPort}/_POST%20/`],
    ['data:', () => 'data:application/ocsp-response;base64,MAMKAQA='],
    ['ws:', () => `ws://127.0.0.1:${stubPort}/`],
    ['javascript:', () => 'javascript:alert(1)'],
  ];
  for (const [name, url] of refused) {
    it(`${name} → 422 PnC-4.5, nothing fetched`, async () => {
      const r = await status(requestData(good, ca, url()));
      assert.equal(r.status, 422, `${url()}: ${JSON.stringify(r.body)}`);
      assert.equal(r.headers.get('content-type'), 'application/problem+json');
      assert.equal(r.body.violations[0].rule, 'PnC-4.5');
    });
  }

  it('another spelling of the allow-listed IP literal is that host (WHATWG URL normalization): asked', async () => {
    const r = await status(requestData(good, ca, `http://2130706433:${v2gPort}/`));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'Accepted', JSON.stringify(r.body));
  });

  for (const code of [301, 307, 308]) {
    it(`a ${code} redirect from an allow-listed responder to another host is not followed → 200 Failed`, async () => {
      const before = canaryHits;
      const r = await status(requestData(good, ca, `http://127.0.0.1:${stubPort}/redirect-${code}`));
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.status, 'Failed');
      assert.match(r.body.reason, new RegExp(`HTTP ${code} \\(redirects are not followed\\)`));
      assert.equal(canaryHits, before, 'the redirect target was never contacted');
    });
  }

  it('a redirect to the cloud metadata address is not followed either', async () => {
    const r = await status(requestData(good, ca, `http://127.0.0.1:${stubPort}/redirect-metadata`));
    assert.equal(r.body.status, 'Failed');
    assert.match(r.body.reason, /HTTP 307 \(redirects are not followed\)/);
  });

  it('https to an allow-listed plain-HTTP port → 200 Failed (unreachable), no 500', async () => {
    const r = await status(requestData(good, ca, `https://127.0.0.1:${stubPort}/garbage`));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'Failed');
    assert.match(r.body.reason, /unreachable|did not answer/);
  });

  it('an oversized response without a content-length → 200 Failed (size limit found while reading)', async () => {
    const r = await status(requestData(good, ca, `http://127.0.0.1:${stubPort}/big-chunked`));
    assert.equal(r.body.status, 'Failed', JSON.stringify(r.body));
    assert.match(r.body.reason, /larger than 16384 bytes/);
  });

  it('a responder that drips its body (every chunk in time, the whole too slow) → 200 Failed within the timeout', async () => {
    const t0 = Date.now();
    const r = await status(requestData(good, ca, `http://127.0.0.1:${stubPort}/slow-body`));
    assert.equal(r.body.status, 'Failed', JSON.stringify(r.body));
    assert.match(r.body.reason, /did not answer within 1500 ms/);
    assert.ok(Date.now() - t0 < TIMEOUT_MS * 2.5, 'bounded by RA_OCSP_TIMEOUT_MS');
  });

  describe('DNS: an allow-listed host name that resolves to a non-public address is not asked (rebinding, internal names)', () => {
    const quiet = createLogger('test', 'silent');
    const query = async (allow: string, url: string) => {
      const cs = createCertificateStatus({ ocspUrl: stack.ocspUrl, allowedHosts: parseAllowedHosts(allow), timeoutMs: TIMEOUT_MS }, stack.store, quiet);
      try {
        return await cs.query(requestData(good, ca, url));
      } finally {
        await cs.close();
      }
    };

    it('"localhost" on the allow-list resolves to loopback → 422 PnC-4.5 naming the address', async () => {
      await assert.rejects(query(`localhost:${stubPort}`, `http://localhost:${stubPort}/garbage`), (e: unknown) => {
        const err = e as { kind?: string; violations?: { rule: string }[]; message: string };
        assert.equal(err.kind, 'policy');
        assert.equal(err.violations?.[0]?.rule, 'PnC-4.5');
        assert.match(err.message, /localhost resolves to the non-public address (127\.0\.0\.1|::1)/);
        return true;
      });
    });

    it('the same responder allow-listed by its IP literal is asked (no lookup, the operator chose that address)', async () => {
      const r = await query(`127.0.0.1:${stubPort}`, `http://127.0.0.1:${stubPort}/garbage`);
      assert.deepEqual(r, { status: 'Failed', reason: 'the OCSP responder answered something that is not a DER OCSPResponse' });
    });
  });
});

describe('malformed OCSPRequestData → 400 naming the rule', () => {
  const base = { hashAlgorithm: 'SHA256', issuerNameHash: 'ab'.repeat(32), issuerKeyHash: 'cd'.repeat(32), serialNumber: '1f', responderURL: 'http://127.0.0.1:8082/ocsp' };
  const cases: [string, Record<string, unknown>, string][] = [
    ['SHA1 hash algorithm', { ...base, hashAlgorithm: 'SHA1' }, 'openapi:/body/hashAlgorithm'],
    ['non-hex issuerNameHash', { ...base, issuerNameHash: 'zz'.repeat(32) }, 'openapi:/body/issuerNameHash'],
    ['serial over 20 octets', { ...base, serialNumber: 'a'.repeat(41) }, 'openapi:/body/serialNumber'],
    ['missing responderURL', { hashAlgorithm: 'SHA256', issuerNameHash: base.issuerNameHash, issuerKeyHash: base.issuerKeyHash, serialNumber: '1f' }, 'openapi:/body/responderURL'],
    ['SHA-1 length hash for SHA256', { ...base, issuerNameHash: 'ab'.repeat(20) }, 'PnC-4.5'],
    ['SHA256 length key hash for SHA512', { ...base, hashAlgorithm: 'SHA512', issuerNameHash: 'ab'.repeat(64) }, 'PnC-4.5'],
    ['odd-length hash', { ...base, issuerKeyHash: 'c'.repeat(63) }, 'PnC-4.5'],
  ];
  for (const [name, body, rule] of cases) {
    it(`${name} → 400 ${rule}`, async () => {
      const r = await status(body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.ok(
        r.body.violations.some((v: { rule: string }) => v.rule === rule),
        JSON.stringify(r.body),
      );
    });
  }

  it('needs a token (401)', async () => {
    assert.equal((await status(base, { authorization: '' })).status, 401);
  });
});

describe('RA_OCSP_ALLOWED_HOSTS and the other RA_OCSP_ settings are checked at start', () => {
  it('parses host and host:port entries (IPv6 in brackets, names lower-cased)', () => {
    assert.deepEqual(parseAllowedHosts(' ocsp.V2G.example , 127.0.0.1:8443,[::1]:9000,[2001:db8::1]'), [
      { hostname: 'ocsp.v2g.example' },
      { hostname: '127.0.0.1', port: 8443 },
      { hostname: '[::1]', port: 9000 },
      { hostname: '[2001:db8::1]' },
    ]);
    assert.deepEqual(parseAllowedHosts(''), []);
  });
  for (const bad of ['http://ocsp.example', 'ocsp.example/path', 'user@ocsp.example', 'ocsp.example:0', 'ocsp.example:70000', 'ocsp.example:', '::1', 'a b']) {
    it(`refuses "${bad}"`, () => {
      assert.throws(() => loadRaConfig({ RA_OCSP_ALLOWED_HOSTS: bad }), { name: 'ConfigError', message: /RA_OCSP_ALLOWED_HOSTS/ });
    });
  }
  it('defaults: our responder on 127.0.0.1:8082, no remote responders, 5 s timeout', () => {
    const c = loadRaConfig({});
    assert.equal(c.ocspUrl, 'http://127.0.0.1:8082');
    assert.deepEqual(c.ocspAllowedHosts, []);
    assert.equal(c.ocspTimeoutMs, 5000);
    assert.throws(() => loadRaConfig({ RA_OCSP_TIMEOUT_MS: '50' }), /RA_OCSP_TIMEOUT_MS/);
    assert.throws(() => loadRaConfig({ RA_OCSP_URL: 'ftp://ocsp' }), /RA_OCSP_URL/);
  });
});
