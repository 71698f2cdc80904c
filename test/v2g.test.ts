/**
 * ISO 15118 Plug&Charge, first part: `pki v2g init` makes the V2G hierarchy (V2G root → CPO Sub-CA 1 →
 * CPO Sub-CA 2), the RA and CA issue SECC certificates (V2GCertificate) under CPO Sub-CA 2 for
 * registered SECC-IDs, and every V2G rule refuses with its ID (libs/policy v2g-rules.ts). The real
 * CLI in its own process, CSRs by the openssl CLI, chains verified by `openssl verify -x509_strict`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certify, issuerFacts, seccLeaf } from '@evpki/issuance';
import { fileSigner, generateIssuerKey } from '@evpki/keys';
import { AppError } from '@evpki/service';
import { openStore } from '@evpki/store';
import { certificateHashData, csrFromPem, inspectSpki, parseCertificate, pemBlocks, toPem } from '@evpki/x509';
import { openssl, opensslAsync } from './helpers/openssl.js';
import { api, makeDevPki, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { runPki } from './helpers/processes.js';

let pki: DevPki;
let stack: Stack;
let work: string;
let ids: { root: string; subCa1: string; subCa2: string };

async function cli(args: string[]): Promise<{ code: number; stderr: string; json: any }> {
  const r = await runPki([...args, '--data-dir', pki.dataDir, '--json']);
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { code: r.code, stderr: r.stderr, json };
}

/** A key and CSR made by the openssl CLI, as an SECC would. */
function opensslCsr(name: string, keyArgs: readonly string[], subject: string): string {
  const key = join(work, `${name}.key`);
  const csr = join(work, `${name}.csr`);
  assert.equal(openssl(['genpkey', ...keyArgs, '-out', key]).code, 0);
  const r = openssl(['req', '-new', '-key', key, '-subj', subject, '-sha256', '-out', csr]);
  assert.equal(r.code, 0, r.stderr);
  return readFileSync(csr, 'utf8');
}
const P256 = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];

const signV2g = (stationId: string, csr: string) => api(stack, 'POST', `/v1/stations/${stationId}/certificates`, { csr, certificateType: 'V2GCertificate' });
const rulesOf = (body: any): string[] => (body.violations ?? []).map((v: { rule: string }) => v.rule);

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'evpki-v2g-'));
  pki = await makeDevPki();
  const init = await cli(['v2g', 'init']);
  assert.equal(init.code, 0, init.stderr);
  ids = init.json;
  const demo = await cli(['tenants', 'add', '--id', 'demo', '--update', '--operator-id', 'de*abc', '--operator-id', 'DEABD']);
  assert.equal(demo.code, 0, demo.stderr);
  const other = await cli(['tenants', 'add', '--id', 'other', '--cpo-name', 'Other CPO', '--operator-id', 'DE*XYZ']);
  assert.equal(other.code, 0, other.stderr);
  stack = await startStack(pki);
  const put = await api(stack, 'PUT', '/v1/stations/evse-1', { serialNumber: 'EVSE-0001', allowed: true, seccIds: ['DE*ABC*E123456', 'DE*ABC*E777', 'DEABCE9', 'DE*XYZ*E1'] });
  assert.equal(put.status, 201, JSON.stringify(put.body));
});
after(async () => {
  await stack?.stop();
  pki?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('pki v2g init', () => {
  it('makes V2G root, CPO Sub-CA 1 and 2 in hierarchy v2g, all active, with the CRLs of the root and Sub-CA 1; a second run is refused', async () => {
    const store = openStore({ dataDir: pki.dataDir });
    try {
      const issuers = await store.listIssuers('v2g');
      const byId = new Map(issuers.map((i) => [i.id, i]));
      assert.equal(issuers.length, 3);
      assert.deepEqual(
        [ids.root, ids.subCa1, ids.subCa2].map((id) => [byId.get(id)?.role, byId.get(id)?.parentId, byId.get(id)?.state]),
        [
          ['root', ids.root, 'active'],
          ['sub-ca-1', ids.root, 'active'],
          ['sub-ca-2', ids.subCa1, 'active'],
        ],
      );
      for (const id of [ids.root, ids.subCa1]) assert.ok(await store.getCrl(id), `CRL of ${id}`);
      // The csms hierarchy is untouched: its root and issuing CA only.
      assert.deepEqual((await store.listIssuers('csms')).map((i) => i.role).sort(), ['issuing', 'root']);
    } finally {
      await store.close();
    }
    const again = await cli(['v2g', 'init']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /holds a v2g hierarchy already/);
  });

  it('the CA certificates: P-256, ECDSA-SHA256, critical CA:true with pathLen 2/1/0, critical keyCertSign+cRLSign, DC=V2G, at most 800 bytes', async () => {
    const store = openStore({ dataDir: pki.dataDir });
    try {
      for (const [id, pathLen] of [
        [ids.root, '2'],
        [ids.subCa1, '1'],
        [ids.subCa2, '0'],
      ] as const) {
        const der = (await store.getIssuer(id))!.certificate;
        assert.ok(der.length <= 800, `${id} is ${der.length} bytes`);
        const text = openssl(['x509', '-inform', 'DER', '-noout', '-text'], der).stdout;
        assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
        assert.match(text, /NIST CURVE: P-256/);
        assert.match(text, new RegExp(`Basic Constraints: critical\\s+CA:TRUE, pathlen:${pathLen}`));
        assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
        assert.match(text, /Subject: CN = Demo CPO [^,]+, O = Demo CPO, DC = V2G\n/);
      }
    } finally {
      await store.close();
    }
  });

  it('the tenant operator IDs are stored normalised (uppercase, with the *); a bad one is refused naming V2G.operator-id', async () => {
    assert.deepEqual((await cli(['tenants', 'show', 'demo'])).json.tenant.operatorIds, ['DE*ABC', 'DE*ABD']);
    const bad = await cli(['tenants', 'add', '--id', 'demo', '--update', '--operator-id', 'DE-ABC']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /V2G\.operator-id/);
  });
});

describe('GET /v1/trust-anchors?hierarchy=', () => {
  it('v2g answers the V2G root only; no parameter still answers the csms root', async () => {
    const store = openStore({ dataDir: pki.dataDir });
    const csmsRoot = (await store.listIssuers('csms')).find((i) => i.role === 'root')!.id;
    await store.close();
    const v2g = await api(stack, 'GET', '/v1/trust-anchors?hierarchy=v2g');
    assert.equal(v2g.status, 200, JSON.stringify(v2g.body));
    assert.deepEqual(v2g.body.items.map((a: { id: string }) => a.id), [ids.root]);
    const csms = await api(stack, 'GET', '/v1/trust-anchors');
    assert.deepEqual(csms.body.items.map((a: { id: string }) => a.id), [csmsRoot]);
    assert.equal((await api(stack, 'GET', '/v1/trust-anchors?hierarchy=V2G!')).status, 400);
  });
});

describe('SECC certificates (V2GCertificate) through RA → CA', () => {
  it('issued under CPO Sub-CA 2: chain leaf, Sub-CA 2, Sub-CA 1 (no root), verified -x509_strict against the V2G root; every certificate at most 800 bytes', async () => {
    const csr = opensslCsr('secc', P256, '/CN=DE*ABC*E123456/O=Demo CPO/C=DE/DC=CPO');
    const r = await signV2g('evse-1', csr);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.certificateType, 'V2GCertificate');
    const chain = pemBlocks(r.body.certificateChain, 'CERTIFICATE');
    assert.equal(chain.length, 3, 'leaf, CPO Sub-CA 2, CPO Sub-CA 1; root left out (Plug&Charge 2.3)');
    const anchors = await api(stack, 'GET', '/v1/trust-anchors?hierarchy=v2g');
    const rootPem = anchors.body.items[0].certificate as string;
    const [leaf, sub2, sub1] = chain.map((d) => new X509Certificate(d)) as [X509Certificate, X509Certificate, X509Certificate];
    assert.deepEqual([sub2.subject.includes('CPO Sub-CA 2'), sub1.subject.includes('CPO Sub-CA 1')], [true, true]);
    for (const der of [...chain, new X509Certificate(rootPem).raw]) assert.ok(der.length <= 800, `a certificate of ${der.length} bytes`);

    const files = { root: join(work, 'v2g-root.pem'), untrusted: join(work, 'v2g-subs.pem'), leaf: join(work, 'secc.pem') };
    writeFileSync(files.root, rootPem);
    writeFileSync(files.untrusted, sub2.toString() + sub1.toString());
    writeFileSync(files.leaf, leaf.toString());
    const v = openssl(['verify', '-x509_strict', '-CAfile', files.root, '-untrusted', files.untrusted, files.leaf]);
    assert.equal(v.code, 0, v.stdout + v.stderr);

    const text = openssl(['x509', '-in', files.leaf, '-noout', '-text']).stdout;
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    assert.match(text, /NIST CURVE: P-256/);
    assert.match(text, /Key Usage: critical\s+Digital Signature, Key Agreement\n/);
    assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /Subject Key Identifier/);
    assert.match(text, /Authority Key Identifier/);
    assert.match(text, /OCSP - URI:http:\/\/127\.0\.0\.1:8082\/ocsp/);
    assert.doesNotMatch(text, /Extended Key Usage/);
    // CN, O, C, DC in that order (DER order; as the EVerest/iso15118 PKI scripts write it), DC an IA5String.
    const cert = parseCertificate(leaf.raw);
    assert.deepEqual(
      cert.subject.rdns.flat().map((a) => [a.oid, a.value]),
      [
        ['2.5.4.3', 'DE*ABC*E123456'],
        ['2.5.4.10', 'Demo CPO'],
        ['2.5.4.6', 'DE'],
        ['0.9.2342.19200300.100.1.25', 'CPO'],
      ],
    );
    assert.equal(cert.subject.rdns.flat()[3]!.tag, 0x16);
    // Recorded under its station, OCSP good.
    const listed = await api(stack, 'GET', '/v1/stations/evse-1/certificates');
    assert.ok(listed.body.items.some((c: { serialNumber: string; certificateType: string }) => c.serialNumber === r.body.serialNumber && c.certificateType === 'V2GCertificate'));
  });

  it('a SECC-ID matches its registration without the optional * (DIN SPEC 91286)', async () => {
    const r = await signV2g('evse-1', opensslCsr('secc-plain', P256, '/CN=DEABCE777/O=Demo CPO/DC=CPO'));
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });

  const refusals: [string, () => Promise<{ status: number; body: any }>, string][] = [
    ['P-384 key', async () => signV2g('evse-1', opensslCsr('p384', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'], '/CN=DE*ABC*E123456/O=Demo CPO/DC=CPO')), 'V2G.curve'],
    ['RSA key', async () => signV2g('evse-1', opensslCsr('rsa', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], '/CN=DE*ABC*E123456/O=Demo CPO/DC=CPO')), 'V2G.curve'],
    ['no DC=CPO', async () => signV2g('evse-1', opensslCsr('no-dc', P256, '/CN=DE*ABC*E123456/O=Demo CPO/C=DE')), 'V2G.dc-cpo'],
    ['DC=V2G', async () => signV2g('evse-1', opensslCsr('dc-v2g', P256, '/CN=DE*ABC*E123456/O=Demo CPO/DC=V2G')), 'V2G.dc-cpo'],
    ['a SECC-ID not registered for the station', async () => signV2g('evse-1', opensslCsr('unregistered', P256, '/CN=DE*ABC*E999/O=Demo CPO/DC=CPO')), 'PnC-4.3'],
    ["another tenant's operator ID", async () => signV2g('evse-1', opensslCsr('other-op', P256, '/CN=DE*XYZ*E1/O=Demo CPO/DC=CPO')), 'V2G.operator-id'],
    ['bad SECC-ID syntax', async () => signV2g('evse-1', opensslCsr('bad-id', P256, '/CN=EVSE-0001/O=Demo CPO/DC=CPO')), 'V2G.secc-id'],
    ['another CPO name', async () => signV2g('evse-1', opensslCsr('other-o', P256, '/CN=DE*ABC*E123456/O=Other CPO/DC=CPO')), 'A02.FR.13'],
  ];
  for (const [name, call, rule] of refusals) {
    it(`${name} → 422 ${rule}`, async () => {
      const r = await call();
      assert.equal(r.status, 422, JSON.stringify(r.body));
      assert.ok(rulesOf(r.body).includes(rule), JSON.stringify(r.body));
    });
  }

  it('nothing was recorded for the refused requests (two certificates: the two issued)', async () => {
    const listed = await api(stack, 'GET', '/v1/stations/evse-1/certificates');
    assert.equal(listed.body.items.length, 2);
  });

  it('a station SECC-ID of bad syntax, or one listed twice, is refused at registration (V2G.secc-id), nothing written', async () => {
    for (const seccIds of [['DE*ABC*E1', 'not an id'], ['DE*ABC*E1', 'DEABCE1']]) {
      const r = await api(stack, 'PUT', '/v1/stations/evse-2', { serialNumber: 'EVSE-0002', allowed: true, seccIds });
      assert.equal(r.status, 422, JSON.stringify(r.body));
      assert.deepEqual(rulesOf(r.body), ['V2G.secc-id']);
    }
    assert.equal((await api(stack, 'GET', '/v1/stations/evse-2')).status, 404);
    // The most SECC-IDs a station may have, each of the longest syntax: registered (the audit entry clips the list).
    const many = Array.from({ length: 32 }, (_, i) => `DE*ABC*E${String(i).padStart(30, '0')}`);
    const put = await api(stack, 'PUT', '/v1/stations/evse-3', { serialNumber: 'EVSE-0003', allowed: true, seccIds: many });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.deepEqual(put.body.seccIds, many);
    assert.deepEqual((await api(stack, 'GET', '/v1/stations/evse-1')).body.seccIds, ['DE*ABC*E123456', 'DE*ABC*E777', 'DEABCE9', 'DE*XYZ*E1']);
  });

  it("a SECC-ID another station of the tenant lists is refused at registration and replacement: 409 naming PnC-4.3.secc-id-unique, nothing written", async () => {
    // evse-1 lists DE*ABC*E777; without its '*' it is the same SECC-ID (seccIdKey).
    const created = await api(stack, 'PUT', '/v1/stations/evse-4', { serialNumber: 'EVSE-0004', allowed: true, seccIds: ['DE*ABC*E4', 'DEABCE777'] });
    assert.equal(created.status, 409, JSON.stringify(created.body));
    assert.match(String(created.headers.get('content-type')), /application\/problem\+json/);
    assert.deepEqual(rulesOf(created.body), ['PnC-4.3.secc-id-unique']);
    assert.match(created.body.detail, /DEABCE777/);
    assert.match(created.body.violations[0].message, /station evse-1/);
    assert.equal((await api(stack, 'GET', '/v1/stations/evse-4')).status, 404);
    const replaced = await api(stack, 'PUT', '/v1/stations/evse-3', { serialNumber: 'EVSE-0003', allowed: false, seccIds: ['DEABCE9'] });
    assert.equal(replaced.status, 409, JSON.stringify(replaced.body));
    assert.deepEqual(rulesOf(replaced.body), ['PnC-4.3.secc-id-unique']);
    assert.equal((await api(stack, 'GET', '/v1/stations/evse-3')).body.allowed, true, 'kept as it was');
  });
});

describe('status of SECC certificates', () => {
  it('OCSP good, then revoked (the tenant revokes); CRLs of the root and Sub-CA 1 (pki v2g init) and Sub-CA 2 (the CA): openssl verify -crl_check_all says revoked', async () => {
    const r = await signV2g('evse-1', opensslCsr('secc-status', P256, '/CN=DEABCE9/O=Demo CPO/DC=CPO'));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const [leaf, sub2, sub1] = pemBlocks(r.body.certificateChain, 'CERTIFICATE').map((d) => new X509Certificate(d).toString());
    const root = (await api(stack, 'GET', '/v1/trust-anchors?hierarchy=v2g')).body.items[0].certificate as string;
    const f = (name: string, text: string): string => {
      writeFileSync(join(work, name), text);
      return join(work, name);
    };
    const files = { leaf: f('st-leaf.pem', leaf!), sub2: f('st-sub2.pem', sub2!), subs: f('st-subs.pem', sub2! + sub1!), root: f('st-root.pem', root) };
    const ocsp = () =>
      opensslAsync(['ocsp', '-issuer', files.sub2, '-cert', files.leaf, '-url', `${stack.ocspUrl}/ocsp`, '-CAfile', files.root, '-verify_other', files.subs, '-no_nonce']);
    const good = await ocsp();
    assert.match(good.stdout, /: good/, good.stdout + good.stderr);
    assert.match(good.stderr, /Response verify OK/);

    const revoked = await api(stack, 'POST', `/v1/certificates/${r.body.serialNumber}/revoke`, { reason: 'keyCompromise' });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.match((await ocsp()).stdout, /: revoked/);

    const crls = await Promise.all([ids.root, ids.subCa1, ids.subCa2].map((id) => stack.store.getCrl(id)));
    const crlFile = f('st-crls.pem', crls.map((c) => `-----BEGIN X509 CRL-----\n${c!.der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END X509 CRL-----\n`).join(''));
    const v = openssl(['verify', '-x509_strict', '-crl_check_all', '-CRLfile', crlFile, '-CAfile', files.root, '-untrusted', files.subs, files.leaf]);
    assert.notEqual(v.code, 0);
    assert.match(v.stdout + v.stderr, /certificate revoked/);
  });
});

describe('GetCertificateStatus (POST /v1/certificate-status, Plug&Charge 4.5) for the V2G hierarchy', () => {
  /** The OCSP answer our RA relays for the CertificateHashData of `cert` issued by `issuer`: its status and the responder's verdict (openssl). */
  async function statusOf(name: string, cert: Buffer, issuer: Buffer, anchors: Buffer[]): Promise<{ certStatus: string; verified: boolean }> {
    // An unreachable responderURL: our own issuers are answered by our responder whatever it says.
    const r = await api(stack, 'POST', '/v1/certificate-status', { ...certificateHashData(parseCertificate(cert), parseCertificate(issuer)), responderURL: 'http://192.0.2.1/ocsp' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'Accepted', JSON.stringify(r.body));
    const f = (file: string, ders: Buffer[]): string => (writeFileSync(join(work, file), ders.map((d) => toPem('CERTIFICATE', d)).join('')), join(work, file));
    writeFileSync(join(work, `${name}.ocsp.der`), Buffer.from(r.body.ocspResult, 'base64'));
    const v = openssl(['ocsp', '-respin', join(work, `${name}.ocsp.der`), '-CAfile', f(`${name}-ca.pem`, anchors.slice(-1)), '-verify_other', f(`${name}-others.pem`, anchors), '-sha256', '-issuer', f(`${name}-issuer.pem`, [issuer]), '-cert', f(`${name}-cert.pem`, [cert]), '-no_nonce']);
    return { certStatus: / (good|revoked|unknown)\n/.exec(v.stdout)?.[1] ?? `none: ${v.stdout}${v.stderr}`, verified: /Response verify OK/.test(v.stderr + v.stdout) };
  }

  it("the hash data of an SECC leaf (issuer CPO Sub-CA 2): Accepted from our responder, good, then revoked, verified to the V2G root; of CPO Sub-CA 2 (issuer Sub-CA 1): Failed naming Sub-CA 1's CRL, which our responder serves", async () => {
    const r = await signV2g('evse-1', opensslCsr('secc-gcs', P256, '/CN=DEABCE9/O=Demo CPO/DC=CPO'));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const [leaf, sub2, sub1] = pemBlocks(r.body.certificateChain, 'CERTIFICATE') as [Buffer, Buffer, Buffer];
    const root = pemBlocks((await api(stack, 'GET', '/v1/trust-anchors?hierarchy=v2g')).body.items[0].certificate, 'CERTIFICATE')[0]!;
    const chain = [sub2, sub1, root];
    assert.deepEqual(await statusOf('gcs-leaf', leaf, sub2, chain), { certStatus: 'good', verified: true });
    const sub2Status = await api(stack, 'POST', '/v1/certificate-status', { ...certificateHashData(parseCertificate(sub2), parseCertificate(sub1)), responderURL: 'http://192.0.2.1/ocsp' });
    assert.equal(sub2Status.status, 200, JSON.stringify(sub2Status.body));
    assert.equal(sub2Status.body.status, 'Failed');
    assert.match(sub2Status.body.reason, new RegExp(`issued by ${ids.subCa1}, a sub-ca-1 CA .*GET /crl/${ids.subCa1}\\.crl`));
    const crl = await fetch(`${stack.ocspUrl}/crl/${ids.subCa1}.crl`);
    assert.equal(crl.status, 200);
    writeFileSync(join(work, 'gcs-sub1.crl'), Buffer.from(await crl.arrayBuffer()));
    const listed = openssl(['crl', '-inform', 'DER', '-in', join(work, 'gcs-sub1.crl'), '-noout', '-text']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /No Revoked Certificates/);
    const revoked = await api(stack, 'POST', `/v1/certificates/${r.body.serialNumber}/revoke`, { reason: 'keyCompromise' });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.deepEqual(await statusOf('gcs-leaf-revoked', leaf, sub2, chain), { certStatus: 'revoked', verified: true });
  });
});

describe('OCPP 1.6 DataTransfer (ISO 15118 Plug&Charge for OCPP 1.6): POST /v1/stations/{id}/data-transfer', () => {
  const dataTransfer = (stationId: string, body: unknown) => api(stack, 'POST', `/v1/stations/${stationId}/data-transfer`, body);
  const wrap = (data: unknown, over: Record<string, string> = {}) => ({ vendorId: 'org.openchargealliance.iso15118pnc', messageId: 'SignCertificate', data: JSON.stringify(data), ...over });

  it('SignCertificate in, CertificateSigned out: the DataTransfer.req for the station, its data the chain SECC, Sub-CA 2, Sub-CA 1 that verifies -x509_strict to the V2G root', async () => {
    const csr = opensslCsr('dt', P256, '/CN=DEABCE9/O=Demo CPO/DC=CPO');
    const r = await dataTransfer('evse-1', wrap({ csr, certificateType: 'V2GCertificate' }));
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.certificate.certificateType, 'V2GCertificate');
    assert.equal(r.body.certificateSigned.vendorId, 'org.openchargealliance.iso15118pnc');
    assert.equal(r.body.certificateSigned.messageId, 'CertificateSigned');
    const data = JSON.parse(r.body.certificateSigned.data);
    assert.deepEqual(Object.keys(data).sort(), ['certificateChain', 'certificateType']);
    assert.equal(data.certificateChain, r.body.certificate.certificateChain);
    const [leaf, sub2, sub1] = pemBlocks(data.certificateChain, 'CERTIFICATE') as [Buffer, Buffer, Buffer];
    assert.equal(pemBlocks(data.certificateChain, 'CERTIFICATE').length, 3, 'no root (Plug&Charge 2.3)');
    const root = (await api(stack, 'GET', '/v1/trust-anchors?hierarchy=v2g')).body.items[0].certificate as string;
    const f = (name: string, text: string): string => (writeFileSync(join(work, name), text), join(work, name));
    const v = openssl(['verify', '-x509_strict', '-CAfile', f('dt-root.pem', root), '-untrusted', f('dt-subs.pem', toPem('CERTIFICATE', sub2) + toPem('CERTIFICATE', sub1)), f('dt-leaf.pem', toPem('CERTIFICATE', leaf))]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    // certificateType defaults to V2GCertificate (the application note's context).
    const byDefault = await dataTransfer('evse-1', wrap({ csr: opensslCsr('dt-default', P256, '/CN=DEABCE9/O=Demo CPO/DC=CPO') }));
    assert.equal(byDefault.status, 201, JSON.stringify(byDefault.body));
    assert.equal(byDefault.body.certificate.certificateType, 'V2GCertificate');
  });

  it('the same rules as the JSON route (V2G.dc-cpo), and a wrapper that is not SignCertificate of the P&C vendor: 400 DataTransfer.pnc', async () => {
    const noDc = await dataTransfer('evse-1', wrap({ csr: opensslCsr('dt-nodc', P256, '/CN=DEABCE9/O=Demo CPO'), certificateType: 'V2GCertificate' }));
    assert.equal(noDc.status, 422, JSON.stringify(noDc.body));
    assert.ok(rulesOf(noDc.body).includes('V2G.dc-cpo'));
    const csr = opensslCsr('dt-bad', P256, '/CN=DEABCE9/O=Demo CPO/DC=CPO');
    for (const [name, body] of [
      ['vendorId', wrap({ csr }, { vendorId: 'com.example' })],
      ['messageId', wrap({ csr }, { messageId: 'Get15118EVCertificate' })],
      ['not JSON', { ...wrap({}), data: '{csr' }],
      ['no csr', wrap({ certificateType: 'V2GCertificate' })],
      ['a field of another message', wrap({ csr, exiRequest: 'x' })],
      ['another certificate type', wrap({ csr, certificateType: 'CSMSRootCertificate' })],
    ] as const) {
      const r = await dataTransfer('evse-1', body);
      assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(rulesOf(r.body), ['DataTransfer.pnc'], name);
    }
  });
});

describe('pki stations import: the seccIds column', () => {
  it('stores the SECC-IDs of a row (space-separated), refuses a row with a bad one (V2G.secc-id), keeps them without the column', async () => {
    const file = join(work, 'stations.csv');
    writeFileSync(file, 'stationId,serialNumber,seccIds\nevse-10,EVSE-0010,DE*ABC*E10 DE*ABC*E11\nevse-11,EVSE-0011,not-an-id\n');
    const r = await cli(['stations', 'import', file, '--tenant', 'demo']);
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual([r.json.created, r.json.refused], [1, 1]);
    assert.deepEqual((await api(stack, 'GET', '/v1/stations/evse-10')).body.seccIds, ['DE*ABC*E10', 'DE*ABC*E11']);
    writeFileSync(file, 'stationId,serialNumber,model\nevse-10,EVSE-0010,Wallbox\n');
    assert.equal((await cli(['stations', 'import', file, '--tenant', 'demo', '--replace'])).code, 0);
    const again = (await api(stack, 'GET', '/v1/stations/evse-10')).body;
    assert.deepEqual([again.model, again.seccIds], ['Wallbox', ['DE*ABC*E10', 'DE*ABC*E11']]);
  });

  it('refuses, per station and naming PnC-4.3.secc-id-unique, a row whose SECC-ID another station lists (stored or on an earlier line)', async () => {
    const file = join(work, 'stations-dup.csv');
    const report = join(work, 'stations-dup-report.csv');
    writeFileSync(file, 'stationId,serialNumber,seccIds\nevse-20,EVSE-0020,DE*ABC*E20\nevse-21,EVSE-0021,DEABCE20\nevse-22,EVSE-0022,DE*ABC*E10\nevse-23,EVSE-0023,DE*ABC*E23\n');
    const dry = await cli(['stations', 'import', file, '--tenant', 'demo', '--dry-run']);
    assert.deepEqual([dry.code, dry.json.created, dry.json.refused, dry.json.byRule], [3, 2, 2, { 'PnC-4.3.secc-id-unique': 2 }], 'a dry run counts the same');
    const r = await cli(['stations', 'import', file, '--tenant', 'demo', '--report', report]);
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual([r.json.created, r.json.refused, r.json.byRule], [2, 2, { 'PnC-4.3.secc-id-unique': 2 }]);
    const lines = readFileSync(report, 'utf8').trim().split('\n').slice(1);
    assert.deepEqual(lines.map((l) => l.split(',').slice(0, 3).join(',')), ['3,evse-21,PnC-4.3.secc-id-unique', '4,evse-22,PnC-4.3.secc-id-unique']);
    assert.match(lines[1]!, /evse-10/, 'names the station that lists it');
    for (const id of ['evse-21', 'evse-22']) assert.equal((await api(stack, 'GET', `/v1/stations/${id}`)).status, 404, id);
    assert.deepEqual((await api(stack, 'GET', '/v1/stations/evse-23')).body.seccIds, ['DE*ABC*E23']);
  });
});

describe('V2G.size', () => {
  it('certify refuses an SECC certificate over 800 bytes, naming V2G.size', async () => {
    const store = openStore({ dataDir: pki.dataDir });
    const sub2 = parseCertificate((await store.getIssuer(ids.subCa2))!.certificate);
    await store.close();
    const csr = csrFromPem(opensslCsr('size', P256, '/CN=DE*ABC*E123456/O=Demo CPO/DC=CPO'));
    const publicKey = inspectSpki(csr.spki) as ReturnType<typeof inspectSpki> & { type: 'ec' };
    const longUrl = `http://ocsp.example/${'a'.repeat(400)}`;
    const issuer = issuerFacts(ids.subCa2, sub2, { ocsp: longUrl, caIssuers: longUrl, crl: longUrl });
    // Any P-256 key signs: the size is what is checked, not the signature.
    const signer = fileSigner(generateIssuerKey('ecdsa-p256'));
    const e = await certify(seccLeaf, issuer, signer, { subject: { publicKey, csr }, lifetimeSeconds: 86400, now: new Date() }).then(
      () => assert.fail('an oversized certificate was made'),
      (err: unknown) => err,
    );
    assert.ok(e instanceof AppError);
    assert.deepEqual(e.violations?.map((v) => v.rule), ['V2G.size']);
  });
});

describe('V2G.size through the pipeline', () => {
  it('a CA whose OCSP URL makes the SECC certificate over 800 bytes refuses it with 422 V2G.size; nothing is recorded', async () => {
    await stack.stop();
    // The same PKI, its CA writing a long public OCSP base into the leaves' AIA.
    stack = await startStack({ ...pki, manifest: { ...pki.manifest, publicOcspBase: `http://ocsp.example/${'a'.repeat(400)}` } });
    const before = (await api(stack, 'GET', '/v1/stations/evse-1/certificates')).body.items.length;
    const r = await signV2g('evse-1', opensslCsr('oversized', P256, '/CN=DE*ABC*E123456/O=Demo CPO/DC=CPO'));
    assert.equal(r.status, 422, JSON.stringify(r.body));
    assert.deepEqual(rulesOf(r.body), ['V2G.size']);
    assert.match(r.body.violations[0].message, /at most 800/);
    assert.equal((await api(stack, 'GET', '/v1/stations/evse-1/certificates')).body.items.length, before);
  });
});
