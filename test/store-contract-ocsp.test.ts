/**
 * The store contract, OCSP: pre-signed responses and the schedule that renews them. Both backends
 * (helpers/store-contract.ts).
 */
import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cert, response, storeContract, withActiveIssuer } from './helpers/store-contract.js';
import { recordCert } from './helpers/record-cert.js';

storeContract(
  'ocsp',
  {
    'pre-signed responses: stored only for the status they were signed for; due list claimed with a lease': async (store) => {
      const c = cert({ stationId: 'ocsp' });
      await recordCert(store, c);
      equal(await store.putOcspResponses(c.serial, { status: 'revoked', revokedAt: 'x', revocationReason: 'superseded' }, [response(c, 'sha256')]), false);
      const r = response(c, 'sha256');
      equal(await store.putOcspResponses(c.serial, { status: 'good' }, [r], { nextDue: 5_000 }), true);
      deepStrictEqual(await store.getOcspResponse(c.issuerId, c.serial, 'sha256'), r);
      equal(await store.getOcspResponse(c.issuerId, c.serial, 'sha1'), undefined);
      equal(await store.putOcspResponses('0abc', { status: 'good' }, [r]), false, 'unknown certificate');

      // Due at 5000: not before; once claimed, not again until the lease lapses.
      ok(!(await store.claimOcspDue(4_999, 100_000, 1000)).some((d) => d.serial === c.serial));
      const claimed = await store.claimOcspDue(5_000, 100_000, 1000);
      ok(claimed.some((d) => d.serial === c.serial && d.due === 5_000));
      ok(!(await store.claimOcspDue(5_999, 100_000, 1000)).some((d) => d.serial === c.serial));
      ok((await store.claimOcspDue(6_000, 100_000, 1000)).some((d) => d.serial === c.serial && d.due === 6_000));
      // No more refreshes: leaves the schedule.
      equal(await store.putOcspResponses(c.serial, { status: 'good' }, [], { nextDue: undefined }), true);
      ok(!(await store.claimOcspDue(Number.MAX_SAFE_INTEGER, 100_000, 1000)).some((d) => d.serial === c.serial));
      ok((await store.claimOcspDue(Number.MAX_SAFE_INTEGER, 2, 1000)).length <= 2, 'limit holds');
    },

    'requeueOcsp makes scheduled certificates (of one issuer, or all) due now, in bounded steps': async (store) => {
      const now = 1_000_000;
      for (const id of ['requeue-a', 'requeue-b'])
        await store.putIssuer({ id, hierarchy: 'csms', role: 'issuing', parentId: 'root-1', certificate: randomBytes(100), state: 'active', createdAt: 'c' });
      const mine = Array.from({ length: 25 }, () => cert({ issuerId: 'requeue-a', stationId: 'rq' }));
      const other = Array.from({ length: 5 }, () => cert({ issuerId: 'requeue-b', stationId: 'rq' }));
      for (const c of [...mine, ...other]) {
        await recordCert(store, c);
        equal(await store.putOcspResponses(c.serial, { status: 'good' }, [response(c, 'sha256')], { nextDue: now + 3_600_000 }), true);
      }
      // One left the schedule (expired): not requeued.
      const gone = mine.pop()!;
      equal(await store.putOcspResponses(gone.serial, { status: 'good' }, [], { nextDue: undefined }), true);
      const dueNow = async (): Promise<Set<string>> => {
        // Claimed with a lease that ends before `now`: what is due stays due for the next look.
        const claimed = await store.claimOcspDue(now, 1_000_000, -1);
        return new Set(claimed.map((d) => d.serial));
      };
      const rq = new Set([...mine, ...other, gone].map((c) => c.serial));
      const ours = async (): Promise<string[]> => [...(await dueNow())].filter((s) => rq.has(s)).sort();
      deepStrictEqual(await ours(), []);

      let requeued = 0;
      let steps = 0;
      let cursor: string | undefined;
      do {
        const step = await store.requeueOcsp(now, { issuerId: 'requeue-a', limit: 7, ...(cursor === undefined ? {} : { cursor }) });
        requeued += step.requeued;
        cursor = step.cursor;
        ok(++steps < 10_000, 'the cursor ends');
      } while (cursor !== undefined);
      ok(requeued >= mine.length, `${requeued} requeued`);
      deepStrictEqual(await ours(), mine.map((c) => c.serial).sort(), 'of issuer requeue-a only');

      cursor = undefined;
      do cursor = (await store.requeueOcsp(now, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) })).cursor;
      while (cursor !== undefined);
      deepStrictEqual(await ours(), [...mine, ...other].map((c) => c.serial).sort(), 'every issuer; the expired one stays out');
      // A due time only moves earlier.
      cursor = undefined;
      do cursor = (await store.requeueOcsp(now + 10_000, { limit: 1000, ...(cursor === undefined ? {} : { cursor }) })).cursor;
      while (cursor !== undefined);
      deepStrictEqual(await ours(), [...mine, ...other].map((c) => c.serial).sort());
    },
  },
  withActiveIssuer,
);
