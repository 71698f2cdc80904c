/**
 * Kubernetes projected service account tokens at the RA (issue 18): a local OIDC issuer (node:http)
 * serves the discovery document and JWKS only to a caller with the RA's own token, as a
 * kube-apiserver does, and signs tokens shaped like Kubernetes' (RS256, iss, sub
 * system:serviceaccount:<ns>:<name>, aud, exp, iat, nbf, kubernetes.io). The shipped CronJob's
 * projected volume and service account are read from k8s/ and the real `pki renew` runs with such a
 * token; every other token shape is refused with its named rule.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWTPayload } from 'jose';
import { parseAllDocuments } from 'yaml';
import { loadRaConfig, parseServiceAccountMap, serviceAccountTokens } from '@evpki/ra';
import { AppError, ConfigError } from '@evpki/service';
import { pemBlocks } from '@evpki/x509';
import { TEST_DIR } from './helpers/fixtures.js';
import { api, makeDevPki, startStack, type DevPki, type Stack } from './helpers/pki.js';

const REPO = join(TEST_DIR, '..');
const PKI = join(REPO, 'services', 'cli', 'bin', 'pki.js');
const RA_OWN_TOKEN = 'ra-own-service-account-token';

/** The shipped CronJob: its service account, namespace and the projected token for the RA. */
const cronDocs = parseAllDocuments(readFileSync(join(REPO, 'k8s', 'cronjob-csms-cert.yaml'), 'utf8')).map((d) => d.toJS());
const cron = cronDocs.find((d) => d.kind === 'CronJob');
const pod = cron.spec.jobTemplate.spec.template.spec;
const raTokenSource = (pod.volumes as any[]).find((v) => v.name === 'ra-token').projected.sources[0].serviceAccountToken;
const NAMESPACE = 'ev-pki';
const ACCOUNT = `system:serviceaccount:${NAMESPACE}:${pod.serviceAccountName as string}`;

let issuerServer: Server;
let issuer: string;
const fetched: { url: string; headers: IncomingHttpHeaders }[] = [];
let key: CryptoKey;
let otherKey: CryptoKey;
let pki: DevPki;
let stack: Stack;
let work: string;

const t = (): number => Math.floor(Date.now() / 1000);

/** A token as the kubelet gets it for the CronJob's pod: the projected volume's audience and lifetime. */
async function k8sToken(over: JWTPayload = {}, signWith: CryptoKey = key, kid = 'k8s-1'): Promise<string> {
  const now = t();
  const [, , ns, name] = ACCOUNT.split(':');
  const claims: JWTPayload = {
    iss: issuer,
    sub: ACCOUNT,
    aud: [raTokenSource.audience as string],
    iat: now,
    nbf: now,
    exp: now + (raTokenSource.expirationSeconds as number),
    'kubernetes.io': {
      namespace: ns,
      serviceaccount: { name, uid: '5f0b8a1e-0000-4000-8000-000000000001' },
      pod: { name: 'csms-cert-renew-28930000-abcde', uid: '5f0b8a1e-0000-4000-8000-000000000002' },
    },
    ...over,
  };
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(signWith);
}

before(async () => {
  const pair = await generateKeyPair('RS256');
  key = pair.privateKey;
  const pub = await exportJWK(pair.publicKey);
  ({ privateKey: otherKey } = await generateKeyPair('RS256'));
  // A second, unrelated key in the set, as during the cluster's key rotation.
  const jwk = { ...(await exportJWK((await generateKeyPair('RS256')).publicKey)), kid: 'unused' };
  issuerServer = createServer((req, res) => {
    fetched.push({ url: req.url ?? '', headers: req.headers });
    // The API server's discovery endpoints want an authenticated caller (system:service-account-issuer-discovery).
    if (req.headers.authorization !== `Bearer ${RA_OWN_TOKEN}`) return void res.writeHead(401).end();
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration')
      return void res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/openid/v1/jwks`, response_types_supported: ['id_token'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'] }));
    if (req.url === '/openid/v1/jwks') return void res.end(JSON.stringify({ keys: [{ ...pub, kid: 'k8s-1', use: 'sig', alg: 'RS256' }, jwk] }));
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => issuerServer.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
  work = mkdtempSync(join(tmpdir(), 'evpki-k8s-sa-'));
  writeFileSync(join(work, 'ra-token'), RA_OWN_TOKEN + '\n');
  pki = await makeDevPki();
  stack = await startStack(pki, {
    raEnv: {
      RA_K8S_ISSUER: issuer,
      RA_K8S_API_TOKEN_FILE: join(work, 'ra-token'),
      RA_K8S_SA_MAP: JSON.stringify({ [ACCOUNT]: { tenant: 'demo', scopes: ['server-certificates:sign'] } }),
    },
  });
});
after(async () => {
  await stack?.stop();
  pki?.cleanup();
  await new Promise((resolve) => issuerServer?.close(resolve));
  if (work) rmSync(work, { recursive: true, force: true });
});

/** `pki renew`, the CronJob's command, spawned (the stack serves from this process). */
function pkiRenew(tokenFile: string, dir: string): Promise<{ code: number; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PKI|RA|CA|OCSP)_/.test(k)));
  const args = ['renew', '--ra-url', stack.raUrl, '--token-file', tokenFile, '--org', 'Demo CPO', '--cn', 'csms.demo.local', '--key-out', join(dir, 'key.pem'), '--cert-out', join(dir, 'chain.pem')];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PKI, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

const serverCertificate = (token: string) => api(stack, 'POST', '/v1/server-certificates', {}, { authorization: `Bearer ${token}` });

describe('Kubernetes service account tokens (RA_K8S_*)', () => {
  it("the shipped CronJob's projected token (audience evpki-ra) renews the CSMS certificate with the real pki renew; keys found by OIDC discovery with the RA's own token", async () => {
    assert.equal(raTokenSource.audience, 'evpki-ra');
    assert.ok(raTokenSource.expirationSeconds >= 600 && raTokenSource.expirationSeconds <= 86_400, 'a lifetime Kubernetes allows and the RA accepts');
    const tokenFile = join(work, 'cron-token');
    writeFileSync(tokenFile, await k8sToken());
    const r = await pkiRenew(tokenFile, work);
    assert.equal(r.code, 0, r.stderr);
    const leaf = new X509Certificate(pemBlocks(readFileSync(join(work, 'chain.pem'), 'utf8'), 'CERTIFICATE')[0]!);
    assert.match(leaf.subject, /CN=csms\.demo\.local/);
    assert.deepEqual(fetched.map((f) => f.url).slice(0, 2), ['/.well-known/openid-configuration', '/openid/v1/jwks']);
    assert.ok(fetched.every((f) => f.headers.authorization === `Bearer ${RA_OWN_TOKEN}`));
    // The audit log names the service account.
    const issued = (await stack.store.listAudit({ tenant: 'demo', afterSeq: 0, limit: 1000 })).filter((e) => e.event === 'certificate.issued');
    assert.equal(issued.at(-1)?.actor, ACCOUNT);
  });

  it('the account has only its mapped scopes: other operations are 403 Authz.scope', async () => {
    const r = await api(stack, 'GET', '/v1/trust-anchors', undefined, { authorization: `Bearer ${await k8sToken()}` });
    assert.equal(r.status, 403);
    assert.equal(r.body.violations[0].rule, 'Authz.scope');
  });

  const refused: { name: string; token: () => Promise<string>; rule: string | undefined; detail: RegExp }[] = [
    { name: 'wrong audience (the API server default)', token: () => k8sToken({ aud: ['https://kubernetes.default.svc.cluster.local'] }), rule: 'Token.k8s.audience', detail: /aud claim/ },
    { name: 'unknown service account', token: () => k8sToken({ sub: 'system:serviceaccount:ev-pki:default', 'kubernetes.io': { namespace: 'ev-pki', serviceaccount: { name: 'default', uid: 'x' } } }), rule: 'Token.k8s.account', detail: /ev-pki\/default is not mapped/ },
    { name: 'same name in another namespace', token: () => k8sToken({ sub: `system:serviceaccount:other:${pod.serviceAccountName as string}`, 'kubernetes.io': { namespace: 'other', serviceaccount: { name: pod.serviceAccountName } } }), rule: 'Token.k8s.account', detail: /not mapped/ },
    { name: 'kubernetes.io claims naming another account than sub', token: () => k8sToken({ 'kubernetes.io': { namespace: 'kube-system', serviceaccount: { name: 'csms-cert-renew' } } }), rule: 'Token.k8s.account', detail: /do not name one service account/ },
    { name: 'no kubernetes.io claim', token: () => k8sToken({ 'kubernetes.io': undefined }), rule: 'Token.k8s.account', detail: /do not name one service account/ },
    { name: 'expired', token: () => k8sToken({ iat: t() - 7200, nbf: t() - 7200, exp: t() - 3600 }), rule: 'Token.k8s.expired', detail: /expired/ },
    { name: 'wrong issuer (another cluster)', token: () => k8sToken({ iss: 'https://other-cluster.example.com' }), rule: 'Token.k8s.issuer', detail: /iss claim/ },
    { name: 'signed by a key not in the JWKS', token: () => k8sToken({}, otherKey, 'k8s-2'), rule: undefined, detail: /unknown key/ },
    { name: 'signed by another key under the known kid', token: () => k8sToken({}, otherKey), rule: undefined, detail: /signature/ },
    { name: 'lifetime beyond RA_JWT_MAX_TTL_SECONDS (a legacy-extended token)', token: () => k8sToken({ exp: t() + 365 * 86_400 }), rule: 'Token.lifetime', detail: /lifetime/ },
  ];
  for (const c of refused)
    it(`refused: ${c.name} (401${c.rule ? `, ${c.rule}` : ''})`, async () => {
      const r = await serverCertificate(await c.token());
      assert.equal(r.status, 401, JSON.stringify(r.body));
      assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="evpki-ra", error="invalid_token"');
      assert.match(r.body.detail, c.detail);
      assert.equal(r.body.violations?.[0]?.rule, c.rule);
    });

  it('the RA\'s other tokens still work beside them (pki token of the data dir)', async () => {
    assert.equal((await api(stack, 'GET', '/v1/trust-anchors')).status, 200);
  });
});

describe('the cluster\'s keys cannot be fetched: 503, not the caller\'s fault', () => {
  const verifierFor = (over: Partial<Parameters<typeof serviceAccountTokens>[0]>) =>
    serviceAccountTokens(
      { issuer, audience: 'evpki-ra', jwksUrl: undefined, fetch: { cooldownSeconds: 0, timeoutMs: 2000, bearerTokenFile: join(work, 'ra-token') }, accounts: new Map([[ACCOUNT, { tenant: 'demo', scopes: ['status:read'] }]]), ...over },
      { algorithms: ['RS256'], clockToleranceSeconds: 30, maxTtlSeconds: 86_400, now: () => new Date() },
    )(() => Promise.reject(new Error('not a service account token')));
  const unavailable = (e: unknown): boolean => e instanceof AppError && e.kind === 'unavailable';

  it('the RA\'s own token file unreadable (discovery asks with it)', async () => {
    const verify = verifierFor({ fetch: { cooldownSeconds: 0, timeoutMs: 2000, bearerTokenFile: join(work, 'no-such-token') } });
    await assert.rejects(verify(`Bearer ${await k8sToken()}`), unavailable);
  });
  it('the issuer unreachable', async () => {
    const verify = verifierFor({ jwksUrl: 'http://127.0.0.1:9/openid/v1/jwks' });
    await assert.rejects(verify(`Bearer ${await k8sToken()}`), unavailable);
  });
  for (const [name, doc] of [
    ['a discovery document naming another issuer', (_self: string) => ({ issuer: 'https://elsewhere.example', jwks_uri: `${issuer}/openid/v1/jwks` })],
    ['a jwks_uri over plain http elsewhere (the RA\'s token would travel in clear)', (self: string) => ({ issuer: self, jwks_uri: 'http://keys.example/openid/v1/jwks' })],
  ] as const)
    it(name, async () => {
      let self = '';
      const other = createServer((_req, res) => void res.setHeader('content-type', 'application/json').end(JSON.stringify(doc(self))));
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
      try {
        self = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
        const verify = verifierFor({ issuer: self });
        await assert.rejects(verify(`Bearer ${await k8sToken({ iss: self })}`), unavailable);
      } finally {
        await new Promise((resolve) => other.close(resolve));
      }
    });
  it('and once the keys can be fetched, the same verifier accepts (a failed discovery is tried again)', async () => {
    const verify = verifierFor({ fetch: { cooldownSeconds: 0, timeoutMs: 2000, bearerTokenFile: join(work, 'late-token') } });
    await assert.rejects(verify(`Bearer ${await k8sToken()}`), unavailable);
    writeFileSync(join(work, 'late-token'), RA_OWN_TOKEN);
    const caller = await verify(`Bearer ${await k8sToken()}`);
    assert.deepEqual([caller.tenant, caller.subject, [...caller.scopes]], ['demo', ACCOUNT, ['status:read']]);
  });
});

describe('RA_K8S_* configuration', () => {
  const base = { PKI_DATA_DIR: '/nonexistent', RA_K8S_ISSUER: 'https://kubernetes.default.svc.cluster.local' };
  const map = (m: unknown): string => JSON.stringify(m);
  const cases: { name: string; env: Record<string, string>; error: RegExp }[] = [
    { name: 'a map without the issuer', env: { PKI_DATA_DIR: '/x', RA_K8S_SA_MAP: map({}) }, error: /RA_K8S_SA_MAP set without RA_K8S_ISSUER/ },
    { name: 'the issuer without a map', env: base, error: /RA_K8S_ISSUER needs RA_K8S_SA_MAP/ },
    { name: 'a plain-http issuer off localhost', env: { ...base, RA_K8S_ISSUER: 'http://kubernetes.default.svc', RA_K8S_SA_MAP: map({ [ACCOUNT]: { tenant: 'demo', scopes: ['status:read'] } }) }, error: /RA_K8S_ISSUER must be https/ },
    { name: 'not JSON', env: { ...base, RA_K8S_SA_MAP: 'ev-pki/csms=demo' }, error: /must be a JSON object/ },
    { name: 'a key that is no service account', env: { ...base, RA_K8S_SA_MAP: map({ 'ev-pki:csms': { tenant: 'demo', scopes: ['status:read'] } }) }, error: /is not system:serviceaccount:<namespace>:<name>/ },
    { name: 'an invalid tenant', env: { ...base, RA_K8S_SA_MAP: map({ [ACCOUNT]: { tenant: 'Demo', scopes: ['status:read'] } }) }, error: /names no valid tenant id/ },
    { name: 'an unknown scope', env: { ...base, RA_K8S_SA_MAP: map({ [ACCOUNT]: { tenant: 'demo', scopes: ['admin'] } }) }, error: /non-empty list of scopes/ },
    { name: 'no scopes', env: { ...base, RA_K8S_SA_MAP: map({ [ACCOUNT]: { tenant: 'demo', scopes: [] } }) }, error: /non-empty list of scopes/ },
    { name: 'an unknown member', env: { ...base, RA_K8S_SA_MAP: map({ [ACCOUNT]: { tenant: 'demo', scopes: ['status:read'], admin: true } }) }, error: /"tenant", "scopes"/ },
    { name: 'an empty map', env: { ...base, RA_K8S_SA_MAP: map({}) }, error: /maps no service account/ },
  ];
  for (const c of cases)
    it(`refused at start: ${c.name}`, () => {
      assert.throws(() => loadRaConfig(c.env), (e: unknown) => e instanceof ConfigError && c.error.test(e.message));
    });

  it('a valid map: one grant per account, scopes deduplicated; the audience defaults to evpki-ra', () => {
    const c = loadRaConfig({ ...base, RA_K8S_SA_MAP: map({ [ACCOUNT]: { tenant: 'demo', scopes: ['server-certificates:sign', 'server-certificates:sign'] } }) });
    assert.equal(c.k8sServiceAccounts?.audience, 'evpki-ra');
    assert.deepEqual(parseServiceAccountMap(map({ [ACCOUNT]: { tenant: 'demo', scopes: ['status:read', 'status:read'] } })).get(ACCOUNT), { tenant: 'demo', scopes: ['status:read'] });
  });
});
