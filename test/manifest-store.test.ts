/**
 * pki.json records the store a PKI was made in (Manifest.store): `pki init` writes it (a Redis URL
 * without credentials), and every `pki` command and every service refuses another store configured
 * (exit 2 / service.fatal naming both) instead of answering from an empty one. Real CLI, real
 * services, a real redis-server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '@evpki/cli';
import { checkManifestStore, dataPaths, redisLocation } from '@evpki/service';
import { ROOT, freePort, runPki, serviceEnv, spawnNode } from './helpers/processes.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

const work = mkdtempSync(join(tmpdir(), 'evpki-manifest-store-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** The environment with only the REDIS_* variables the test sets (none from this process's). */
const withoutRedis = (env: NodeJS.ProcessEnv, keep: Record<string, string>): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('REDIS_') || k in keep));

const manifestOf = (dir: string) => JSON.parse(readFileSync(dataPaths(dir).manifest, 'utf8')) as Record<string, unknown>;

async function init(name: string, env: Record<string, string> = {}): Promise<string> {
  const dir = join(work, name);
  const r = await runPki(['init', '--dev', '--data-dir', dir, '--quiet'], env);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

/** The CLI's refusal: exit 2, one line naming what pki.json records and what is configured, nothing opened. */
async function assertRefused(dir: string, env: Record<string, string>, recorded: RegExp, configured: RegExp): Promise<void> {
  for (const args of [['tenants', 'list'], ['audit', 'verify'], ['token', '--tenant', 'demo']]) {
    const r = await runPki([...args, '--data-dir', dir], env);
    assert.equal(r.code, EXIT.badInput, `pki ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /Manifest\.store/);
    assert.match(r.stderr, recorded);
    assert.match(r.stderr, configured);
    assert.equal(r.stdout, '', 'nothing answered');
  }
}

describe('Manifest.store: the rule', () => {
  it('a Redis URL is recorded without user name or password, with its port and database spelt out', () => {
    assert.equal(redisLocation('redis://pki-ra:s3cret@Redis.EV-PKI.svc:6380/2'), 'redis://redis.ev-pki.svc:6380/2');
    assert.equal(redisLocation('rediss://:pw@10.0.0.5'), 'rediss://10.0.0.5:6379/0');
  });

  it('refuses another backend or another host, port or database; a manifest without a record takes the configuration, with a note', () => {
    const redis = (url: string) => ({ redis: { url, commandTimeoutMs: 1, waitReplicas: 0, waitTimeoutMs: 1 } });
    const recorded = { backend: 'redis', url: 'redis://redis:6379/0' } as const;
    assert.deepEqual(checkManifestStore(recorded, redis('redis://pki-ca:pw@redis:6379'), 'pki.json'), {});
    assert.deepEqual(checkManifestStore({ backend: 'lmdb' }, {}, 'pki.json'), {});
    for (const url of ['redis://redis:6380', 'redis://redis:6379/1', 'redis://other:6379', 'rediss://redis:6379'])
      assert.throws(() => checkManifestStore(recorded, redis(url), 'pki.json'), (e: Error) => e.name === 'ConfigError' && e.message.includes('redis://redis:6379/0') && e.message.includes(redisLocation(url)));
    assert.throws(() => checkManifestStore(recorded, {}, 'pki.json'), /records the store as Redis at redis:\/\/redis:6379\/0, but the configuration names LMDB .*REDIS_URL is not set/);
    assert.throws(() => checkManifestStore({ backend: 'lmdb' }, redis('redis://redis:6379'), 'pki.json'), /records the store as LMDB .* Redis at redis:\/\/redis:6379\/0 \(REDIS_URL\); unset REDIS_URL/);
    assert.match(checkManifestStore(undefined, {}, 'pki.json').note ?? '', /records no store .*LMDB/);
    assert.match(checkManifestStore(undefined, redis('redis://redis:6379'), 'pki.json').note ?? '', /records no store .*Redis at redis:\/\/redis:6379\/0 \(REDIS_URL\)/);
  });
});

describe('Manifest.store: pki and the services', () => {
  let redis: TestRedis;
  let lmdbDir: string;
  let redisDir: string;
  before(async () => {
    redis = await startRedis();
    lmdbDir = await init('lmdb');
    redisDir = await init('redis', redis.env);
  });
  after(async () => {
    await redis?.stop();
  });

  it('pki init records the backend: LMDB, or the Redis URL without secrets', () => {
    assert.deepEqual(manifestOf(lmdbDir).store, { backend: 'lmdb' });
    assert.deepEqual(manifestOf(redisDir).store, { backend: 'redis', url: redisLocation(redis.url) });
  });

  it('a Redis PKI without REDIS_URL: every command refuses (exit 2) and no LMDB store is made', async () => {
    await assertRefused(redisDir, {}, new RegExp(`Redis at ${redisLocation(redis.url).replace(/[/.]/g, '\\$&')}`), /LMDB .*REDIS_URL is not set/);
    assert.equal(existsSync(dataPaths(redisDir).store), false, 'no empty LMDB store');
  });

  it('a Redis PKI with another database, and an LMDB PKI with REDIS_URL set: refused', async () => {
    const other = `${redis.url}/3`;
    await assertRefused(redisDir, { REDIS_URL: other }, /Redis at redis:\/\/127\.0\.0\.1:\d+\/0/, /Redis at redis:\/\/127\.0\.0\.1:\d+\/3/);
    await assertRefused(lmdbDir, redis.env, /LMDB in the data directory/, /Redis at .*\(REDIS_URL\); unset REDIS_URL/);
  });

  it('the same store: the commands run', async () => {
    for (const [dir, env] of [[redisDir, redis.env], [lmdbDir, {}]] as const) {
      const r = await runPki(['tenants', 'list', '--json', '--data-dir', dir], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /"demo"/);
      assert.doesNotMatch(r.stderr, /note/);
    }
  });

  it('a manifest from before the record: LMDB, or the Redis REDIS_URL names, with a note saying so', async () => {
    for (const [dir, env, backend] of [[lmdbDir, {}, /LMDB .*\(no REDIS_URL\)/], [redisDir, redis.env, /Redis at .*\(REDIS_URL\)/]] as const) {
      const path = dataPaths(dir).manifest;
      const saved = readFileSync(path, 'utf8');
      const { store: _store, ...old } = JSON.parse(saved) as Record<string, unknown>;
      writeFileSync(path, JSON.stringify(old));
      try {
        const r = await runPki(['tenants', 'list', '--data-dir', dir], env);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /records no store/);
        assert.match(r.stderr, backend);
      } finally {
        writeFileSync(path, saved);
      }
    }
  });

  it('a service started on another store than pki.json records exits with service.fatal naming both', async () => {
    for (const [service, env] of [['ra', { PKI_DATA_DIR: redisDir }], ['ocsp', { PKI_DATA_DIR: lmdbDir, ...redis.env }], ['ca', { PKI_DATA_DIR: redisDir, REDIS_URL: `${redis.url}/5` }]] as const) {
      const port = String(await freePort());
      // spawnNode, not spawnService: this exit is the expected one (spawnService reports any).
      const p = spawnNode(`mismatch-${service}`, [join(ROOT, `services/${service}/dist/main.js`)], withoutRedis(serviceEnv({ ...env, RA_PORT: port, OCSP_PORT: port, CA_PORT: port, CA_OPS_PORT: String(await freePort()) }), env));
      const code = await new Promise<number | null>((r) => p.child.once('exit', (c) => r(c)));
      assert.equal(code, 1, `${service}: ${p.output()}`);
      assert.match(p.output(), /service\.fatal/);
      assert.match(p.output(), /Manifest\.store: .* records the store as .*, but the configuration names /, service);
    }
  });
});
