/**
 * Issue 19, the API half of the operator's view: GET /v1/stations, /v1/certificates,
 * /v1/certificates/expiring and /v1/issuers on a real stack (RA, CA, OCSP over one store; the RA
 * validates its answers against openapi.yaml). Scopes, filters, cursors and their refusals.
 * Tenant isolation of the lists: tenant-isolation.test.ts; the indexes: store-contract-lists.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newP256Csr } from './helpers/csr.js';
import { makeDevPki, requestJson, startStack, type DevPki, type JsonResponse, type Stack } from './helpers/pki.js';

let pki: DevPki;
let stack: Stack;
const serials: Record<string, string> = {};

const get = async (path: string, scopes?: string[]): Promise<JsonResponse> =>
  requestJson(stack.raUrl + path, 'GET', undefined, { authorization: `Bearer ${await stack.token('demo', scopes ? { scopes } : {})}` });
const post = async (path: string, body: unknown): Promise<JsonResponse> => requestJson(stack.raUrl + path, 'POST', body, { authorization: `Bearer ${await stack.token()}` });
const put = async (path: string, body: unknown): Promise<JsonResponse> => requestJson(stack.raUrl + path, 'PUT', body, { authorization: `Bearer ${await stack.token()}` });

/** Every page of a list: the items, following nextCursor. */
async function everyPage(path: string): Promise<{ items: any[]; pages: number }> {
  const items: any[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const r = await get(`${path}${path.includes('?') ? '&' : '?'}limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, r.text);
    items.push(...r.body.items);
    cursor = r.body.nextCursor;
    pages++;
  } while (cursor && pages < 50);
  return { items, pages };
}

before(async () => {
  pki = await makeDevPki();
  stack = await startStack(pki);
  await stack.store.putTenant({ id: 'demo', cpoName: 'Demo CPO', serverDomains: ['demo.local'], disabled: false, createdAt: new Date().toISOString() });
  for (const [id, sn, allowed] of [['cp-1', 'SN-0001', true], ['cp-2', 'SN-0002', true], ['cp-3', 'SN-0003', false], ['ac-9', 'CP-SPARE', true]] as const)
    assert.equal((await put(`/v1/stations/${id}`, { serialNumber: sn, allowed })).status, 201);
  for (const [name, id, sn] of [['c1', 'cp-1', 'SN-0001'], ['c2', 'cp-1', 'SN-0001'], ['c3', 'cp-2', 'SN-0002']] as const) {
    const r = await post(`/v1/stations/${id}/certificates`, { csr: newP256Csr(sn).csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(r.status, 201, r.text);
    serials[name] = r.body.serialNumber;
  }
  const server = await post('/v1/server-certificates', { csr: newP256Csr('csms.demo.local', 'Demo CPO').csr, validityHours: 23 });
  assert.equal(server.status, 201, server.text);
  serials.server = server.body.serialNumber;
  assert.equal((await post(`/v1/certificates/${serials.c2}/revoke`, { reason: 'superseded' })).status, 200);
});
after(async () => {
  await stack?.stop();
  pki?.cleanup();
});

describe('GET /v1/stations', () => {
  it('pages through every station by id; q searches id and serial number prefixes; allowed filters', async () => {
    const all = await everyPage('/v1/stations');
    assert.deepEqual(all.items.map((s) => s.stationId), ['ac-9', 'cp-1', 'cp-2', 'cp-3']);
    assert.equal(all.pages, 2);
    assert.deepEqual(all.items[1], (await get('/v1/stations/cp-1')).body, 'the same view as GET of one station');
    assert.deepEqual((await everyPage('/v1/stations?q=cp-')).items.map((s) => s.stationId), ['cp-1', 'cp-2', 'cp-3']);
    assert.deepEqual((await everyPage('/v1/stations?q=CP-')).items.map((s) => s.stationId), ['ac-9'], 'by serial number, case-sensitive');
    assert.deepEqual((await everyPage('/v1/stations?allowed=false')).items.map((s) => s.stationId), ['cp-3']);
    assert.deepEqual((await everyPage('/v1/stations?allowed=true&q=SN-')).items.map((s) => s.stationId), ['cp-1', 'cp-2']);
  });
});

describe('GET /v1/certificates and /v1/certificates/expiring', () => {
  it('lists every certificate of the tenant, newest last, in the view of GET /v1/certificates/{serialNumber}', async () => {
    const all = await everyPage('/v1/certificates');
    assert.deepEqual(all.items.map((c) => c.serialNumber), [serials.c1, serials.c2, serials.c3, serials.server]);
    assert.deepEqual(all.items[1], (await get(`/v1/certificates/${serials.c2}`)).body);
    assert.equal((await get('/v1/certificates')).body.order, 'issuedAt');
  });

  it('filters by station, status, kind, serial prefix (any case), notAfter and issuance time', async () => {
    const ids = async (q: string) => (await everyPage(`/v1/certificates?${q}`)).items.map((c) => c.serialNumber);
    assert.deepEqual(await ids('stationId=cp-1'), [serials.c1, serials.c2]);
    assert.deepEqual(await ids('status=revoked'), [serials.c2]);
    assert.deepEqual(await ids('stationId=cp-1&status=good'), [serials.c1]);
    assert.deepEqual(await ids('status=expired'), []);
    assert.deepEqual(await ids('kind=CSMSServerCertificate'), [serials.server]);
    assert.deepEqual(await ids(`serialPrefix=${serials.c3!.slice(0, 12).toUpperCase()}`), [serials.c3]);
    const soon = new Date(Date.now() + 2 * 86_400_000).toISOString();
    assert.deepEqual(await ids(`notAfterBefore=${encodeURIComponent(soon)}`), [serials.server]);
    assert.deepEqual((await ids(`notAfterAfter=${encodeURIComponent(soon)}`)).sort(), [serials.c1, serials.c2, serials.c3].sort());
    const c3 = (await get(`/v1/certificates/${serials.c3}`)).body;
    assert.deepEqual(await ids(`issuedSince=${encodeURIComponent(c3.issuedAt)}`), [serials.c3, serials.server]);
  });

  it('expiring: not revoked, not expired, within the window, soonest first; not taken for a serial number', async () => {
    const day = await get('/v1/certificates/expiring?within=2d');
    assert.equal(day.status, 200, day.text);
    assert.deepEqual([day.body.order, day.body.items.map((c: { serialNumber: string }) => c.serialNumber)], ['notAfter', [serials.server]]);
    assert.deepEqual((await get('/v1/certificates/expiring?within=12h')).body.items, []);
    const year = await everyPage('/v1/certificates/expiring?within=400d');
    // c1 and c3 may share their notAfter (issued within one second): only the expiry order is fixed.
    assert.deepEqual(year.items.map((c) => c.serialNumber).sort(), [serials.server, serials.c1, serials.c3].sort(), 'c2 is revoked');
    assert.equal(year.items[0]!.serialNumber, serials.server, 'the one-day server certificate first');
    const expiries = year.items.map((c) => Date.parse(c.notAfter));
    assert.deepEqual(expiries, [...expiries].sort((a, b) => a - b), 'soonest first');
  });

  it('refuses a bad filter, limit, window or cursor with 400 naming it', async () => {
    const refused = async (path: string, rule: RegExp) => {
      const r = await get(path);
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.match(r.headers.get('content-type') ?? '', /application\/problem\+json/);
      assert.ok(r.body.violations.some((v: { rule: string }) => rule.test(v.rule)), `${path}: ${r.text}`);
    };
    await refused('/v1/certificates?status=lost', /query\/status/);
    await refused('/v1/certificates?kind=Other', /query\/kind/);
    await refused('/v1/certificates?notAfterBefore=tomorrow', /query\/notAfterBefore/);
    await refused('/v1/certificates?serialPrefix=xyz', /query\/serialPrefix/);
    await refused('/v1/certificates?limit=0', /query\/limit/);
    await refused('/v1/certificates?limit=501', /query\/limit/);
    await refused('/v1/certificates?colour=red', /query/);
    await refused('/v1/stations?allowed=maybe', /query\/allowed/);
    await refused('/v1/certificates/expiring', /query\/within/);
    await refused('/v1/certificates/expiring?within=401d', /^List\.within$/);
    await refused('/v1/certificates/expiring?within=9601h', /^List\.within$/);
    await refused('/v1/certificates/expiring?within=30m', /query\/within/);
    await refused('/v1/certificates?cursor=not-a-cursor', /^List\.cursor$/);
    await refused(`/v1/certificates?cursor=${Buffer.from(JSON.stringify({ v: 1, b: 'x', p: 'y' })).toString('base64url')}`, /^List\.cursor$/);
    // A cursor of one filter set is not one of another, nor of another list.
    const first = await get('/v1/certificates?limit=1');
    assert.ok(first.body.nextCursor);
    await refused(`/v1/certificates?limit=1&status=good&cursor=${first.body.nextCursor}`, /^List\.cursor$/);
    await refused(`/v1/stations?limit=1&cursor=${first.body.nextCursor}`, /^List\.cursor$/);
    const again = await get(`/v1/certificates?limit=1&cursor=${first.body.nextCursor}`);
    assert.deepEqual(again.body.items.map((c: { serialNumber: string }) => c.serialNumber), [serials.c2], 'the same filters go on');
  });
});

describe('GET /v1/issuers', () => {
  it('the csms hierarchy: root and issuing CA, active, with validity and serial; no rotation yet', async () => {
    const r = await get('/v1/issuers');
    assert.equal(r.status, 200, r.text);
    const csms = r.body.hierarchies.find((h: { name: string }) => h.name === 'csms');
    assert.equal(csms.rotation, null);
    assert.deepEqual(csms.issuers.map((i: { role: string; state: string }) => [i.role, i.state]).sort(), [['issuing', 'active'], ['root', 'active']]);
    const root = csms.issuers.find((i: { role: string }) => i.role === 'root');
    assert.equal(root.trustAnchor, true);
    assert.match(root.serialNumber, /^[0-9a-f]+$/);
    assert.ok(Date.parse(root.notAfter) > Date.now());
    const issuing = csms.issuers.find((i: { role: string }) => i.role === 'issuing');
    assert.ok(issuing.lastLeafExpiry, 'the latest expiry of the leaves it signed');
  });
});

describe('scopes: each list needs its own read scope, and no other scope implies it', () => {
  for (const [path, scope] of [
    ['/v1/stations', 'stations:read'],
    ['/v1/certificates', 'certificates:read'],
    ['/v1/certificates/expiring?within=30d', 'certificates:read'],
    ['/v1/issuers', 'issuers:read'],
  ] as const)
    it(`${path} needs ${scope}`, async () => {
      const others = ['stations:write', 'certificates:sign', 'certificates:revoke', 'server-certificates:sign', 'status:read', 'audit:read', 'stations:read', 'certificates:read', 'issuers:read'].filter((s) => s !== scope);
      const without = await get(path, others);
      assert.equal(without.status, 403, without.text);
      assert.match(without.headers.get('www-authenticate') ?? '', new RegExp(`insufficient_scope.*${scope}`));
      assert.equal((await get(path, [scope])).status, 200);
    });
  it('GET /v1/stations/{stationId} stays status:read (the CSMS\'s runtime scope), not stations:read', async () => {
    assert.equal((await get('/v1/stations/cp-1', ['stations:read'])).status, 403);
    assert.equal((await get('/v1/stations/cp-1', ['status:read'])).status, 200);
  });
});
