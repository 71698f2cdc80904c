/**
 * The store contract, what the services ask of the store besides records: ping (readiness probes)
 * and assertDurable (startup). Both backends (helpers/store-contract.ts); rate limits are in
 * store-contract-rate.test.ts.
 */
import { equal, ok } from 'node:assert/strict';
import { storeContract } from './helpers/store-contract.js';

storeContract('service', {
  'issue 14.7: ping only reads (readiness probes call it every few seconds)': async (store, opened) => {
    const before = await opened.writes();
    for (let i = 0; i < 5; i++) await store.ping();
    equal(await opened.writes(), before, 'ping wrote');
    await store.putTenant({ id: 'ping-check', cpoName: 'CPO P', disabled: false, createdAt: 'c' });
    ok((await opened.writes()) > before, 'a write is counted');
  },

  'a durable store passes assertDurable': async (store) => {
    await store.assertDurable();
  },
});
