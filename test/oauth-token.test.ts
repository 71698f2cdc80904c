/**
 * OAuth2 client credentials (Plug&Charge 4.4, RFC 6749 4.4): `pki clients add|rotate-secret|disable`
 * (the real CLI) and the RA's POST /oauth/token asked with curl; the tokens it issues open the
 * tenant's own API, within the client's scopes, and nothing else.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SignJWT, decodeJwt, importPKCS8 } from 'jose';
import { readFileSync } from 'node:fs';
import { dataPaths } from '@evpki/service';
import { api, makeDevPki, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { runPki } from './helpers/processes.js';

const run = promisify(execFile);

interface Curl {
  status: number;
  headers: string;
  body: any;
}

/** curl -i: the status, the raw headers and the JSON body. */
async function curl(args: string[]): Promise<Curl> {
  const { stdout } = await run('curl', ['-sS', '-i', ...args], { maxBuffer: 1 << 20 });
  const split = stdout.indexOf('\r\n\r\n');
  const head = stdout.slice(0, split);
  const text = stdout.slice(split + 4);
  return { status: Number(/^HTTP\/[\d.]+ (\d{3})/.exec(head)![1]), headers: head.toLowerCase(), body: text ? JSON.parse(text) : undefined };
}

let dev: DevPki;
let stack: Stack;
let tokenUrl: string;

async function pkiJson(args: string[]): Promise<any> {
  const r = await runPki(['--data-dir', dev.dataDir, ...args, '--json'], dev.storeEnv, 60_000);
  assert.equal(r.code, 0, `pki ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const form = (clientId: string, secret: string, extra: string[] = []): string[] => [
  tokenUrl,
  '-u',
  `${clientId}:${secret}`,
  '-d',
  'grant_type=client_credentials',
  ...extra.flatMap((e) => ['-d', e]),
];

before(async () => {
  dev = await makeDevPki();
  stack = await startStack(dev);
  tokenUrl = `${stack.raUrl}/oauth/token`;
  assert.equal((await runPki(['--data-dir', dev.dataDir, 'tenants', 'add', '--id', 'other', '--cpo-name', 'Other CPO'], dev.storeEnv, 60_000)).code, 0);
});
after(async () => {
  await stack?.stop();
  dev?.cleanup();
});

describe('POST /oauth/token (PnC-4.4, RFC 6749 4.4)', () => {
  it('a client added with pki clients add gets a Bearer token with HTTP Basic (form body) that the RA accepts for its tenant and scopes', async () => {
    const c = await pkiJson(['clients', 'add', '--tenant', 'demo', '--scope', 'stations:write,status:read']);
    assert.match(c.clientId, /^pkic_/);
    const r = await curl(form(c.clientId, c.clientSecret));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.match(r.headers, /cache-control: no-store/);
    assert.equal(r.body.token_type, 'Bearer');
    assert.equal(r.body.expires_in, 300);
    const claims = decodeJwt(r.body.access_token);
    assert.deepEqual([claims.iss, claims.tenant, claims.sub, claims.scope], ['urn:evpki:ra', 'demo', c.clientId, 'stations:write status:read']);
    const auth = { authorization: `Bearer ${r.body.access_token}` };
    assert.equal((await api(stack, 'PUT', '/v1/stations/oauth-1', { serialNumber: 'SNOAUTH1', allowed: true }, auth)).status, 201);
    assert.equal((await api(stack, 'GET', '/v1/trust-anchors', undefined, auth)).status, 200);
    // Beyond its scopes: 403 insufficient_scope, as for any token.
    assert.equal((await api(stack, 'GET', '/v1/audit', undefined, auth)).status, 403);
    // The audit log names the client as the actor.
    const entries = (await stack.store.listAudit({ tenant: 'demo', afterSeq: 0, limit: 1000 })).filter((e) => e.event === 'station.registered');
    assert.equal(entries.at(-1)?.actor, c.clientId);
  });

  it('JSON body credentials work too; a subset of the scopes can be asked for, more cannot (invalid_scope)', async () => {
    const c = await pkiJson(['clients', 'add', '--tenant', 'demo']);
    const json = (body: object) => curl([tokenUrl, '-H', 'content-type: application/json', '--data-binary', JSON.stringify(body)]);
    const ok = await json({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret, scope: 'status:read' });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.scope, 'status:read');
    const beyond = await json({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret, scope: 'audit:read' });
    assert.deepEqual([beyond.status, beyond.body.error], [400, 'invalid_scope']);
  });

  it('refusals are RFC 6749 5.2 JSON: invalid_client 401 with WWW-Authenticate, unsupported_grant_type and invalid_request 400', async () => {
    const c = await pkiJson(['clients', 'add', '--tenant', 'demo']);
    const wrong = await curl(form(c.clientId, 'not-the-secret'));
    assert.deepEqual([wrong.status, wrong.body.error], [401, 'invalid_client']);
    assert.match(wrong.headers, /www-authenticate: basic realm="evpki-ra"/);
    const unknown = await curl(form('pkic_AAAAAAAAAAAAAAAAAAAAAA', c.clientSecret));
    assert.deepEqual([unknown.status, unknown.body.error], [401, 'invalid_client']);
    const none = await curl([tokenUrl, '-d', 'grant_type=client_credentials']);
    assert.deepEqual([none.status, none.body.error], [401, 'invalid_client']);
    const grant = await curl([tokenUrl, '-u', `${c.clientId}:${c.clientSecret}`, '-d', 'grant_type=password']);
    assert.deepEqual([grant.status, grant.body.error], [400, 'unsupported_grant_type']);
    const noGrant = await curl([tokenUrl, '-u', `${c.clientId}:${c.clientSecret}`, '-d', 'scope=status:read']);
    assert.deepEqual([noGrant.status, noGrant.body.error], [400, 'invalid_request']);
    const both = await curl(form(c.clientId, c.clientSecret, [`client_id=${c.clientId}`]));
    assert.deepEqual([both.status, both.body.error], [400, 'invalid_request']);
    const twice = await curl(form(c.clientId, c.clientSecret, ['grant_type=client_credentials']));
    assert.deepEqual([twice.status, twice.body.error], [400, 'invalid_request']);
    const text = await curl([tokenUrl, '-u', `${c.clientId}:${c.clientSecret}`, '-H', 'content-type: text/plain', '-d', 'grant_type=client_credentials']);
    assert.deepEqual([text.status, text.body.error], [400, 'invalid_request']);
    const badJson = await curl([tokenUrl, '-H', 'content-type: application/json', '-d', '{"grant_type":']);
    assert.deepEqual([badJson.status, badJson.body.error], [400, 'invalid_request']);
  });

  it('rotate-secret refuses the old secret at once; disable refuses the client; a disabled tenant gets no token', async () => {
    const c = await pkiJson(['clients', 'add', '--tenant', 'other']);
    assert.equal((await curl(form(c.clientId, c.clientSecret))).status, 200);
    const rotated = await pkiJson(['clients', 'rotate-secret', c.clientId]);
    assert.equal(rotated.clientId, c.clientId);
    assert.equal((await curl(form(c.clientId, c.clientSecret))).status, 401);
    assert.equal((await curl(form(c.clientId, rotated.clientSecret))).status, 200);
    await runPki(['--data-dir', dev.dataDir, 'tenants', 'disable', 'other'], dev.storeEnv, 60_000);
    assert.equal((await curl(form(c.clientId, rotated.clientSecret))).status, 401);
    await runPki(['--data-dir', dev.dataDir, 'tenants', 'enable', 'other'], dev.storeEnv, 60_000);
    const issued = (await curl(form(c.clientId, rotated.clientSecret))).body.access_token as string;
    assert.equal((await api(stack, 'GET', '/v1/trust-anchors', undefined, { authorization: `Bearer ${issued}` })).status, 200);
    assert.deepEqual(await pkiJson(['clients', 'disable', c.clientId]), { clientId: c.clientId, tenant: 'other', disabled: true });
    assert.equal((await curl(form(c.clientId, rotated.clientSecret))).status, 401);
    // Its tokens already issued stop at once too (the RA reads the client on every request).
    assert.equal((await api(stack, 'GET', '/v1/trust-anchors', undefined, { authorization: `Bearer ${issued}` })).status, 401);
    const events = (await stack.store.listAudit({ tenant: 'other', afterSeq: 0, limit: 1000 })).map((e) => e.event);
    for (const e of ['oauth-client.added', 'oauth-client.secret-rotated', 'oauth-client.disabled']) assert.ok(events.includes(e), e);
    assert.ok(!JSON.stringify(await stack.store.listAudit({ afterSeq: 0, limit: 1000 })).includes(rotated.clientSecret), 'no secret in the audit log');
  });

  it("another tenant's client token cannot see this tenant's stations; a token claiming the RA's issuer with another key is refused", async () => {
    const other = await pkiJson(['clients', 'add', '--tenant', 'other']);
    const t = (await curl(form(other.clientId, other.clientSecret))).body.access_token as string;
    assert.equal((await api(stack, 'GET', '/v1/stations/oauth-1', undefined, { authorization: `Bearer ${t}` })).status, 404);
    // Signed with the dev identity provider's key, not the RA's token key.
    const key = await importPKCS8(readFileSync(dataPaths(dev.dataDir).jwtSigningKey, 'utf8'), 'ES256');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ tenant: 'demo', scope: 'status:read' })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('urn:evpki:ra')
      .setAudience(dev.manifest.jwt.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(key);
    assert.equal((await api(stack, 'GET', '/v1/trust-anchors', undefined, { authorization: `Bearer ${forged}` })).status, 401);
  });

  it('pki clients refuses an unknown tenant, an unknown scope and a malformed or unknown client_id (exit 2)', async () => {
    for (const args of [['add', '--tenant', 'nope'], ['add', '--tenant', 'demo', '--scope', 'bogus'], ['disable', 'nope'], ['rotate-secret', 'pkic_AAAAAAAAAAAAAAAAAAAAAA']]) {
      const r = await runPki(['--data-dir', dev.dataDir, 'clients', ...args], dev.storeEnv, 60_000);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
  });
});
