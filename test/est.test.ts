/**
 * EST (RFC 7030) for ISO 15118 SECC certificates: /.well-known/est/cacerts and simpleenroll /
 * simplereenroll, asked with curl, CSRs by `openssl req` (DC=CPO, CN a registered SECC-ID), answers
 * read by `openssl pkcs7 -print_certs` and the leaf checked by `openssl verify -x509_strict` against
 * the chain of cacerts. Tokens come from POST /oauth/token (an OAuth2 client of `pki clients add`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openssl } from './helpers/openssl.js';
import { api, makeDevPki, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { runPki } from './helpers/processes.js';

const run = promisify(execFile);
let pki: DevPki;
let stack: Stack;
let work: string;
let token: string;
let otherToken: string;

interface Answer {
  status: number;
  headers: string;
  body: string;
}
/** curl -i, the body as text. */
async function curl(args: string[]): Promise<Answer> {
  const { stdout } = await run('curl', ['-sS', '-i', ...args], { maxBuffer: 1 << 20 });
  const split = stdout.indexOf('\r\n\r\n');
  return { status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(stdout)![1]), headers: stdout.slice(0, split).toLowerCase(), body: stdout.slice(split + 4) };
}

async function cli(args: string[]): Promise<any> {
  const r = await runPki([...args, '--data-dir', pki.dataDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function clientToken(tenant: string): Promise<string> {
  const c = await cli(['clients', 'add', '--tenant', tenant, '--scope', 'certificates:sign']);
  const r = await curl([`${stack.raUrl}/oauth/token`, '-u', `${c.clientId}:${c.clientSecret}`, '-d', 'grant_type=client_credentials']);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body).access_token as string;
}

/** An SECC's key and CSR by openssl; the CSR as EST sends it: base64 DER (with line breaks). */
function csrBase64(name: string, subject: string): string {
  const key = join(work, `${name}.key`);
  const der = join(work, `${name}.csr.der`);
  assert.equal(openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]).code, 0);
  const r = openssl(['req', '-new', '-key', key, '-subj', subject, '-sha256', '-outform', 'DER', '-out', der]);
  assert.equal(r.code, 0, r.stderr);
  return readFileSync(der).toString('base64').replace(/.{64}/g, '$&\r\n');
}

/** The certificates of a base64 certs-only PKCS#7, as openssl prints them (PEM). */
function printCerts(name: string, base64: string): string {
  const p7 = join(work, `${name}.p7b`);
  writeFileSync(p7, Buffer.from(base64, 'base64'));
  const r = openssl(['pkcs7', '-print_certs', '-inform', 'DER', '-in', p7]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

const enroll = (body: string, opts: { token?: string; type?: string; path?: string } = {}) =>
  curl([
    `${stack.raUrl}${opts.path?.startsWith('/') ? opts.path : `/.well-known/est/${opts.path ?? 'simpleenroll'}`}`,
    '-H',
    `content-type: ${opts.type ?? 'application/pkcs10'}`,
    ...(opts.token === '' ? [] : ['-H', `authorization: Bearer ${opts.token ?? token}`]),
    '--data-binary',
    body,
  ]);

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'evpki-est-'));
  pki = await makeDevPki();
  await cli(['v2g', 'init']);
  await cli(['tenants', 'add', '--id', 'demo', '--update', '--operator-id', 'DE*ABC']);
  await cli(['tenants', 'add', '--id', 'other', '--cpo-name', 'Other CPO', '--operator-id', 'DE*XYZ']);
  stack = await startStack(pki);
  const put = await api(stack, 'PUT', '/v1/stations/evse-1', { serialNumber: 'EVSE-0001', allowed: true, seccIds: ['DE*ABC*E123456', 'DE*ABC*E777'] });
  assert.equal(put.status, 201, put.text);
  token = await clientToken('demo');
  otherToken = await clientToken('other');
});
after(async () => {
  await stack?.stop();
  pki?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('EST (RFC 7030) for SECC certificates', () => {
  it('cacerts: a certs-only PKCS#7 (application/pkcs7-mime) of Sub-CA 2, Sub-CA 1 and the V2G root, without authentication', async () => {
    const r = await curl([`${stack.raUrl}/.well-known/est/cacerts`]);
    assert.equal(r.status, 200, r.body);
    assert.match(r.headers, /content-type: application\/pkcs7-mime/);
    const subjects = [...printCerts('cacerts', r.body).matchAll(/^subject=(.*)$/gm)].map((m) => m[1]!);
    assert.equal(subjects.length, 3);
    assert.match(subjects[0]!, /CPO Sub-CA 2/);
    assert.match(subjects[1]!, /CPO Sub-CA 1/);
    assert.match(subjects[2]!, /V2G Root/i);
  });

  for (const path of ['simpleenroll', 'simplereenroll']) {
    it(`${path}: base64 CSR with CR/LF → 200 certs-only PKCS#7 of the leaf, which openssl verify -x509_strict accepts with the chain of cacerts`, async () => {
      const cn = path === 'simpleenroll' ? 'DE*ABC*E123456' : 'DEABCE777';
      const r = await enroll(csrBase64(path, `/CN=${cn}/O=Demo CPO/C=DE/DC=CPO`), { path });
      assert.equal(r.status, 200, r.body);
      assert.match(r.headers, /content-type: application\/pkcs7-mime; smime-type=certs-only/);
      const leafPem = printCerts(`${path}-leaf`, r.body);
      assert.equal([...leafPem.matchAll(/BEGIN CERTIFICATE/g)].length, 1);
      assert.match(leafPem, new RegExp(`subject=CN\\s?=\\s?${cn.replace(/\*/g, '\\*')}`));
      const chainPem = printCerts(`${path}-chain`, (await curl([`${stack.raUrl}/.well-known/est/cacerts`])).body);
      const blocks = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)!;
      const files = { leaf: join(work, `${path}-leaf.pem`), subs: join(work, `${path}-subs.pem`), root: join(work, `${path}-root.pem`) };
      writeFileSync(files.leaf, leafPem);
      writeFileSync(files.subs, blocks[0] + blocks[1]);
      writeFileSync(files.root, blocks[2]!);
      const v = openssl(['verify', '-x509_strict', '-CAfile', files.root, '-untrusted', files.subs, files.leaf]);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      // Recorded under the station that has the SECC-ID.
      const listed = await api(stack, 'GET', '/v1/stations/evse-1/certificates');
      assert.ok(listed.body.items.some((c: { certificateType: string }) => c.certificateType === 'V2GCertificate'));
    });
  }

  it('refusals: no token 401 with WWW-Authenticate, wrong media type 415, bad base64 400, no CSR 400', async () => {
    const csr = csrBase64('refused', '/CN=DE*ABC*E123456/O=Demo CPO/DC=CPO');
    const none = await enroll(csr, { token: '' });
    assert.equal(none.status, 401);
    assert.match(none.headers, /www-authenticate: bearer/);
    assert.equal((await enroll(csr, { token: 'not.a.jwt' })).status, 401);
    assert.equal((await enroll(csr, { type: 'application/json' })).status, 415);
    assert.equal((await enroll('%%% not base64 %%%')).status, 400);
    assert.equal((await enroll(Buffer.from('no csr at all').toString('base64'))).status, 400);
  });

  it("another tenant's client cannot enrol this tenant's SECC-ID; an unregistered SECC-ID is refused (PnC-4.3); nothing is issued", async () => {
    const before = (await api(stack, 'GET', '/v1/stations/evse-1/certificates')).body.items.length;
    const other = await enroll(csrBase64('other', '/CN=DE*ABC*E123456/O=Demo CPO/DC=CPO'), { token: otherToken });
    assert.equal(other.status, 422, other.body);
    assert.match(other.body, /PnC-4\.3/);
    const unknown = await enroll(csrBase64('unknown', '/CN=DE*ABC*E999/O=Demo CPO/DC=CPO'));
    assert.equal(unknown.status, 422, unknown.body);
    assert.match(unknown.body, /PnC-4\.3/);
    // The V2G rules apply as for the JSON API: no DC=CPO.
    const noDc = await enroll(csrBase64('no-dc', '/CN=DE*ABC*E123456/O=Demo CPO'));
    assert.equal(noDc.status, 422, noDc.body);
    assert.match(noDc.body, /V2G\.dc-cpo/);
    assert.equal((await api(stack, 'GET', '/v1/stations/evse-1/certificates')).body.items.length, before);
  });

  it('OPCP aliases: /.well-known/cpo/cacerts (root last) and /.well-known/cpo/simpleenroll answer as the EST paths; GET /v1/root/rootCerts lists the V2G root (base64 DER)', async () => {
    const cpo = await curl([`${stack.raUrl}/.well-known/cpo/cacerts`]);
    assert.equal(cpo.status, 200);
    assert.equal(cpo.body, (await curl([`${stack.raUrl}/.well-known/est/cacerts`])).body);
    const enrolled = await enroll(csrBase64('cpo', '/CN=DE*ABC*E123456/O=Demo CPO/DC=CPO'), { path: '/.well-known/cpo/simpleenroll' });
    assert.equal(enrolled.status, 200, enrolled.body);
    assert.equal([...printCerts('cpo-leaf', enrolled.body).matchAll(/BEGIN CERTIFICATE/g)].length, 1);

    const roots = await api(stack, 'GET', '/v1/root/rootCerts');
    assert.equal(roots.status, 200, roots.text);
    const [root] = roots.body.RootCertificateCollection.rootCertificates;
    assert.equal(roots.body.RootCertificateCollection.rootCertificates.length, 1);
    assert.equal(root.rootType, 'V2G');
    const v2gRoot = (await api(stack, 'GET', '/v1/trust-anchors?hierarchy=v2g')).body.items[0];
    assert.equal(root.rootCertificateId, v2gRoot.id);
    assert.equal(root.caCertificate, v2gRoot.certificate.replace(/-----[A-Z ]+-----|\s/g, ''));
    assert.deepEqual((await api(stack, 'GET', '/v1/root/rootCerts?rootType=MO')).body, { RootCertificateCollection: { rootCertificates: [] } });
    assert.equal((await api(stack, 'GET', '/v1/root/rootCerts?rootType=x')).status, 400);
    assert.equal((await api(stack, 'GET', '/v1/root/rootCerts', undefined, { authorization: '' })).status, 401);
  });

  it('OPNC form: /opnc/v1/pki/est/simpleenroll and cacerts with caDomain=cpo&iso15118Version=ISO15118-2 answer as the EST paths; another domain or ISO 15118-20 is 400 naming its rule', async () => {
    const q = '?caDomain=cpo&iso15118Version=ISO15118-2';
    const cacerts = await curl([`${stack.raUrl}/opnc/v1/pki/est/cacerts${q}`]);
    assert.equal(cacerts.status, 200, cacerts.body);
    assert.equal(cacerts.body, (await curl([`${stack.raUrl}/.well-known/est/cacerts`])).body);
    const enrolled = await enroll(csrBase64('opnc', '/CN=DE*ABC*E123456/O=Demo CPO/DC=CPO'), { path: `/opnc/v1/pki/est/simpleenroll${q}` });
    assert.equal(enrolled.status, 200, enrolled.body);
    assert.equal([...printCerts('opnc-leaf', enrolled.body).matchAll(/BEGIN CERTIFICATE/g)].length, 1);
    const mo = await enroll(csrBase64('opnc-mo', '/CN=DE*ABC*E123456/O=Demo CPO/DC=CPO'), { path: '/opnc/v1/pki/est/simpleenroll?caDomain=mo&iso15118Version=ISO15118-2' });
    assert.equal(mo.status, 400, mo.body);
    assert.match(mo.body, /EST\.ca-domain/);
    const v20 = await curl([`${stack.raUrl}/opnc/v1/pki/est/cacerts?caDomain=cpo&iso15118Version=ISO15118-20`]);
    assert.equal(v20.status, 400, v20.body);
    assert.match(v20.body, /EST\.iso15118-version/);
    const missing = await curl([`${stack.raUrl}/opnc/v1/pki/est/cacerts`]);
    assert.equal(missing.status, 400, missing.body);
    assert.match(missing.body, /EST\.ca-domain/);
  });

  it('csrattrs (RFC 7030 4.5): base64 DER CsrAttrs, no authentication; openssl asn1parse reads ecdsa-with-SHA256, id-ecPublicKey on prime256v1 and DC=CPO', async () => {
    const r = await curl([`${stack.raUrl}/.well-known/est/csrattrs`]);
    assert.equal(r.status, 200, r.body);
    assert.match(r.headers, /content-type: application\/csrattrs/);
    const der = join(work, 'csrattrs.der');
    writeFileSync(der, Buffer.from(r.body.replace(/\s+/g, ''), 'base64'));
    const parsed = openssl(['asn1parse', '-inform', 'DER', '-in', der]);
    assert.equal(parsed.code, 0, parsed.stderr);
    const lines = parsed.stdout.split('\n').filter(Boolean).map((l) => l.replace(/^\s*\d+:d=(\d+).*?:\s*/, '$1 ').replace(/\s+$/, ''));
    assert.deepEqual(lines, [
      '0 SEQUENCE',
      '1 OBJECT            :ecdsa-with-SHA256',
      '1 SEQUENCE',
      '2 OBJECT            :id-ecPublicKey',
      '2 SET',
      '3 OBJECT            :prime256v1',
      '1 SEQUENCE',
      '2 OBJECT            :domainComponent',
      '2 SET',
      '3 IA5STRING         :CPO',
    ]);
    // A CSR made to these attributes is enrolled.
    const enrolled = await enroll(csrBase64('attrs', '/CN=DE*ABC*E777/O=Demo CPO/DC=CPO'));
    assert.equal(enrolled.status, 200, enrolled.body);
  });

  it('request metrics label the EST routes and POST /oauth/token by their path, not "unmatched"', async () => {
    const text = (await curl([`${stack.raUrl}/metrics`])).body;
    for (const route of ['GET /.well-known/est/cacerts', 'GET /.well-known/est/csrattrs', 'POST /.well-known/est/simpleenroll', 'POST /.well-known/est/simplereenroll', 'GET /.well-known/cpo/cacerts', 'POST /.well-known/cpo/simpleenroll', 'POST /oauth/token'])
      assert.match(text, new RegExp(`pki_ra_http_requests_total\\{route="${route.replace(/[./]/g, '\\$&')}",status="\\d+"\\} [1-9]`), route);
  });
});
