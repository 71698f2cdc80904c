/**
 * The services' allocator (libs/service/src/allocator.ts): jemalloc, preloaded by the image's ENV and,
 * on a machine that has it, by `make run` and the tests' and benches' spawns. `make image-test` checks
 * that every service process in the image maps it.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGE_JEMALLOC, JEMALLOC_CONF, allocatorEnv, hostJemalloc } from '@evpki/service/allocator';
import { ROOT } from './helpers/processes.js';

const NO_JEMALLOC = hostJemalloc() === undefined && 'this machine has no jemalloc (apt-get install libjemalloc2; .ci/run installs it)';

it('the image preloads its jemalloc with the allocator settings: the Dockerfile and make image say the same', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const buildah = readFileSync(join(ROOT, 'scripts/build-image.sh'), 'utf8');
  assert.match(dockerfile, new RegExp(`^ENV LD_PRELOAD=${IMAGE_JEMALLOC} MALLOC_CONF=${JEMALLOC_CONF}$`, 'm'));
  assert.match(buildah, new RegExp(`--env LD_PRELOAD=${IMAGE_JEMALLOC} --env MALLOC_CONF=${JEMALLOC_CONF} `));
  assert.match(readFileSync(join(ROOT, 'scripts/image/rootfs.sh'), 'utf8'), new RegExp(`cp -L "\\$JEMALLOC" "\\$OUT${IMAGE_JEMALLOC}"`));
});

it('a launcher on this machine: jemalloc with the settings, unless LD_PRELOAD is set', { skip: NO_JEMALLOC }, () => {
  assert.deepEqual(allocatorEnv({}), { LD_PRELOAD: hostJemalloc(), MALLOC_CONF: JEMALLOC_CONF });
  assert.deepEqual(allocatorEnv({ MALLOC_CONF: 'narenas:1' }), { LD_PRELOAD: hostJemalloc(), MALLOC_CONF: 'narenas:1' }, "an operator's MALLOC_CONF stays");
  assert.deepEqual(allocatorEnv({ LD_PRELOAD: '' }), {}, 'an empty LD_PRELOAD opts out, as in the image');
  assert.deepEqual(allocatorEnv({ LD_PRELOAD: '/opt/other.so' }), {});
});

it('node runs on it, and jemalloc accepts every setting (it names a setting it does not know on stderr)', { skip: NO_JEMALLOC }, () => {
  const env = { PATH: process.env.PATH ?? '', ...allocatorEnv({}) };
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(require("fs").readFileSync("/proc/self/maps", "utf8"))'], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /libjemalloc\.so\.2/);
  assert.equal(r.stderr, '', 'no <jemalloc> complaint about MALLOC_CONF');
  // The check can fail: a setting jemalloc does not know is reported.
  const bad = spawnSync(process.execPath, ['-e', '0'], { env: { ...env, MALLOC_CONF: `${JEMALLOC_CONF},no_such_setting:1` }, encoding: 'utf8' });
  assert.match(bad.stderr, /<jemalloc>: Invalid conf pair: no_such_setting:1/);
});
