/**
 * Issue 20: a service process never ends silently. Whatever stops it at start or later is logged as
 * `service.fatal` with its cause and exits 1; SIGTERM stops it cleanly with 0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { freePort, spawnService, waitReady, type Proc } from './helpers/processes.js';
import { makeDevPki, type DevPki } from './helpers/pki.js';

const exitOf = (p: Proc): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  p.child.exitCode !== null || p.child.signalCode !== null
    ? Promise.resolve({ code: p.child.exitCode, signal: p.child.signalCode })
    : new Promise((r) => p.child.once('exit', (code, signal) => r({ code, signal })));

describe('service processes (issue 20)', () => {
  let pki: DevPki;
  let squatter: Server;
  let taken: number;

  before(async () => {
    pki = await makeDevPki();
    taken = await freePort();
    squatter = createServer().listen(taken, '127.0.0.1');
    await new Promise((r) => squatter.once('listening', r));
  });
  after(() => {
    squatter.close();
    pki.cleanup();
  });

  it('a port already in use: service.fatal names EADDRINUSE and the process exits 1 (RA, OCSP, CA)', async () => {
    const cases: [string, 'ra' | 'ocsp' | 'ca', Record<string, string>][] = [
      ['ra', 'ra', { RA_PORT: String(taken) }],
      ['ocsp', 'ocsp', { OCSP_PORT: String(taken), CA_PORT: String(await freePort()) }],
      ['ca', 'ca', { CA_PORT: String(taken), CA_OPS_PORT: String(await freePort()) }],
    ];
    for (const [name, service, env] of cases) {
      const p = spawnService(name, service, { PKI_DATA_DIR: pki.dataDir, ...env });
      const { code } = await exitOf(p);
      assert.equal(code, 1, `${name}:\n${p.output()}`);
      const fatal = p.output().split('\n').filter((l) => l.includes('"service.fatal"'));
      assert.equal(fatal.length, 1, `${name}: one fatal line:\n${p.output()}`);
      assert.match(fatal[0]!, /EADDRINUSE/);
      assert.match(fatal[0]!, /"level":"fatal"/);
    }
  });

  it('a configuration error is logged as service.fatal naming the variable, exit 1', async () => {
    const p = spawnService('ra', 'ra', { PKI_DATA_DIR: pki.dataDir, RA_PORT: '0', RA_NO_SUCH_SETTING: '1' });
    assert.equal((await exitOf(p)).code, 1, p.output());
    assert.match(p.output(), /"service\.fatal".*RA_NO_SUCH_SETTING/);
  });

  it('the ports tests give services are distinct and outside the kernel ephemeral range (the cause of issue 20)', async () => {
    const [lo] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    const ports = await Promise.all(Array.from({ length: 200 }, () => freePort()));
    assert.equal(new Set(ports).size, ports.length, 'no port handed out twice');
    assert.deepEqual(ports.filter((p) => p >= lo!), [], `none from listen(0)'s range (from ${lo})`);
  });

  it('SIGTERM after start: a clean stop, exit 0, nothing fatal', async () => {
    const port = await freePort();
    const ca = spawnService('ca', 'ca', { PKI_DATA_DIR: pki.dataDir, CA_PORT: String(await freePort()), CA_OPS_PORT: String(port) });
    await waitReady(ca, `http://127.0.0.1:${port}/readyz`);
    ca.child.kill('SIGTERM');
    assert.deepEqual(await exitOf(ca), { code: 0, signal: null }, ca.output());
    assert.doesNotMatch(ca.output(), /service\.fatal/);
  });
});
