import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { buildOcspRequest } from '@evpki/ocsp';
import { newP256Csr } from './helpers/csr.js';
import { api, makeDevPki, registerStation, startStack } from './helpers/pki.js';

/**
 * Issue 15: each service starts and stops everything it runs in one place (lifecycle.ts of the CA
 * and the responder; the RA's stop): after stop() no timer it armed is left, not even an unref'd
 * one (issuer reloads, CRL publishers, signer checks, pre-signing, audit sweeps, connection
 * checks), and no listener or connection stays open. Timers are followed with async_hooks from
 * before the start to after the stop; the listeners with process.getActiveResourcesInfo().
 */

/**
 * Timers of the runtime and of undici shared by the whole process, never a service's: node:http's
 * cached Date header (refreshed each second) and undici's one clock for all its timeouts.
 */
const PROCESS_WIDE = /node:internal\/http:|undici\/lib\/util\/timers\.js/;

const count = (types: readonly string[]): Map<string, number> => types.reduce((m, t) => m.set(t, (m.get(t) ?? 0) + 1), new Map<string, number>());

describe('service lifecycle', () => {
  it('RA, CA and OCSP responder: stop() clears every timer they armed and closes every handle', async () => {
    const pki = await makeDevPki();
    try {
      const before = count(process.getActiveResourcesInfo());
      /** Each live timer, with where it was armed (for the failure message). */
      const timers = new Map<number, string>();
      const hook = createHook({
        init(id, type) {
          if (type !== 'Timeout') return;
          const stack = new Error().stack!;
          if (!PROCESS_WIDE.test(stack)) timers.set(id, stack.split('\n').slice(4, 10).join('\n'));
        },
        destroy: (id) => void timers.delete(id),
      });
      hook.enable();
      const stack = await startStack(pki);
      // Work that arms the lazy timers too: an issuance (RA → CA), a revocation (CRL), OCSP answers.
      await registerStation(stack, 'cp-life', 'CP-LIFE-1');
      const r = await api(stack, 'POST', '/v1/stations/cp-life/certificates', { csr: newP256Csr('CP-LIFE-1').csr, certificateType: 'ChargingStationCertificate' });
      assert.equal(r.status, 201, r.text);
      assert.equal((await api(stack, 'POST', `/v1/certificates/${r.body.serialNumber}/revoke`, { reason: 'superseded' })).status, 200);
      await stack.ocsp.presigner.runOnce();
      assert.equal((await fetch(`${stack.ocspUrl}/ocsp`, { method: 'POST', body: buildOcspRequest([]) })).status, 200);
      await stack.stop();
      // Destroy hooks of cleared timers run on a later turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      hook.disable();
      assert.equal(timers.size, 0, `timers armed by the services outlive stop():\n${[...timers.values()].join('\n--\n')}`);
      const after = count(process.getActiveResourcesInfo());
      for (const [type, n] of after) assert.ok(n <= (before.get(type) ?? 0), `${type}: ${n} after stop, ${before.get(type) ?? 0} before start`);
    } finally {
      pki.cleanup();
    }
  });
});
