/**
 * The store contract, OAuth2 clients (Plug&Charge 4.4): both backends (helpers/store-contract.ts).
 */
import { deepStrictEqual, equal } from 'node:assert/strict';
import { storeContract } from './helpers/store-contract.js';

const client = { clientId: 'pkic_a1', tenant: 'cpo-a', secretSha256: 'ab'.repeat(32), scopes: ['certificates:sign'], disabled: false, createdAt: 'c', updatedAt: 'u' };

storeContract('OAuth2 clients', {
  'a client round-trips by client_id; an unknown one is undefined': async (store) => {
    await store.putOAuthClient(client);
    deepStrictEqual(await store.getOAuthClient('pkic_a1'), client);
    equal(await store.getOAuthClient('pkic_none'), undefined);
  },

  'putOAuthClient replaces (rotate-secret, disable); listOAuthClients lists a tenant its own clients only, by id': async (store) => {
    await store.putOAuthClient({ ...client, secretSha256: 'cd'.repeat(32), disabled: true });
    deepStrictEqual(await store.getOAuthClient('pkic_a1'), { ...client, secretSha256: 'cd'.repeat(32), disabled: true });
    await store.putOAuthClient({ ...client, clientId: 'pkic_a0' });
    await store.putOAuthClient({ ...client, clientId: 'pkic_b1', tenant: 'cpo-b' });
    deepStrictEqual((await store.listOAuthClients('cpo-a')).map((c) => c.clientId), ['pkic_a0', 'pkic_a1']);
    deepStrictEqual((await store.listOAuthClients('cpo-b')).map((c) => c.clientId), ['pkic_b1']);
    deepStrictEqual(await store.listOAuthClients('cpo-none'), []);
  },
});
