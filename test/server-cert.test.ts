import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { pemBlocks } from '@evpki/x509';
import { openssl, opensslAsync } from './helpers/openssl.js';
import { api, makeDevPki, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { caRequest } from './helpers/service-tls.js';

let pki: DevPki;
let stack: Stack;
let work: string;
let n = 0;

/** Key and CSR by the openssl CLI, as an operator would make them. */
function csr(subject: string, san?: string, keyArgs = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']): { csr: string; keyFile: string } {
  const id = ++n;
  const keyFile = join(work, `s${id}.key`);
  assert.equal(openssl(['genpkey', ...keyArgs, '-out', keyFile]).code, 0);
  const r = openssl(['req', '-new', '-key', keyFile, '-subj', subject, ...(san ? ['-addext', `subjectAltName=${san}`] : []), '-out', join(work, `s${id}.csr`)]);
  assert.equal(r.code, 0, r.stderr);
  return { csr: readFileSync(join(work, `s${id}.csr`), 'utf8'), keyFile };
}

const sign = (body: unknown) => api(stack, 'POST', '/v1/server-certificates', body);
const rules = (r: { body: { violations?: { rule: string }[] } }) => (r.body.violations ?? []).map((v) => v.rule);

before(async () => {
  pki = await makeDevPki();
  stack = await startStack(pki);
  work = mkdtempSync(join(tmpdir(), 'evpki-server-'));
  writeFileSync(join(work, 'root.pem'), (await api(stack, 'GET', '/v1/trust-anchors')).body.items[0].certificate as string);
});
after(async () => {
  await stack.stop();
  pki.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('CSMS server certificates (A00.FR.701, A00.FR.510)', () => {
  it('issues a serverAuth certificate under 24 hours, chained to the charge points\' root', async () => {
    const { csr: pem } = csr('/O=Demo CPO/CN=csms.demo.local', 'DNS:csms.demo.local,DNS:ocpp.demo.local');
    const r = await sign({ csr: pem });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.certificateType, 'CSMSServerCertificate');
    const leaf = new X509Certificate(pemBlocks(r.body.certificateChain as string, 'CERTIFICATE')[0]!);
    const life = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
    assert.ok(life < 86400_000 && life >= 23 * 3600_000, `lifetime ${life / 3600_000} h`);
    assert.equal(leaf.subjectAltName, 'DNS:csms.demo.local, DNS:ocpp.demo.local');
    writeFileSync(join(work, 'chain.pem'), r.body.certificateChain as string);
    const v = openssl(['verify', '-purpose', 'sslserver', '-CAfile', join(work, 'root.pem'), '-untrusted', join(work, 'chain.pem'), join(work, 'chain.pem')]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const text = openssl(['x509', '-in', join(work, 'chain.pem'), '-noout', '-text']).stdout;
    assert.match(text, /TLS Web Server Authentication/);
    assert.doesNotMatch(text, /OCSP - URI|CRL Distribution/);
    const rec = await api(stack, 'GET', `/v1/certificates/${r.body.serialNumber as string}`);
    assert.equal(rec.body.certificateType, 'CSMSServerCertificate', 'recorded like every other');
    // Without SANs in the CSR, the CN becomes the one subjectAltName.
    const bare = await sign({ csr: csr('/O=Demo CPO/CN=bare.demo.local').csr, validityHours: 1 });
    assert.equal(bare.status, 201);
    const bareLeaf = new X509Certificate(pemBlocks(bare.body.certificateChain as string, 'CERTIFICATE')[0]!);
    assert.equal(bareLeaf.subjectAltName, 'DNS:bare.demo.local');
    assert.ok(Date.parse(bareLeaf.validTo) - Date.parse(bareLeaf.validFrom) <= 3600_000 + 60_000);
  });

  it('refuses names and validities the rules forbid, naming the rule', async () => {
    const cases: [string, unknown, number, string[]][] = [
      ['CN outside the tenant domains', { csr: csr('/O=Demo CPO/CN=csms.example.com').csr }, 422, ['A00.FR.510']],
      ['CN not an FQDN', { csr: csr('/O=Demo CPO/CN=csms').csr }, 422, ['A00.FR.510']],
      ['CN an IP address', { csr: csr('/O=Demo CPO/CN=192.0.2.1').csr }, 422, ['A00.FR.510']],
      ['CN not among the SANs', { csr: csr('/O=Demo CPO/CN=csms.demo.local', 'DNS:other.demo.local').csr }, 422, ['A00.FR.510']],
      ['a SAN outside the domains', { csr: csr('/O=Demo CPO/CN=csms.demo.local', 'DNS:csms.demo.local,DNS:evil.example').csr }, 422, ['A00.FR.510']],
      ['wildcard', { csr: csr('/O=Demo CPO/CN=*.demo.local').csr }, 422, ['A00.FR.510']],
      ['IP SAN', { csr: csr('/O=Demo CPO/CN=csms.demo.local', 'DNS:csms.demo.local,IP:192.0.2.1').csr }, 422, ['A00.FR.510']],
      ['URI SAN', { csr: csr('/O=Demo CPO/CN=csms.demo.local', 'DNS:csms.demo.local,URI:https://csms.demo.local').csr }, 422, ['A00.FR.510']],
      ['wrong O', { csr: csr('/O=Other CPO/CN=csms.demo.local').csr }, 422, ['A00.FR.509']],
      ['RSA 1024', { csr: csr('/O=Demo CPO/CN=csms.demo.local', undefined, ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024']).csr }, 422, ['A00.FR.502']],
      ['24 hours', { csr: csr('/O=Demo CPO/CN=csms.demo.local').csr, validityHours: 24 }, 400, []],
      ['23.99 hours (with the backdate, 24 h or more)', { csr: csr('/O=Demo CPO/CN=csms.demo.local').csr, validityHours: 23.99 }, 422, ['A00.FR.701']],
      ['below the configured minimum', { csr: csr('/O=Demo CPO/CN=csms.demo.local').csr, validityHours: 0.5 }, 422, ['A00.FR.701']],
    ];
    for (const [label, body, status, expected] of cases) {
      const r = await sign(body);
      assert.equal(r.status, status, `${label}: ${JSON.stringify(r.body)}`);
      for (const rule of expected) assert.ok(rules(r).includes(rule), `${label}: ${JSON.stringify(r.body)}`);
    }
  });

  it("issue 14.4: an IP SAN only inside the tenant's IP ranges (A00.FR.510): checked by the RA and again by the CA; the legacy allowIpSans allows nothing", async () => {
    const demo = (await stack.store.getTenant('demo'))!;
    // A tenant from before ranges, with the old flag, that was then given its ranges.
    await stack.store.putTenant({ ...demo, allowIpSans: true, ipRanges: ['10.61.0.0/16', 'fd00:61::/64'] });
    try {
      const inside = await sign({ csr: csr('/O=Demo CPO/CN=csms.demo.local', 'DNS:csms.demo.local,IP:10.61.1.5,IP:fd00:61::5').csr });
      assert.equal(inside.status, 201, JSON.stringify(inside.body));
      const leaf = new X509Certificate(pemBlocks(inside.body.certificateChain as string, 'CERTIFICATE')[0]!);
      assert.equal(leaf.subjectAltName, 'DNS:csms.demo.local, IP Address:10.61.1.5, IP Address:FD00:61:0:0:0:0:0:5');
      for (const ip of ['10.62.0.1', '127.0.0.1', 'fd00:62::5', '::ffff:10.61.1.5']) {
        const r = await sign({ csr: csr('/O=Demo CPO/CN=csms.demo.local', `DNS:csms.demo.local,IP:10.61.1.6,IP:${ip}`).csr });
        assert.equal(r.status, 422, `${ip}: ${JSON.stringify(r.body)}`);
        assert.deepEqual(rules(r), ['A00.FR.510'], ip);
        // Only the address outside is named.
        assert.match(r.body.violations[0].message, /^subjectAltName iPAddress [0-9a-f.:]+ is outside this tenant's IP ranges \(10\.61\.0\.0\/16, fd00:61::\/64\)$/, ip);
        assert.doesNotMatch(r.body.violations[0].message, /10\.61\.1\.6/, ip);
      }
      // The CA on its own (as the RA's client would call it) refuses too.
      const direct = await caRequest(pki.dataDir, stack.caUrl, 'ra-client', 'POST', '/v1/sign-server', { tenant: 'demo', csr: csr('/O=Demo CPO/CN=csms.demo.local', 'DNS:csms.demo.local,IP:192.0.2.7').csr, actor: 'test' });
      assert.equal(direct.status, 422, direct.text);
      assert.match(direct.text, /A00\.FR\.510.*192\.0\.2\.7 is outside this tenant's IP ranges/);
      // Only the flag, no ranges (a tenant not migrated yet): no IP SANs at all.
      await stack.store.putTenant({ ...demo, allowIpSans: true });
      const legacy = await sign({ csr: csr('/O=Demo CPO/CN=csms.demo.local', 'DNS:csms.demo.local,IP:10.61.1.7').csr });
      assert.equal(legacy.status, 422, JSON.stringify(legacy.body));
      assert.match(legacy.body.violations[0].message, /outside this tenant's IP ranges \(none configured\)/);
    } finally {
      await stack.store.putTenant(demo);
    }
  });

  it('a new key for every certificate (A02.FR.02)', async () => {
    const first = csr('/O=Demo CPO/CN=csms.demo.local');
    assert.equal((await sign({ csr: first.csr })).status, 201);
    const again = openssl(['req', '-new', '-key', first.keyFile, '-subj', '/O=Demo CPO/CN=csms.demo.local']);
    const r = await sign({ csr: again.stdout });
    assert.equal(r.status, 422);
    assert.ok(rules(r).includes('A02.FR.02'));
  });

  it('serves TLS: a client trusting only the root connects to its name and refuses another', async () => {
    const { csr: pem, keyFile } = csr('/O=Demo CPO/CN=csms.demo.local');
    const r = await sign({ csr: pem });
    const root = readFileSync(join(work, 'root.pem'), 'utf8');
    const server: Server = createServer({ key: readFileSync(keyFile), cert: r.body.certificateChain as string }, (s) => s.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const hello = (servername: string) =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, servername, ca: root }, () => s.once('data', (d: Buffer) => resolve(d.toString())));
        s.once('error', reject);
      });
    try {
      assert.equal(await hello('csms.demo.local'), 'hello');
      await assert.rejects(hello('other.demo.local'), /ERR_TLS_CERT_ALTNAME_INVALID|does not match/);
      const ok = await opensslAsync(['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'csms.demo.local', '-verify_hostname', 'csms.demo.local', '-CAfile', join(work, 'root.pem'), '-verify_return_error'], '');
      assert.match(ok.stdout, /Verify return code: 0 \(ok\)/);
      const bad = await opensslAsync(['s_client', '-connect', `127.0.0.1:${port}`, '-verify_hostname', 'other.demo.local', '-CAfile', join(work, 'root.pem'), '-verify_return_error'], '');
      assert.match(bad.stdout + bad.stderr, /hostname mismatch/);
    } finally {
      server.close();
    }
  });
});

