import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { OPENAPI_PATH, loadOperations, loadRaConfig, readJwks } from '@evpki/ra';
import { ConfigError, SCOPES } from '@evpki/service';
import { makeDevPki, requestJson, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { runPki } from './helpers/processes.js';

// Issue 7, authentication and authorization: JWTs from the CSMS's identity provider, verified
// against a JWKS URL (refetched on an unknown kid) or static JWKs; iss/aud/exp/nbf with bounded
// skew; an allow-list of asymmetric algorithms; tenant and scope claims.

const ISS = 'https://idp.cpo.test/';
const AUD = 'evpki-ra-test';

interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

async function signingKey(kid: string, alg = 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

interface Claims {
  iss?: string;
  aud?: string;
  exp?: number;
  nbf?: number;
  iat?: number;
  tenant?: unknown;
  scope?: unknown;
  sub?: string;
}

const nowS = (): number => Math.floor(Date.now() / 1000);

async function jwt(key: SigningKey, claims: Claims = {}): Promise<string> {
  const c: Claims = { iss: ISS, aud: AUD, exp: nowS() + 300, tenant: 'demo', scope: SCOPES.join(' '), sub: 'csms-backend', ...claims };
  const payload: Record<string, unknown> = {};
  for (const k of ['tenant', 'scope', 'nbf', 'iat', 'sub'] as const) if (c[k] !== undefined) payload[k] = c[k];
  let b = new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' });
  if (c.iss !== undefined) b = b.setIssuer(c.iss);
  if (c.aud !== undefined) b = b.setAudience(c.aud);
  if (c.exp !== undefined) b = b.setExpirationTime(c.exp);
  return b.sign(key.privateKey);
}

const b64url = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** GET /v1/trust-anchors (scope status:read) with the given Authorization header. */
const anchors = (stack: Stack, authorization?: string) => requestJson(`${stack.raUrl}/v1/trust-anchors`, 'GET', undefined, authorization ? { authorization } : {});

/** A JWKS endpoint the test controls, counting fetches. */
function jwksServer(): { server: Server; keys: JWK[]; fetches: () => number; url: () => string; down: { value: boolean } } {
  const keys: JWK[] = [];
  let count = 0;
  const down = { value: false };
  const server = createServer((req, res) => {
    count++;
    if (down.value) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
  });
  return { server, keys, fetches: () => count, url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`, down };
}

describe('JWT verification against a JWKS URL', () => {
  let pki: DevPki;
  let stack: Stack;
  let k1: SigningKey;
  let k2: SigningKey;
  const idp = jwksServer();

  before(async () => {
    [k1, k2] = await Promise.all([signingKey('k1'), signingKey('k2', 'RS256')]);
    idp.keys.push(k1.publicJwk);
    await new Promise<void>((r) => idp.server.listen(0, '127.0.0.1', r));
    pki = await makeDevPki();
    stack = await startStack(pki, {
      raEnv: { RA_JWT_JWKS_URL: idp.url(), RA_JWT_JWKS_COOLDOWN_SECONDS: '0', RA_JWT_ISSUER: ISS, RA_JWT_AUDIENCE: AUD, RA_JWT_CLOCK_SKEW_SECONDS: '30' },
    });
  });
  after(async () => {
    await stack?.stop();
    pki?.cleanup();
    idp.server.close();
  });

  it('accepts a token signed with a key of the JWKS, and fetches the set once for many requests', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await anchors(stack, `Bearer ${await jwt(k1)}`)).status, 200);
    assert.equal(idp.fetches(), 1);
  });

  it('refetches the JWKS when a token names an unknown kid (key rotation at the identity provider)', async () => {
    idp.keys.splice(0, idp.keys.length, k1.publicJwk, k2.publicJwk);
    const before = idp.fetches();
    assert.equal((await anchors(stack, `Bearer ${await jwt(k2)}`)).status, 200, 'an RS256 key published after the first fetch');
    assert.equal(idp.fetches(), before + 1);
  });

  it('refuses tokens of a key removed from the JWKS once the set is refetched', async () => {
    idp.keys.splice(0, idp.keys.length, k2.publicJwk);
    const k3 = await signingKey('k3');
    // An unknown kid refetches the set, which no longer has k1.
    assert.equal((await anchors(stack, `Bearer ${await jwt(k3)}`)).status, 401);
    const r = await anchors(stack, `Bearer ${await jwt(k1)}`);
    assert.equal(r.status, 401);
    assert.match(r.body.detail, /unknown key/);
  });

  it('answers 503 (not 401) when the JWKS cannot be fetched for an unknown kid', async () => {
    idp.down.value = true;
    try {
      const r = await anchors(stack, `Bearer ${await jwt(await signingKey('k4'))}`);
      assert.equal(r.status, 503);
      assert.ok(r.headers.get('retry-after'));
    } finally {
      idp.down.value = false;
    }
  });
});

describe('JWT verification with static JWKs', () => {
  let pki: DevPki;
  let stack: Stack;
  let ec: SigningKey;
  let rsa: SigningKey;
  let ed: SigningKey;

  before(async () => {
    [ec, rsa, ed] = await Promise.all([signingKey('ec-1'), signingKey('rsa-1', 'PS256'), signingKey('ed-1', 'EdDSA')]);
    pki = await makeDevPki();
    const file = join(pki.dataDir, 'idp-jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [ec.publicJwk, rsa.publicJwk, ed.publicJwk] }));
    stack = await startStack(pki, {
      raEnv: { RA_JWT_JWKS_FILE: file, RA_JWT_ISSUER: ISS, RA_JWT_AUDIENCE: AUD, RA_JWT_CLOCK_SKEW_SECONDS: '30', RA_JWT_ALGORITHMS: 'ES256,PS256' },
    });
  });
  after(async () => {
    await stack?.stop();
    pki?.cleanup();
  });

  it('accepts each allowed algorithm', async () => {
    assert.equal((await anchors(stack, `Bearer ${await jwt(ec)}`)).status, 200);
    assert.equal((await anchors(stack, `Bearer ${await jwt(rsa)}`)).status, 200);
  });

  const t = () => nowS();
  const cases: { name: string; claims: () => Claims; status: number; detail?: RegExp }[] = [
    { name: 'wrong issuer', claims: () => ({ iss: 'https://evil.test/' }), status: 401, detail: /iss/ },
    { name: 'no issuer', claims: () => ({ iss: undefined }), status: 401, detail: /iss/ },
    { name: 'wrong audience', claims: () => ({ aud: 'another-api' }), status: 401, detail: /aud/ },
    { name: 'expired beyond the skew', claims: () => ({ exp: t() - 60 }), status: 401, detail: /expired/ },
    { name: 'expired within the skew', claims: () => ({ exp: t() - 10 }), status: 200 },
    { name: 'no exp', claims: () => ({ exp: undefined }), status: 401 },
    { name: 'nbf in the future beyond the skew', claims: () => ({ nbf: t() + 120 }), status: 401, detail: /not valid yet/ },
    { name: 'nbf in the future within the skew', claims: () => ({ nbf: t() + 10 }), status: 200 },
    { name: 'no tenant claim', claims: () => ({ tenant: undefined }), status: 401, detail: /tenant/ },
    { name: 'a tenant claim that is no tenant id', claims: () => ({ tenant: '../demo' }), status: 401, detail: /tenant/ },
    { name: 'a tenant claim that is not a string', claims: () => ({ tenant: ['demo'] }), status: 401, detail: /tenant/ },
  ];
  for (const c of cases)
    it(`${c.status === 200 ? 'accepts' : 'refuses'} a token with ${c.name}`, async () => {
      const r = await anchors(stack, `Bearer ${await jwt(ec, c.claims())}`);
      assert.equal(r.status, c.status, JSON.stringify(r.body));
      if (c.status === 401) {
        assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="evpki-ra", error="invalid_token"');
        assert.equal(r.headers.get('content-type'), 'application/problem+json');
        if (c.detail) assert.match(r.body.detail, c.detail);
      }
    });

  it('issue 14.14: refuses a token living longer than RA_JWT_MAX_TTL_SECONDS (default 24 h), by exp - iat and by exp from now (401, Token.lifetime)', async () => {
    const day = 86_400;
    for (const [name, claims] of [
      ['exp - iat over 24 h', { iat: t() - 10, exp: t() - 10 + day + 1 }],
      ['no iat, exp more than 24 h away', { exp: t() + day + 3600 }],
      ['an iat in the future cannot stretch it', { iat: t() + 365 * day, exp: t() + 365 * day + 60 }],
    ] as const) {
      const r = await anchors(stack, `Bearer ${await jwt(ec, claims)}`);
      assert.equal(r.status, 401, `${name}: ${JSON.stringify(r.body)}`);
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="evpki-ra", error="invalid_token"');
      assert.match(r.body.detail, /lifetime exceeds the accepted maximum of 86400 s/);
      assert.equal(r.body.violations[0].rule, 'Token.lifetime');
    }
    assert.equal((await anchors(stack, `Bearer ${await jwt(ec, { iat: t(), exp: t() + day })}`)).status, 200, 'exactly 24 h is accepted');
    assert.equal((await anchors(stack, `Bearer ${await jwt(ec, { exp: t() + day })}`)).status, 200, 'without iat too');
  });

  it('issue 14.14: refuses a token whose sub is a name the PKI uses for itself in the audit log (401, Token.subject)', async () => {
    for (const sub of ['cli', 'OCSP', ' anonymous', 'pki-cli', 'pki-ra', 'pki-ocsp', 'system', 'tenant:demo', 'sub-sha256:0123456789abcdef']) {
      const r = await anchors(stack, `Bearer ${await jwt(ec, { sub })}`);
      assert.equal(r.status, 401, `${JSON.stringify(sub)}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.violations[0].rule, 'Token.subject');
    }
    const entries = await stack.store.listAudit({ tenant: 'demo', afterSeq: 0, limit: 1000 });
    assert.ok(!entries.some((e) => ['cli', 'ocsp', 'anonymous'].includes(e.actor)), 'no demo entry in the PKI\'s own names');
    for (const sub of ['csms-backend', 'client-cli', 'ocsp-monitor']) assert.equal((await anchors(stack, `Bearer ${await jwt(ec, { sub })}`)).status, 200, sub);
  });

  it('refuses an algorithm the RA does not allow, even with a key it knows (EdDSA not in RA_JWT_ALGORITHMS)', async () => {
    const r = await anchors(stack, `Bearer ${await jwt(ed)}`);
    assert.equal(r.status, 401);
    assert.match(r.body.detail, /algorithm/);
  });

  it('refuses alg "none"', async () => {
    const unsigned = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iss: ISS, aud: AUD, exp: t() + 300, tenant: 'demo', scope: SCOPES.join(' ') })}.`;
    const r = await anchors(stack, `Bearer ${unsigned}`);
    assert.equal(r.status, 401);
  });

  it('refuses HS256 signed with the public key as the HMAC secret (algorithm confusion)', async () => {
    for (const secret of [JSON.stringify(ec.publicJwk), Buffer.from(ec.publicJwk.x!, 'base64url').toString('latin1')]) {
      const token = await new SignJWT({ tenant: 'demo', scope: SCOPES.join(' ') })
        .setProtectedHeader({ alg: 'HS256', kid: ec.kid })
        .setIssuer(ISS)
        .setAudience(AUD)
        .setExpirationTime(t() + 300)
        .sign(new TextEncoder().encode(secret));
      assert.equal((await anchors(stack, `Bearer ${token}`)).status, 401);
    }
  });

  it('refuses a token signed by a key not in the JWKs, and a tampered payload', async () => {
    const stranger = { ...(await signingKey('ec-1')) };
    assert.equal((await anchors(stack, `Bearer ${await jwt(stranger)}`)).status, 401);
    const [h, , s] = (await jwt(ec)).split('.');
    const forged = `${h}.${b64url({ iss: ISS, aud: AUD, exp: t() + 300, tenant: 'other', scope: SCOPES.join(' ') })}.${s}`;
    const r = await anchors(stack, `Bearer ${forged}`);
    assert.equal(r.status, 401);
    assert.match(r.body.detail, /signature/);
  });

  it('asks for credentials without an error code when there are none (RFC 6750 3.1), and refuses other schemes', async () => {
    const none = await anchors(stack);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="evpki-ra"');
    for (const header of ['Basic ZGVtbzpkZW1v', 'Bearer', 'Bearer a.b', `bearer  ${await jwt(ec)}`, `Bearer ${'a'.repeat(5000)}.b.c`])
      assert.equal((await anchors(stack, header)).status, 401, header.slice(0, 30));
  });

  it('records authentication failures in the audit log, without the token', async () => {
    const token = await jwt(ec, { aud: 'another-api' });
    assert.equal((await anchors(stack, `Bearer ${token}`)).status, 401);
    const entries = await stack.store.listAudit({ afterSeq: 0, limit: 1000 });
    const failed = entries.filter((e) => e.event === 'auth.failed');
    assert.ok(failed.some((e) => e.details?.reason === 'claims' && e.details?.route === 'GET /v1/trust-anchors'));
    assert.ok(failed.every((e) => e.outcome === 'refused' && e.tenant === undefined));
    const text = JSON.stringify(entries);
    assert.ok(!text.includes(token.split('.')[2]!), 'no token in the audit log');
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(text), 'nothing JWT-like in the audit log');
  });
});

describe('scopes and tenants', () => {
  let pki: DevPki;
  let stack: Stack;
  const { all: operations, find: operationOf } = loadOperations(OPENAPI_PATH);

  before(async () => {
    pki = await makeDevPki();
    stack = await startStack(pki);
    await stack.store.putTenant({ id: 'gone', cpoName: 'Gone CPO', disabled: true, createdAt: new Date().toISOString() });
  });
  after(async () => {
    await stack?.stop();
    pki?.cleanup();
  });

  // Every /v1 operation of openapi.yaml with a concrete path and a body that passes the schema.
  const calls: [string, string, unknown?][] = [
    ['PUT', '/v1/stations/cp-scope', { serialNumber: 'CP-SCOPE-1', allowed: true }],
    ['GET', '/v1/stations/cp-scope'],
    ['DELETE', '/v1/stations/cp-none'],
    ['POST', '/v1/stations/cp-none/certificates', { csr: '-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----\n', certificateType: 'ChargingStationCertificate' }],
    ['GET', '/v1/stations/cp-scope/certificates'],
    ['POST', '/v1/stations/cp-none/data-transfer', { vendorId: 'org.openchargealliance.iso15118pnc', messageId: 'SignCertificate', data: '{}' }],
    ['POST', '/v1/server-certificates', { csr: '-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----\n' }],
    ['GET', '/v1/certificates/01'],
    ['POST', '/v1/certificates/01/revoke', { reason: 'keyCompromise' }],
    ['POST', '/v1/certificate-status', { hashAlgorithm: 'SHA256', issuerNameHash: '0'.repeat(64), issuerKeyHash: '0'.repeat(64), serialNumber: '01', responderURL: 'http://127.0.0.1:1/ocsp' }],
    ['GET', '/v1/trust-anchors'],
    ['GET', '/v1/root/rootCerts'],
    ['GET', '/v1/audit'],
    ['GET', '/v1/manufacturers'],
    ['POST', '/v1/manufacturers', { name: 'Scoped', roots: '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n' }],
    ['GET', '/v1/manufacturers/Scoped'],
    ['DELETE', '/v1/manufacturers/Scoped'],
    ['POST', '/v1/manufacturer-certificates/verify', { chain: '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n' }],
    ['GET', '/v1/stations'],
    ['GET', '/v1/certificates'],
    ['GET', '/v1/certificates/expiring?within=30d'],
    ['GET', '/v1/issuers'],
    ['GET', '/v1/summary'],
  ];

  it('covers every /v1 operation of openapi.yaml', () => {
    const routes = new Set(calls.map(([m, p]) => operationOf(m, p.split('?')[0]!)?.route));
    assert.deepEqual([...routes].sort(), operations.map((o) => o.route).sort());
  });

  for (const [method, path, body] of calls) {
    it(`${method} ${path}: 403 insufficient_scope without its scopes, accepted with exactly them`, async () => {
      const needed = operationOf(method, path.split('?')[0]!)!.scopes;
      const others = SCOPES.filter((s) => !needed.includes(s));
      const without = await requestJson(stack.raUrl + path, method, body, { authorization: `Bearer ${await stack.token('demo', { scopes: others })}` });
      assert.equal(without.status, 403, JSON.stringify(without.body));
      assert.equal(without.headers.get('www-authenticate'), `Bearer realm="evpki-ra", error="insufficient_scope", scope="${needed.join(' ')}"`);
      assert.deepEqual(without.body.violations?.map((v: { rule: string }) => v.rule), ['Authz.scope'], 'the refusal names its rule');
      if (needed.length > 1) {
        const partial = await requestJson(stack.raUrl + path, method, body, { authorization: `Bearer ${await stack.token('demo', { scopes: [needed[0]!] })}` });
        assert.equal(partial.status, 403, 'every scope named is needed');
      }
      const withScopes = await requestJson(stack.raUrl + path, method, body, { authorization: `Bearer ${await stack.token('demo', { scopes: needed })}` });
      assert.notEqual(withScopes.status, 401);
      assert.ok(!/insufficient_scope/.test(withScopes.headers.get('www-authenticate') ?? ''), JSON.stringify(withScopes.body));
      assert.ok(withScopes.status < 500, JSON.stringify(withScopes.body));
    });
  }

  it('refuses a token without a scope claim for everything', async () => {
    const token = await stack.token('demo', { scopes: [] as string[] });
    for (const [method, path, body] of calls) assert.equal((await requestJson(stack.raUrl + path, method, body, { authorization: `Bearer ${token}` })).status, 403, `${method} ${path}`);
  });

  it('refuses tokens of a disabled or unknown tenant (403) and records it', async () => {
    for (const tenant of ['gone', 'nobody']) {
      const r = await anchors(stack, `Bearer ${await stack.token(tenant)}`);
      assert.equal(r.status, 403);
      assert.match(r.body.detail, new RegExp(`${tenant} is unknown or disabled`));
      assert.deepEqual(r.body.violations?.map((v: { rule: string }) => v.rule), ['Authz.tenant']);
    }
    const entries = await stack.store.listAudit({ tenant: 'gone', afterSeq: 0, limit: 100 });
    assert.ok(entries.some((e) => e.event === 'auth.forbidden' && e.actor === 'dev-token' && e.rules?.includes('Authz.tenant')), 'recorded with its rule');
  });
});

describe('pki token (dev PKI only)', () => {
  let pki: DevPki;
  before(async () => {
    pki = await makeDevPki();
  });
  after(() => pki?.cleanup());

  const pkiCli = (args: string[]) => runPki([...args, '--data-dir', pki.dataDir]);
  const claims = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;

  it('mints a token with the chosen tenant, scopes, audience and lifetime', async () => {
    const { stdout, code } = await pkiCli(['token', '--tenant', 'demo', '--scope', 'status:read', '--scope', 'audit:read,certificates:sign', '--audience', 'other-aud', '--ttl', '120']);
    assert.equal(code, 0);
    const c = claims(stdout.trim());
    assert.equal(c.tenant, 'demo');
    assert.equal(c.scope, 'status:read audit:read certificates:sign');
    assert.equal(c.aud, 'other-aud');
    assert.equal(Number(c.exp) - Number(c.iat), 120);
    assert.equal(c.nbf, c.iat);
    assert.equal(claims((await pkiCli(['token', '--tenant', 'demo'])).stdout.trim()).scope, SCOPES.join(' '), 'every scope by default');
  });

  it('issue 14.14: pki token mints no token longer-lived than RA_JWT_MAX_TTL_SECONDS, and its sub is no name of the PKI', async () => {
    const refused = await runPki(['token', '--tenant', 'demo', '--ttl', '601', '--data-dir', pki.dataDir], { RA_JWT_MAX_TTL_SECONDS: '600' });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--ttl must be 60\.\.600 seconds \(RA_JWT_MAX_TTL_SECONDS/);
    const ok = await runPki(['token', '--tenant', 'demo', '--ttl', '600', '--data-dir', pki.dataDir], { RA_JWT_MAX_TTL_SECONDS: '600' });
    assert.equal(ok.code, 0, ok.stderr);
    const c = claims(ok.stdout.trim());
    assert.equal(Number(c.exp) - Number(c.iat), 600);
    assert.equal(c.sub, 'dev-token', 'not pki-cli: the RA refuses the names of the PKI itself');
  });

  it('refuses unknown scopes, bad lifetimes and a PKI that is not a dev one', async () => {
    for (const [args, message] of [
      [['--scope', 'certificates:issue'], /unknown scope certificates:issue/],
      [['--ttl', '59'], /--ttl/],
      [['--ttl', '86401'], /--ttl/],
    ] as const) {
      const r = await pkiCli(['token', '--tenant', 'demo', ...args]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, message);
    }
    const manifest = JSON.parse(readFileSync(join(pki.dataDir, 'pki.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(pki.dataDir, 'pki.json'), JSON.stringify({ ...manifest, dev: false }));
    const r = await pkiCli(['token', '--tenant', 'demo']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /only against a dev PKI/);
  });
});

describe('RA JWT configuration', () => {
  let pki: DevPki;
  before(async () => {
    pki = await makeDevPki();
  });
  after(() => pki?.cleanup());

  const base = (): Record<string, string> => ({ PKI_DATA_DIR: pki.dataDir });
  const refused: [string, Record<string, string>, RegExp][] = [
    ['HMAC in the allow-list', { RA_JWT_ALGORITHMS: 'ES256,HS256' }, /HS256 not allowed/],
    ['none in the allow-list', { RA_JWT_ALGORITHMS: 'none' }, /none not allowed/],
    ['an empty allow-list', { RA_JWT_ALGORITHMS: ' , ' }, /not allowed/],
    ['a clock skew over 300 s', { RA_JWT_CLOCK_SKEW_SECONDS: '301' }, /RA_JWT_CLOCK_SKEW_SECONDS/],
    ['a plain-http JWKS URL off localhost', { RA_JWT_JWKS_URL: 'http://idp.example/jwks' }, /https/],
    ['both a JWKS URL and a file', { RA_JWT_JWKS_URL: 'https://idp.example/jwks', RA_JWT_JWKS_FILE: '/x' }, /not both/],
  ];
  for (const [name, env, message] of refused)
    it(`refuses ${name} at start`, () => {
      assert.throws(() => loadRaConfig({ ...base(), ...env }), (e: unknown) => e instanceof ConfigError && message.test(e.message));
    });

  it('issue 14.14: RA_JWT_MAX_TTL_SECONDS defaults to 24 h, bounded 60..30 days', () => {
    assert.equal(loadRaConfig(base()).jwtMaxTtlSeconds, 86_400);
    assert.equal(loadRaConfig({ ...base(), RA_JWT_MAX_TTL_SECONDS: '3600' }).jwtMaxTtlSeconds, 3600);
    for (const v of ['59', '2592001', 'x']) assert.throws(() => loadRaConfig({ ...base(), RA_JWT_MAX_TTL_SECONDS: v }), /RA_JWT_MAX_TTL_SECONDS/);
  });

  it('refuses a missing or unreadable JWKS file (read when the RA starts)', () => {
    assert.throws(() => readJwks('/nonexistent/jwks.json'), /cannot read/);
    const file = join(pki.dataDir, 'not-json.json');
    writeFileSync(file, 'not json');
    assert.throws(() => readJwks(file), /cannot read/);
  });

  it('refuses a JWKS file holding a private or symmetric key', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    for (const [name, jwk] of [
      ['private', await exportJWK(privateKey)],
      ['symmetric', { kty: 'oct', k: 'c2VjcmV0' }],
    ] as const) {
      const file = join(pki.dataDir, `${name}.json`);
      writeFileSync(file, JSON.stringify({ keys: [jwk] }));
      assert.throws(() => readJwks(file), /private or symmetric/);
    }
  });
});
