/**
 * Issue 21: a tenant's trusted manufacturers. `pki manufacturers add|list|remove` (the real CLI in
 * its own process) and /v1/manufacturers on the same store; a leaf refused as a root; the scopes;
 * the audit entries; and tenant isolation: a manufacturer trusted by tenant A gives tenant B
 * nothing (not listed, not readable, not removable, its chains not verified).
 * The manufacturer PKI is made by openssl (helpers/manufacturer-pki.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newP256Csr } from './helpers/csr.js';
import { makeManufacturerPki, type ManufacturerPki } from './helpers/manufacturer-pki.js';
import { api, makeDevPki, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { runPki, type CliRun } from './helpers/processes.js';

let dev: DevPki;
let stack: Stack;
let acme: ManufacturerPki;

const pki = (args: string[]): Promise<CliRun> => runPki(['--data-dir', dev.dataDir, ...args], dev.storeEnv, 60_000);
const chainOf = (m: ManufacturerPki): string => m.leaf.pem + m.intermediate.pem;
const bearer = async (tenant: string, scope?: string): Promise<Record<string, string>> => ({ authorization: `Bearer ${await stack.token(tenant, scope ? { scopes: scope.split(' ') } : {})}` });

before(async () => {
  dev = await makeDevPki();
  stack = await startStack(dev);
  await stack.store.putTenant({ id: 'other', cpoName: 'Other CPO', serverDomains: ['other.test'], disabled: false, createdAt: new Date().toISOString() });
  acme = makeManufacturerPki({ keyType: 'p256', name: 'Acme Chargers' });
});
after(async () => {
  await stack.stop();
  dev.cleanup();
  acme.cleanup();
});

describe('pki manufacturers (the real CLI)', () => {
  it('add: the root and intermediate files, mapping and revocation options; list shows it; the audit log has it', async () => {
    const add = await pki(['manufacturers', 'add', '--tenant', 'demo', '--name', 'ACME', '--root', acme.root.certFile, '--intermediate', acme.intermediate.certFile, '--serial-from', 'CN', '--models', 'W1,W2', '--model-from', 'OU', '--crl-url', 'http://127.0.0.1:9/acme.crl', '--fail-open', '--auto-register', '--json']);
    assert.equal(add.code, 0, add.stderr);
    const added = JSON.parse(add.stdout);
    assert.equal(added.tenant, 'demo');
    assert.equal(added.name, 'ACME');
    assert.equal(added.roots.length, 1);
    assert.equal(added.intermediates.length, 1);
    assert.deepEqual(added.mapping, { serialFrom: 'CN', models: ['W1', 'W2'], modelFrom: 'OU' });
    assert.deepEqual(added.revocation, { crlUrls: ['http://127.0.0.1:9/acme.crl'], failMode: 'open' });
    assert.equal(added.autoRegister, true);

    const list = await pki(['manufacturers', 'list', '--tenant', 'demo', '--json']);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout).items.map((m: { name: string }) => m.name), ['ACME']);
    const text = await pki(['manufacturers', 'list', '--tenant', 'demo']);
    assert.match(text.stdout, /ACME: 1 root\(s\), 1 intermediate\(s\); serial from CN; models W1,W2 \(from OU\); revocation CRL http:\/\/127\.0\.0\.1:9\/acme\.crl, fail-open; auto-register yes/);

    const audit = await stack.store.listAudit({ afterSeq: 0, limit: 1000, tenant: 'demo' });
    const entry = audit.find((e) => e.event === 'manufacturer.added');
    assert.ok(entry, 'manufacturer.added is audited');
    assert.equal(entry.actor, 'cli');
    assert.equal(entry.details?.manufacturer, 'ACME');
    assert.equal(entry.details?.roots, added.roots[0].sha256Fingerprint);
  });

  it('a device (leaf) certificate as --root is refused, exit 2, naming Manufacturer.root; nothing is written', async () => {
    const r = await pki(['manufacturers', 'add', '--tenant', 'demo', '--name', 'LEAFY', '--root', acme.leaf.certFile]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Manufacturer\.root: root ".*CN=CP-0001" is not a CA certificate/);
    assert.equal(await stack.store.getManufacturer('demo', 'LEAFY'), undefined);
  });

  it('an intermediate CA as --root (not self-signed) is refused; a leaf as --intermediate too', async () => {
    const r = await pki(['manufacturers', 'add', '--tenant', 'demo', '--name', 'X', '--root', acme.intermediate.certFile]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Manufacturer\.root: .* is not self-signed/);
    const i = await pki(['manufacturers', 'add', '--tenant', 'demo', '--name', 'X', '--root', acme.root.certFile, '--intermediate', acme.leaf.certFile]);
    assert.equal(i.code, 2);
    assert.match(i.stderr, /Manufacturer\.intermediate: .* is not a CA certificate/);
  });

  it('bad options are refused with exit 2: no PEM, bad name, unknown tenant, models without their field, a CRL URL with credentials', async () => {
    const junk = join(acme.dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate');
    const cases: [string, string[], RegExp][] = [
      ['no PEM', ['--tenant', 'demo', '--name', 'X', '--root', junk], /no root certificate given/],
      ['bad name', ['--tenant', 'demo', '--name', 'a b', '--root', acme.root.certFile], /Manufacturer\.name/],
      ['unknown tenant', ['--tenant', 'nobody', '--name', 'X', '--root', acme.root.certFile], /no tenant nobody/],
      ['models without --model-from', ['--tenant', 'demo', '--name', 'X', '--root', acme.root.certFile, '--models', 'W1'], /Manufacturer\.mapping: allowed models need the field/],
      ['credentials in a CRL URL', ['--tenant', 'demo', '--name', 'X', '--root', acme.root.certFile, '--crl-url', 'http://u:p@crl.example/x.crl'], /Manufacturer\.revocation/],
      ['serial from O', ['--tenant', 'demo', '--name', 'X', '--root', acme.root.certFile, '--serial-from', 'O'], /CN or serialNumber/],
      ['missing --root', ['--tenant', 'demo', '--name', 'X'], /--root is required/],
    ];
    for (const [name, args, want] of cases) {
      const r = await pki(['manufacturers', 'add', ...args]);
      assert.equal(r.code, 2, name);
      assert.match(r.stderr, want, name);
    }
  });

  it('remove: gone from list and store, audited; removing it again is exit 2', async () => {
    const add = await pki(['manufacturers', 'add', '--tenant', 'demo', '--name', 'Temp', '--root', acme.root.certFile]);
    assert.equal(add.code, 0, add.stderr);
    const rm = await pki(['manufacturers', 'remove', '--tenant', 'demo', '--name', 'Temp']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(await stack.store.getManufacturer('demo', 'Temp'), undefined);
    const again = await pki(['manufacturers', 'remove', '--tenant', 'demo', '--name', 'Temp']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /has no manufacturer Temp/);
    const audit = await stack.store.listAudit({ afterSeq: 0, limit: 1000, tenant: 'demo' });
    assert.ok(audit.some((e) => e.event === 'manufacturer.removed' && e.details?.manufacturer === 'Temp'));
  });
});

describe('/v1/manufacturers', () => {
  it('POST adds (201, Location), again replaces (200); GET lists and reads; DELETE removes (204) then 404', async () => {
    const body = { name: 'Beta', roots: acme.root.pem, intermediates: acme.intermediate.pem, mapping: { serialFrom: 'CN', models: 'any' }, autoRegister: true };
    const created = await api(stack, 'POST', '/v1/manufacturers', body);
    assert.equal(created.status, 201, created.text);
    assert.equal(created.headers.get('location'), '/v1/manufacturers/Beta');
    assert.equal(created.body.roots[0].certificate, acme.root.pem.replace(/\r/g, ''));
    const replaced = await api(stack, 'POST', '/v1/manufacturers', { ...body, revocation: { ocsp: true } });
    assert.equal(replaced.status, 200, replaced.text);
    assert.deepEqual(replaced.body.revocation, { ocsp: true, failMode: 'closed' });
    assert.equal(replaced.body.createdAt, created.body.createdAt);
    const list = await api(stack, 'GET', '/v1/manufacturers');
    assert.equal(list.status, 200);
    assert.ok(list.body.items.some((m: { name: string }) => m.name === 'Beta'));
    assert.equal((await api(stack, 'GET', '/v1/manufacturers/Beta')).body.name, 'Beta');
    assert.equal((await api(stack, 'DELETE', '/v1/manufacturers/Beta')).status, 204);
    assert.equal((await api(stack, 'GET', '/v1/manufacturers/Beta')).status, 404);
    assert.equal((await api(stack, 'DELETE', '/v1/manufacturers/Beta')).status, 404);
    const events = (await stack.store.listAudit({ afterSeq: 0, limit: 1000, tenant: 'demo' })).filter((e) => e.details?.manufacturer === 'Beta').map((e) => e.event);
    assert.deepEqual(events, ['manufacturer.added', 'manufacturer.replaced', 'manufacturer.removed']);
  });

  it('a leaf as root: 422 naming Manufacturer.root; a body outside the schema: 400', async () => {
    const r = await api(stack, 'POST', '/v1/manufacturers', { name: 'Leafy', roots: acme.leaf.pem });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.body.violations[0].rule, 'Manufacturer.root');
    assert.match(r.body.violations[0].message, /not a CA certificate/);
    const bad = await api(stack, 'POST', '/v1/manufacturers', { name: 'X', roots: acme.root.pem, mapping: { serialFrom: 'O' } });
    assert.equal(bad.status, 400, bad.text);
  });

  it('scopes: reading needs manufacturers:read, writing manufacturers:write, verifying manufacturer-certificates:verify (deny by default)', async () => {
    const readOnly = await bearer('demo', 'manufacturers:read');
    assert.equal((await api(stack, 'GET', '/v1/manufacturers', undefined, readOnly)).status, 200);
    assert.equal((await api(stack, 'POST', '/v1/manufacturers', { name: 'S', roots: acme.root.pem }, readOnly)).status, 403);
    assert.equal((await api(stack, 'POST', '/v1/manufacturer-certificates/verify', { chain: chainOf(acme) }, readOnly)).status, 403);
    const verifyOnly = await bearer('demo', 'manufacturer-certificates:verify');
    assert.equal((await api(stack, 'GET', '/v1/manufacturers', undefined, verifyOnly)).status, 403);
    assert.equal((await api(stack, 'POST', '/v1/manufacturer-certificates/verify', { chain: chainOf(acme) }, verifyOnly)).status, 200);
    const signer = await bearer('demo', 'certificates:sign stations:write');
    assert.equal((await api(stack, 'GET', '/v1/manufacturers', undefined, signer)).status, 403);
  });
});

describe('tenant isolation: a manufacturer trusted by tenant A gives tenant B nothing', () => {
  before(async () => {
    const r = await api(stack, 'POST', '/v1/manufacturers', { name: 'Iso', roots: acme.root.pem, intermediates: acme.intermediate.pem, autoRegister: true });
    assert.equal(r.status, 201, r.text);
  });

  it("demo's chain verifies for demo", async () => {
    const r = await api(stack, 'POST', '/v1/manufacturer-certificates/verify', { chain: chainOf(acme) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.valid, true);
    assert.equal(r.body.serialNumber, 'CP-0001');
  });

  it('tenant other: not listed, GET and DELETE 404, the same chain is not trusted, enrolment with it finds no station', async () => {
    const other = await bearer('other');
    const list = await api(stack, 'GET', '/v1/manufacturers', undefined, other);
    assert.deepEqual(list.body, { items: [] });
    assert.equal((await api(stack, 'GET', '/v1/manufacturers/Iso', undefined, other)).status, 404);
    assert.equal((await api(stack, 'DELETE', '/v1/manufacturers/Iso', undefined, other)).status, 404);
    assert.ok(await stack.store.getManufacturer('demo', 'Iso'), "demo's manufacturer is still there");
    const verdict = await api(stack, 'POST', '/v1/manufacturer-certificates/verify', { chain: chainOf(acme) }, other);
    assert.equal(verdict.status, 200);
    assert.equal(verdict.body.valid, false);
    assert.equal(verdict.body.reasons[0].rule, 'Manufacturer.chain');
    assert.match(verdict.body.reasons[0].message, /trusts no manufacturer/);
    const enrol = await api(stack, 'POST', '/v1/stations/cp-iso/certificates', { csr: newP256Csr('CP-0001', 'Other CPO').csr, certificateType: 'ChargingStationCertificate', manufacturerCertificateChain: chainOf(acme) }, other);
    assert.equal(enrol.status, 422, enrol.text);
    assert.equal(enrol.body.violations[0].rule, 'Manufacturer.chain');
    assert.equal(await stack.store.getStation('other', 'cp-iso'), undefined);
  });

  it("tenant other's own manufacturer of the same name does not touch demo's", async () => {
    const other = await bearer('other');
    const r = await api(stack, 'POST', '/v1/manufacturers', { name: 'Iso', roots: acme.otherRoot.pem }, other);
    assert.equal(r.status, 201, r.text);
    const mine = await api(stack, 'GET', '/v1/manufacturers/Iso');
    assert.equal(mine.body.roots[0].sha256Fingerprint, (await api(stack, 'GET', '/v1/manufacturers/Iso')).body.roots[0].sha256Fingerprint);
    assert.notEqual(mine.body.roots[0].sha256Fingerprint, r.body.roots[0].sha256Fingerprint);
    assert.equal((await api(stack, 'POST', '/v1/manufacturer-certificates/verify', { chain: chainOf(acme) }, other)).body.valid, false, "other's root does not anchor acme's chain");
  });
});
