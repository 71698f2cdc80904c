/**
 * EST simplereenroll authenticated by the SECC's current certificate as a TLS client certificate
 * (RFC 7030 3.3.2, 4.2.2) on the RA's own HTTPS listener (RA_TLS_CERT_FILE): real TLS with curl
 * `--cert` and `openssl s_client`, the first certificate from simpleenroll with an OAuth2 token, then
 * re-enrolments with the certificate alone; every refusal names its rule (EST.secc-certificate,
 * EST.reenroll-subject, PnC-4.3).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openssl, opensslAsync } from './helpers/openssl.js';
import { makeDevPki, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { runPki } from './helpers/processes.js';

const exec = promisify(execFile);
let pki: DevPki;
let stack: Stack;
let work: string;
let adminToken: string;
let clientToken: string;

function run(args: string[]): string {
  const r = openssl(args);
  assert.equal(r.code, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Answer {
  status: number;
  body: string;
}
/** curl over the RA's HTTPS (trusting the test CA), -w the status after the body. */
async function curl(path: string, args: string[]): Promise<Answer> {
  const { stdout } = await exec('curl', ['-sS', '--cacert', join(work, 'tls-ca.pem'), '-w', '\n%{http_code}', ...args, `${stack.raUrl}${path}`], { maxBuffer: 1 << 20 });
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

async function cli(args: string[]): Promise<any> {
  const r = await runPki([...args, '--data-dir', pki.dataDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** An SECC key `name`.key and its CSR, base64 DER as EST sends it. */
function csr(name: string, subject: string): string {
  const key = join(work, `${name}.key`);
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  run(['req', '-new', '-key', key, '-subj', subject, '-sha256', '-outform', 'DER', '-out', join(work, `${name}.csr.der`)]);
  return readFileSync(join(work, `${name}.csr.der`)).toString('base64');
}

/** The leaf of a base64 certs-only PKCS#7 answer, written to `name`.pem. */
function leafOf(name: string, base64: string): string {
  writeFileSync(join(work, `${name}.p7b`), Buffer.from(base64, 'base64'));
  const pem = run(['pkcs7', '-print_certs', '-inform', 'DER', '-in', join(work, `${name}.p7b`)]);
  writeFileSync(join(work, `${name}.pem`), pem);
  return join(work, `${name}.pem`);
}

const estPost = (path: string, body: string, auth: string[]) => curl(`/.well-known/est/${path}`, ['-H', 'content-type: application/pkcs10', ...auth, '--data-binary', body]);
/** Enrols a first SECC certificate for `cn` with the OAuth2 token: key `name`.key, certificate `name`.pem. */
async function firstCertificate(name: string, cn: string): Promise<string> {
  const r = await estPost('simpleenroll', csr(name, `/CN=${cn}/O=Demo CPO/DC=CPO`), ['-H', `authorization: Bearer ${clientToken}`]);
  assert.equal(r.status, 200, r.body);
  return leafOf(name, r.body);
}
const withCert = (name: string) => ['--cert', join(work, `${name}.pem`), '--key', join(work, `${name}.key`)];
const putStation = (id: string, body: unknown) =>
  curl(`/v1/stations/${id}`, ['-X', 'PUT', '-H', `authorization: Bearer ${adminToken}`, '-H', 'content-type: application/json', '--data', JSON.stringify(body)]);

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'evpki-est-tls-'));
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(work, 'tls-ca.key'), '-out', join(work, 'tls-ca.pem'), '-subj', '/CN=RA TLS test CA', '-days', '2']);
  writeFileSync(join(work, 'ra.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  run(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(work, 'ra.key'), '-out', join(work, 'ra.csr'), '-subj', '/CN=ra']);
  run(['x509', '-req', '-in', join(work, 'ra.csr'), '-CA', join(work, 'tls-ca.pem'), '-CAkey', join(work, 'tls-ca.key'), '-CAcreateserial', '-days', '2', '-extfile', join(work, 'ra.ext'), '-out', join(work, 'ra.pem')]);
  pki = await makeDevPki();
  await cli(['v2g', 'init']);
  await cli(['tenants', 'add', '--id', 'demo', '--update', '--operator-id', 'DE*ABC']);
  stack = await startStack(pki, { raEnv: { RA_TLS_CERT_FILE: join(work, 'ra.pem'), RA_TLS_KEY_FILE: join(work, 'ra.key') } });
  adminToken = await stack.token('demo');
  const put = await putStation('evse-1', { serialNumber: 'EVSE-0001', allowed: true, seccIds: ['DE*ABC*E1', 'DE*ABC*E2', 'DE*ABC*E3', 'DE*ABC*E4'] });
  assert.equal(put.status, 201, put.body);
  const c = await cli(['clients', 'add', '--tenant', 'demo', '--scope', 'certificates:sign']);
  const t = await curl('/oauth/token', ['-u', `${c.clientId}:${c.clientSecret}`, '-d', 'grant_type=client_credentials']);
  clientToken = JSON.parse(t.body).access_token;
});
after(async () => {
  await stack?.stop();
  pki?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('EST simplereenroll with the SECC certificate as TLS client certificate (RFC 7030 3.3.2, 4.2.2)', () => {
  it('the handshake asks for a client certificate and accepts a connection without one (openssl s_client)', async () => {
    const r = await opensslAsync(['s_client', '-connect', stack.raUrl.replace('https://', ''), '-CAfile', join(work, 'tls-ca.pem'), '-ign_eof'], 'GET /healthz HTTP/1.0\r\n\r\n');
    assert.match(r.stdout, /Verify return code: 0 \(ok\)/, r.stdout + r.stderr);
    // The server's CertificateRequest: s_client prints the signature algorithms it asked a client certificate in.
    assert.match(r.stdout, /Requested Signature Algorithms/);
    assert.match(r.stdout, /HTTP\/1\.[01] 200/);
  });

  it('re-enrolment with the current certificate, no token: a new certificate for the same SECC-ID and station, which verifies to the V2G root; it authenticates the next one', async () => {
    const first = await firstCertificate('e1', 'DE*ABC*E1');
    const r = await estPost('simplereenroll', csr('e1-next', '/CN=DE*ABC*E1/O=Demo CPO/DC=CPO'), withCert('e1'));
    assert.equal(r.status, 200, r.body);
    const next = leafOf('e1-next', r.body);
    assert.match(run(['x509', '-in', next, '-noout', '-subject']), /CN\s?=\s?DE\*ABC\*E1/);
    assert.notEqual(run(['x509', '-in', next, '-noout', '-serial']), run(['x509', '-in', first, '-noout', '-serial']));
    const chain = await curl('/.well-known/est/cacerts', []);
    const blocks = readFileSync(leafOf('cacerts', chain.body), 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];
    assert.equal(blocks.length, 3);
    writeFileSync(join(work, 'subs.pem'), blocks[0] + blocks[1]);
    writeFileSync(join(work, 'root.pem'), blocks[2]!);
    const v = openssl(['verify', '-x509_strict', '-CAfile', join(work, 'root.pem'), '-untrusted', join(work, 'subs.pem'), next]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const listed = JSON.parse((await curl('/v1/stations/evse-1/certificates', ['-H', `authorization: Bearer ${adminToken}`])).body);
    assert.equal(listed.items.filter((c: { certificateType: string }) => c.certificateType === 'V2GCertificate').length >= 2, true);
    const again = await estPost('simplereenroll', csr('e1-third', '/CN=DE*ABC*E1/O=Demo CPO/DC=CPO'), withCert('e1-next'));
    assert.equal(again.status, 200, again.body);
  });

  it('another subject than the certificate\'s: 422 EST.reenroll-subject, even a SECC-ID of the same station', async () => {
    await firstCertificate('e2', 'DE*ABC*E2');
    const r = await estPost('simplereenroll', csr('e2-other', '/CN=DE*ABC*E3/O=Demo CPO/DC=CPO'), withCert('e2'));
    assert.equal(r.status, 422, r.body);
    assert.match(r.body, /EST\.reenroll-subject/);
  });

  it('refused with 401 EST.secc-certificate: a certificate we did not issue, a revoked one, one whose SECC-ID was unregistered; and simpleenroll never takes a certificate', async () => {
    // Not ours: a self-signed look-alike of the same subject.
    run(['req', '-x509', '-key', join(work, 'e2.key'), '-subj', '/CN=DE*ABC*E2/O=Demo CPO/DC=CPO', '-days', '1', '-out', join(work, 'fake.pem')]);
    const fake = await estPost('simplereenroll', csr('fake-next', '/CN=DE*ABC*E2/O=Demo CPO/DC=CPO'), ['--cert', join(work, 'fake.pem'), '--key', join(work, 'e2.key')]);
    assert.equal(fake.status, 401, fake.body);
    assert.match(fake.body, /EST\.secc-certificate.*did not issue/);

    const e4 = await firstCertificate('e4', 'DE*ABC*E4');
    const serial = run(['x509', '-in', e4, '-noout', '-serial']).trim().split('=')[1]!.toLowerCase().replace(/^0+/, '');
    const revoked = await curl(`/v1/certificates/${serial}/revoke`, ['-X', 'POST', '-H', `authorization: Bearer ${adminToken}`, '-H', 'content-type: application/json', '--data', '{"reason":"keyCompromise"}']);
    assert.equal(revoked.status, 200, revoked.body);
    const afterRevoke = await estPost('simplereenroll', csr('e4-next', '/CN=DE*ABC*E4/O=Demo CPO/DC=CPO'), withCert('e4'));
    assert.equal(afterRevoke.status, 401, afterRevoke.body);
    assert.match(afterRevoke.body, /EST\.secc-certificate.*revoked/);

    await firstCertificate('e3', 'DE*ABC*E3');
    const put = await putStation('evse-1', { serialNumber: 'EVSE-0001', allowed: true, seccIds: ['DE*ABC*E1', 'DE*ABC*E2'] });
    assert.equal(put.status, 200, put.body);
    const unregistered = await estPost('simplereenroll', csr('e3-next', '/CN=DE*ABC*E3/O=Demo CPO/DC=CPO'), withCert('e3'));
    assert.equal(unregistered.status, 401, unregistered.body);
    assert.match(unregistered.body, /EST\.secc-certificate.*no longer registered/);

    const enrolByCert = await estPost('simpleenroll', csr('e1-enrol', '/CN=DE*ABC*E1/O=Demo CPO/DC=CPO'), withCert('e1'));
    assert.equal(enrolByCert.status, 401, 'simpleenroll needs the token');
  });

  it('a bearer token wins over a presented certificate (the CSMS path), and without either: 401', async () => {
    const both = await estPost('simplereenroll', csr('e2-token', '/CN=DE*ABC*E2/O=Demo CPO/DC=CPO'), [...withCert('e4'), '-H', `authorization: Bearer ${clientToken}`]);
    assert.equal(both.status, 200, both.body);
    const neither = await estPost('simplereenroll', csr('e2-none', '/CN=DE*ABC*E2/O=Demo CPO/DC=CPO'), []);
    assert.equal(neither.status, 401);
  });
});
