import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkijs from 'pkijs';
import { buildOcspRequest, encodeCertId, issuerHashes, OCSP_LIMITS } from '@evpki/ocsp';
import { createOcspService, loadOcspConfig, noneMatchFails } from '@evpki/ocsp-responder';
import { createLogger, readServiceTls } from '@evpki/service';
import { openStore } from '@evpki/store';
import { OID, parseCertificate, pemBlocks, serialFromHex, toPem, type ParsedCertificate } from '@evpki/x509';
import { newP256Csr } from './helpers/csr.js';
import { parseOcspResponse } from './helpers/ocsp-client.js';
import { opensslAsync } from './helpers/openssl.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { caRequest } from './helpers/service-tls.js';

let pki: DevPki;
let stack: Stack;
let work: string;
let issuer: ParsedCertificate;
const files = { root: '', sub: '' };

interface Issued {
  readonly serial: string;
  readonly pem: string;
  readonly file: string;
  readonly cert: ParsedCertificate;
}

let seq = 0;
async function issue(): Promise<Issued> {
  const n = ++seq;
  await registerStation(stack, `ocsp-${n}`, `CP-OCSP-${n}`);
  const r = await api(stack, 'POST', `/v1/stations/ocsp-${n}/certificates`, { csr: newP256Csr(`CP-OCSP-${n}`).csr, certificateType: 'ChargingStationCertificate' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const der = pemBlocks(r.body.certificateChain as string, 'CERTIFICATE')[0]!;
  const pem = toPem('CERTIFICATE', der);
  const file = join(work, `leaf-${n}.pem`);
  writeFileSync(file, pem);
  return { serial: r.body.serialNumber as string, pem, file, cert: parseCertificate(der) };
}

async function caRevoke(serial: string, reason: string): Promise<void> {
  const res = await caRequest(pki.dataDir, stack.caUrl, 'ra-client', 'POST', '/v1/revoke', { tenant: 'demo', serialNumber: serial, reason, actor: 'test' });
  assert.equal(res.status, 200, res.text);
}

/** `openssl ocsp` as a client of our responder, verifying against the root. */
function opensslOcsp(args: string[]) {
  return opensslAsync(['ocsp', '-issuer', files.sub, '-url', `${stack.ocspUrl}/ocsp`, '-CAfile', files.root, '-verify_other', files.sub, '-resp_text', ...args]);
}

function certIdFor(serial: string, hash: 'sha1' | 'sha256' | 'sha384' | 'sha512' = 'sha256', of: ParsedCertificate = issuer): Buffer {
  const h = issuerHashes(of)[hash];
  return encodeCertId(hash, h.name, h.key, serialFromHex(serial));
}

async function post(body: Buffer, headers: Record<string, string> = { 'content-type': 'application/ocsp-request' }): Promise<{ status: number; headers: Headers; der: Buffer }> {
  const res = await fetch(`${stack.ocspUrl}/ocsp`, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, der: Buffer.from(await res.arrayBuffer()) };
}

before(async () => {
  pki = await makeDevPki();
  stack = await startStack(pki);
  work = mkdtempSync(join(tmpdir(), 'evpki-ocsp-'));
  const root = (await api(stack, 'GET', '/v1/trust-anchors')).body.items[0].certificate as string;
  const subRecord = (await stack.store.getIssuer(pki.manifest.issuers.chargePoint))!;
  issuer = parseCertificate(subRecord.certificate);
  files.root = join(work, 'root.pem');
  files.sub = join(work, 'sub.pem');
  writeFileSync(files.root, root);
  writeFileSync(files.sub, toPem('CERTIFICATE', subRecord.certificate));
});
after(async () => {
  await stack.stop();
  pki.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('OCSP responder with openssl ocsp (RFC 6960, A00.FR.702)', () => {
  let good: Issued;
  let revoked: Issued;
  before(async () => {
    good = await issue();
    revoked = await issue();
    await caRevoke(revoked.serial, 'keyCompromise');
    await stack.ocsp.presigner.runOnce();
  });

  const variants: [string, string[]][] = [
    ['SHA-1 CertID, no nonce', ['-no_nonce']],
    ['SHA-1 CertID, nonce', []],
    ['SHA-256 CertID, no nonce', ['-no_nonce', '-sha256']],
    ['SHA-256 CertID, nonce', ['-sha256']],
  ];
  for (const [label, args] of variants) {
    it(`good, revoked and never issued: ${label}`, async () => {
      const g = await opensslOcsp([...args, '-cert', good.file]);
      assert.match(g.stderr + g.stdout, /Response verify OK/, g.stderr);
      assert.match(g.stdout, new RegExp(`${good.file}: good`));
      if (!args.includes('-no_nonce')) assert.match(g.stdout, /OCSP Nonce/);
      const r = await opensslOcsp([...args, '-cert', revoked.file]);
      assert.match(r.stderr + r.stdout, /Response verify OK/, r.stderr);
      assert.match(r.stdout, new RegExp(`${revoked.file}: revoked`));
      assert.match(r.stdout, /Reason: keyCompromise/);
      const n = await opensslOcsp([...args, '-serial', '0x0123456789abcdef']);
      assert.match(n.stderr + n.stdout, /Response verify OK/, n.stderr);
      assert.match(n.stdout, /0x0123456789abcdef: revoked/);
      assert.match(n.stdout, /Reason: certificateHold/);
      assert.match(n.stdout, /Revocation Time: Jan {2}1 00:00:00 1970 GMT/);
      // OpenSSL's name for id-pkix-ocsp-extended-revoke (1.3.6.1.5.5.7.48.1.9) is "valid".
      assert.match(n.stdout, /Response Extensions:[\s\S]*\n\s*valid:/);
    });
  }

  it('signs with a delegated signer: EKU OCSPSigning, ocsp-nocheck, ResponderID by key, signer included', async () => {
    const r = await post(buildOcspRequest([certIdFor(good.serial)]));
    const parsed = parseOcspResponse(r.der);
    assert.equal(parsed.status, 0);
    const signerCert = parsed.basic!.certs![0]!;
    const signer = parseCertificate(Buffer.from(signerCert.toSchema().toBER()));
    assert.equal(signer.issuer.der.equals(issuer.subject.der), true);
    const oids = signer.extensions.map((e) => e.oid);
    assert.ok(oids.includes(OID.ocspNoCheck));
    assert.ok(signer.extensions.find((e) => e.oid === OID.extKeyUsage)!.value.includes(Buffer.from('2b06010505070309', 'hex')));
    // ResponderID byKey: [2] EXPLICIT OCTET STRING of the SHA-1 of the signer's public key.
    const keyHash = createHash('sha1').update(signer.publicKey).digest();
    assert.ok(r.der.includes(Buffer.concat([Buffer.from([0xa2, 0x16, 0x04, 0x14]), keyHash])));
    assert.ok(await parsed.basic!.verify({ trustedCerts: [pkijs.Certificate.fromBER(new Uint8Array(issuer.der).buffer)] }));
    // The signer is recorded like every certificate the CA signs, and holds no CA key.
    const rec = await stack.store.getCertificate(signer.serialHex);
    assert.equal(rec?.kind, 'OcspSigningCertificate');
    // Issue 14.6: a few days (CA_OCSP_SIGNER_VALIDITY_HOURS, 96 by default): how long a stolen signer key is of use.
    const life = signer.notAfter.getTime() - signer.notBefore.getTime();
    assert.ok(life > 3 * 86400_000 && life <= 96 * 3600_000 + 60_000, `signer lives ${life / 3600_000} h`);
  });

  it('matches SHA-1, SHA-256, SHA-384 and SHA-512 CertIDs and echoes each CertID', async () => {
    for (const hash of ['sha1', 'sha256', 'sha384', 'sha512'] as const) {
      const certId = certIdFor(good.serial, hash);
      const r = await post(buildOcspRequest([certId]));
      const parsed = parseOcspResponse(r.der);
      assert.equal(parsed.singles![0]!.status, 'good', hash);
      assert.ok(r.der.includes(certId), `${hash} CertID echoed`);
    }
  });

  it('answers several CertIDs together, in request order', async () => {
    const r = await post(buildOcspRequest([certIdFor(good.serial), certIdFor(revoked.serial, 'sha1'), certIdFor('42')], Buffer.from('0123456789abcdef')));
    const parsed = parseOcspResponse(r.der);
    assert.deepEqual(parsed.singles!.map((s) => [s.serial, s.status]), [[good.serial, 'good'], [revoked.serial, 'revoked'], ['42', 'revoked']]);
    assert.ok(parsed.extensions!.includes(OID.ocspExtendedRevoke), 'RFC 6960 2.2 extended revoke for the never-issued serial');
    assert.ok(parsed.extensions!.includes(OID.ocspNonce));
    const tooMany = await post(buildOcspRequest(Array.from({ length: OCSP_LIMITS.maxCertIds + 1 }, () => certIdFor(good.serial))));
    assert.equal(parseOcspResponse(tooMany.der).status, 1, 'malformedRequest');
  });

  it('pre-signed responses are served as stored, without signing again', async () => {
    const stored = await stack.store.getOcspResponse(pki.manifest.issuers.chargePoint, good.serial, 'sha256');
    assert.ok(stored, 'pre-signed at issuance');
    assert.ok(await stack.store.getOcspResponse(pki.manifest.issuers.chargePoint, good.serial, 'sha1'));
    const r = await post(buildOcspRequest([certIdFor(good.serial)]));
    assert.deepEqual(r.der, stored.der);
    const parsed = parseOcspResponse(r.der);
    const days = (parsed.singles![0]!.nextUpdate!.getTime() - parsed.singles![0]!.thisUpdate.getTime()) / 86400_000;
    assert.ok(days >= 3 && days <= 7, `nextUpdate ${days} days ahead`);
  });

  it('a nonce of 1..32 octets is echoed in a fresh response; 33 octets is malformedRequest (RFC 8954)', async () => {
    const nonce = Buffer.from('a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90', 'hex');
    const r = await post(buildOcspRequest([certIdFor(good.serial)], nonce));
    assert.ok(r.der.includes(nonce));
    const stored = await stack.store.getOcspResponse(pki.manifest.issuers.chargePoint, good.serial, 'sha256');
    assert.notDeepEqual(r.der, stored!.der);
    assert.equal(parseOcspResponse((await post(buildOcspRequest([certIdFor(good.serial)], Buffer.concat([nonce, Buffer.from([1])])))).der).status, 1);
  });

  it('revocation is visible at once: no stale pre-signed answer after the CA answers', async () => {
    const c = await issue();
    await stack.ocsp.presigner.runOnce();
    const before = await post(buildOcspRequest([certIdFor(c.serial)]));
    assert.equal(parseOcspResponse(before.der).singles![0]!.status, 'good');
    await caRevoke(c.serial, 'cessationOfOperation');
    for (const hash of ['sha1', 'sha256'] as const) {
      const after = parseOcspResponse((await post(buildOcspRequest([certIdFor(c.serial, hash)]))).der);
      assert.equal(after.singles![0]!.status, 'revoked', hash);
    }
    const get = await fetch(`${stack.ocspUrl}/ocsp/${encodeURIComponent(buildOcspRequest([certIdFor(c.serial)]).toString('base64'))}`);
    assert.equal(parseOcspResponse(Buffer.from(await get.arrayBuffer())).singles![0]!.status, 'revoked');
  });

  it('serves the CRL at the distribution point the certificates name; openssl flags the revoked one', async () => {
    const dp = `/crl/${pki.manifest.issuers.chargePoint}.crl`;
    const ext = good.cert.extensions.find((e) => e.oid === OID.crlDistributionPoints)!;
    assert.ok(ext.value.toString('latin1').endsWith(dp), 'CRL DP URL');
    const res = await fetch(stack.ocspUrl + dp);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/pkix-crl');
    const crlDer = join(work, 'cp.crl');
    writeFileSync(crlDer, Buffer.from(await res.arrayBuffer()));
    const v = await opensslAsync(['crl', '-inform', 'DER', '-in', crlDer, '-CAfile', files.sub, '-noout', '-text']);
    assert.match(v.stderr + v.stdout, /verify OK/);
    assert.match(v.stdout, new RegExp(revoked.serial.toUpperCase().replace(/^0+/, '')));
    const crlPem = join(work, 'cp.crl.pem');
    assert.equal((await opensslAsync(['crl', '-inform', 'DER', '-in', crlDer, '-out', crlPem])).code, 0);
    const chk = (leaf: string) => opensslAsync(['verify', '-crl_check', '-CRLfile', crlPem, '-CAfile', files.root, '-untrusted', files.sub, leaf]);
    assert.match((await chk(revoked.file)).stdout + (await chk(revoked.file)).stderr, /certificate revoked/);
    assert.equal((await chk(good.file)).code, 0);
  });

  it('an issuer we do not serve gets unauthorized', async () => {
    const rootCert = parseCertificate(new X509Certificate(readFileSync(files.root)).raw);
    const r = await post(buildOcspRequest([certIdFor(good.serial, 'sha256', rootCert)]));
    assert.equal(parseOcspResponse(r.der).status, 6);
    const o = await opensslAsync(['ocsp', '-issuer', files.root, '-serial', '0x01', '-url', `${stack.ocspUrl}/ocsp`, '-no_nonce']);
    assert.match(o.stdout + o.stderr, /unauthorized \(6\)/);
  });

  it('malformed, truncated and oversized requests get malformedRequest, never an HTTP error', async () => {
    const valid = buildOcspRequest([certIdFor(good.serial)]);
    for (const body of [Buffer.from('not der at all'), valid.subarray(0, valid.length - 3), Buffer.alloc(OCSP_LIMITS.maxRequestBytes + 1000, 0x30), Buffer.concat([valid, Buffer.from([0])])]) {
      const r = await post(body);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'application/ocsp-response');
      assert.equal(parseOcspResponse(r.der).status, 1);
    }
    for (const path of ['/ocsp/%%%', '/ocsp/not*base64', '/ocsp/' + 'A'.repeat(40_000)]) {
      const res = await fetch(stack.ocspUrl + path);
      assert.ok(res.status === 200 || res.status === 431, `${path.slice(0, 20)}: ${res.status}`);
      if (res.status === 200) assert.equal(parseOcspResponse(Buffer.from(await res.arrayBuffer())).status, 1);
    }
    assert.equal(parseOcspResponse((await post(valid, { 'content-type': 'text/plain' })).der).status, 1);
  });
});

describe('OCSP over GET with curl (RFC 6960 A.1, RFC 5019 caching)', () => {
  let good: Issued;
  before(async () => {
    good = await issue();
    await stack.ocsp.presigner.runOnce();
  });

  async function curl(args: string[]): Promise<{ code: number; stdout: string; headers: string }> {
    const headersFile = join(work, `h-${Math.random()}`);
    const { spawn } = await import('node:child_process');
    return new Promise((resolve) => {
      const out: Buffer[] = [];
      const child = spawn('curl', ['-s', '-D', headersFile, ...args]);
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('latin1'), headers: readFileSync(headersFile, 'utf8') }));
    });
  }

  it('returns the same status as POST with caching headers, and 304 for If-None-Match', async () => {
    const req = buildOcspRequest([certIdFor(good.serial)]);
    const respFile = join(work, 'get.der');
    const c = await curl(['-o', respFile, `${stack.ocspUrl}/ocsp/${encodeURIComponent(req.toString('base64'))}`]);
    assert.equal(c.code, 0);
    const der = readFileSync(respFile);
    assert.deepEqual(der, (await post(req)).der);
    assert.equal(parseOcspResponse(der).singles![0]!.status, 'good');
    assert.match(c.headers, /content-type: application\/ocsp-response/i);
    const maxAge = Number(/max-age=(\d+), public, no-transform, must-revalidate/i.exec(c.headers)?.[1]);
    const parsed = parseOcspResponse(der).singles![0]!;
    assert.ok(maxAge > 0 && maxAge * 1000 <= parsed.nextUpdate!.getTime() - Date.now() + 2000, `max-age ${maxAge}`);
    const etag = /etag: (".*")/i.exec(c.headers)?.[1];
    assert.ok(etag);
    assert.match(c.headers, /last-modified: /i);
    assert.match(c.headers, /expires: /i);
    const v = await opensslAsync(['ocsp', '-respin', respFile, '-issuer', files.sub, '-CAfile', files.root, '-verify_other', files.sub, '-resp_text', '-cert', good.file, '-no_nonce']);
    assert.match(v.stderr + v.stdout, /Response verify OK/);
    const again = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', `If-None-Match: ${etag}`, `${stack.ocspUrl}/ocsp/${encodeURIComponent(req.toString('base64'))}`]);
    assert.equal(again.stdout, '304');
    // RFC 9110 13.1.2: a list, the weak comparison and * fail the condition too (304); a tag of
    // another answer, or a field that is no list of entity tags, does not (200, the answer).
    for (const [field, status] of [
      [`"other", ${etag}`, '304'],
      [`W/${etag}`, '304'],
      ['*', '304'],
      ['"other"', '200'],
      [etag.slice(1, -1), '200'],
    ] as const) {
      const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', `If-None-Match: ${field}`, `${stack.ocspUrl}/ocsp/${encodeURIComponent(req.toString('base64'))}`]);
      assert.equal(r.stdout, status, `If-None-Match: ${field}`);
    }
  });

  it('If-None-Match is read as RFC 9110 13.1.2 says: a list of entity tags, weak comparison, or *', () => {
    const etag = '"4f2a"';
    for (const field of ['"4f2a"', '*', ' * ', 'W/"4f2a"', '"a", "4f2a"', '"a",W/"4f2a" ,"b"', '"a,b", "4f2a"', ', "4f2a"']) assert.equal(noneMatchFails(field, etag), true, field);
    for (const field of ['', '"4f2a', '4f2a', '"4F2A"', '"a", "b"', '"a" "4f2a"', 'w/"4f2a"', '"a,4f2a"', '**']) assert.equal(noneMatchFails(field, etag), false, field);
    assert.equal(noneMatchFails('"4f2a"', 'W/"4f2a"'), true, 'a weak tag of ours matches too');
  });

  it('accepts the unencoded form with / and + in the path', async () => {
    // Find a request whose base64 has both characters by varying the nonce-free SHA-1/256 serials.
    let b64 = '';
    for (let i = 0; !(b64.includes('/') && b64.includes('+')); i++) b64 = buildOcspRequest([certIdFor((0x1000 + i).toString(16))]).toString('base64');
    const res = await fetch(`${stack.ocspUrl}/ocsp/${b64}`);
    const parsed = parseOcspResponse(Buffer.from(await res.arrayBuffer()));
    assert.equal(parsed.status, 0);
    assert.equal(parsed.singles![0]!.status, 'revoked', 'never issued');
  });

  it('error responses are not cacheable', async () => {
    const c = await curl(['-o', '/dev/null', `${stack.ocspUrl}/ocsp/AAAA`]);
    assert.match(c.headers, /cache-control: no-store/i);
    assert.doesNotMatch(c.headers, /etag/i);
  });

  it('serves the issuer certificate at the AIA caIssuers URL', async () => {
    const res = await fetch(`${stack.ocspUrl}/issuers/${pki.manifest.issuers.chargePoint}.der`);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), issuer.der);
  });
});

describe('OCSP responder configuration and failures', () => {
  it('OCSP_NON_ISSUED=unknown answers unknown for a serial never issued', async () => {
    const quiet = createLogger('test', 'silent');
    const svc = createOcspService(
      loadOcspConfig({ PKI_DATA_DIR: pki.dataDir, OCSP_PORT: '0', OCSP_CA_URL: stack.caUrl, OCSP_NON_ISSUED: 'unknown' }),
      { caTls: readServiceTls(pki.dataDir, 'ocsp-client') },
      { store: stack.store, logger: quiet },
    );
    const { port } = await svc.start();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/ocsp`, { method: 'POST', body: buildOcspRequest([certIdFor('77')]) });
      const parsed = parseOcspResponse(Buffer.from(await res.arrayBuffer()));
      assert.equal(parsed.singles![0]!.status, 'unknown');
      assert.ok(!parsed.extensions!.includes(OID.ocspExtendedRevoke));
    } finally {
      await svc.stop();
    }
  });

  it('a store that cannot answer gives tryLater, not HTTP 500 or a hang', async () => {
    const quiet = createLogger('test', 'silent');
    const store = openStore({ dataDir: pki.dataDir });
    const svc = createOcspService(
      loadOcspConfig({ PKI_DATA_DIR: pki.dataDir, OCSP_PORT: '0', OCSP_CA_URL: stack.caUrl }),
      { caTls: readServiceTls(pki.dataDir, 'ocsp-client') },
      { store, logger: quiet },
    );
    const { port } = await svc.start();
    try {
      await store.close();
      for (const body of [buildOcspRequest([certIdFor('abcdef')]), buildOcspRequest([certIdFor('abcdef')], Buffer.from('nonce'))]) {
        const res = await fetch(`http://127.0.0.1:${port}/ocsp`, { method: 'POST', body, signal: AbortSignal.timeout(10_000) });
        assert.equal(res.status, 200);
        assert.equal(parseOcspResponse(Buffer.from(await res.arrayBuffer())).status, 3, 'tryLater');
      }
    } finally {
      await svc.stop();
    }
  });
});

describe('HEAD and other methods (issue 14.11)', () => {
  /** One request over a raw socket (Connection: close): the status, the headers and every byte after them. */
  async function raw(base: string, method: string, path: string): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const { connect } = await import('node:net');
    const url = new URL(base);
    const data = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const s = connect(Number(url.port), url.hostname, () => s.write(`${method} ${path} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
    });
    const end = data.indexOf('\r\n\r\n');
    const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    return { status: Number(statusLine!.split(' ')[1]), headers, body: data.subarray(end + 4) };
  }

  it('issue 14.11: HEAD is answered like GET without the body on every GET route of the responder and the CA ops port (curl -I, raw HTTP)', async () => {
    const good = await issue();
    await stack.ocsp.presigner.runOnce();
    const id = pki.manifest.issuers.chargePoint;
    const ocspGet = `/ocsp/${encodeURIComponent(buildOcspRequest([certIdFor(good.serial)]).toString('base64'))}`;
    const routes: [string, string][] = [
      ...['/healthz', '/readyz', '/metrics', `/issuers/${id}.der`, `/crl/${id}.crl`, ocspGet].map((p): [string, string] => [stack.ocspUrl, p]),
      ...['/healthz', '/readyz', '/metrics'].map((p): [string, string] => [stack.caOpsUrl, p]),
    ];
    const { execFile } = await import('node:child_process');
    for (const [base, path] of routes) {
      const get = await raw(base, 'GET', path);
      const head = await raw(base, 'HEAD', path);
      const what = `HEAD ${base}${path.slice(0, 40)}`;
      assert.equal(get.status, 200, `GET ${path}`);
      assert.equal(head.status, get.status, what);
      assert.equal(head.body.length, 0, `${what}: no body`);
      assert.equal(head.headers['content-type'], get.headers['content-type'], what);
      assert.equal(head.headers['cache-control'], get.headers['cache-control'], what);
      // /metrics counts the requests themselves: its length moves between two calls.
      if (path !== '/metrics') assert.equal(head.headers['content-length'], String(get.body.length), `${what}: the GET body's length`);
      else assert.ok(Number(head.headers['content-length']) > 0, what);
      const curl = await new Promise<string>((resolve) => execFile('curl', ['-sI', `${base}${path}`], (_e, stdout) => resolve(stdout)));
      assert.match(curl, /^HTTP\/1\.1 200 /, `curl -I ${path}: ${curl}`);
      if (path !== '/metrics') assert.match(curl, new RegExp(`^content-length: ${get.body.length}\\r?$`, 'mi'), `curl -I ${path}`);
    }
    assert.equal((await raw(stack.ocspUrl, 'HEAD', '/crl/nope.crl')).status, 404);
  });

  it('issue 14.11: other methods get 405 with Allow (POST stays on /ocsp and /, RFC 6960 A.1)', async () => {
    const id = pki.manifest.issuers.chargePoint;
    const cases: [string, string, string, string][] = [
      [stack.ocspUrl, 'PUT', '/ocsp', 'POST'],
      [stack.ocspUrl, 'DELETE', '/', 'POST'],
      [stack.ocspUrl, 'GET', '/ocsp', 'POST'],
      [stack.ocspUrl, 'PATCH', '/ocsp/AAAA', 'GET, HEAD, POST'],
      [stack.ocspUrl, 'POST', '/healthz', 'GET, HEAD'],
      [stack.ocspUrl, 'DELETE', `/crl/${id}.crl`, 'GET, HEAD'],
      [stack.ocspUrl, 'OPTIONS', `/issuers/${id}.der`, 'GET, HEAD'],
      [stack.caOpsUrl, 'POST', '/readyz', 'GET, HEAD'],
      [stack.caOpsUrl, 'DELETE', '/metrics', 'GET, HEAD'],
    ];
    for (const [base, method, path, allow] of cases) {
      const r = await raw(base, method, path);
      assert.equal(r.status, 405, `${method} ${path}: ${r.body.toString()}`);
      assert.equal(r.headers.allow, allow, `${method} ${path}`);
      assert.match(r.headers['content-type'] ?? '', /^application\/problem\+json/);
    }
    assert.equal((await raw(stack.ocspUrl, 'PUT', '/nope')).status, 404);
    assert.equal((await raw(stack.caOpsUrl, 'POST', '/v1/sign')).status, 404);
    const postOcsp = await post(buildOcspRequest([certIdFor('1234')]));
    assert.equal(parseOcspResponse(postOcsp.der).status, 0, 'POST /ocsp still answers');
  });
});
