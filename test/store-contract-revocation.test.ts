/**
 * The store contract, revocation: certificate status, blocked keys, removing a station, CRL
 * numbers. Both backends (helpers/store-contract.ts).
 */
import { deepStrictEqual, equal, ok } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cert, response, storeContract, withActiveIssuer } from './helpers/store-contract.js';
import { recordCert } from './helpers/record-cert.js';

storeContract(
  'revocation',
  {
    'revocation: status, CRL entry, pre-signed responses dropped, epoch moved, requeued; reasons only rise to keyCompromise': async (store) => {
      const c = cert({ stationId: 'rev' });
      await recordCert(store, c);
      equal(await store.putOcspResponses(c.serial, { status: 'good' }, [response(c, 'sha256'), response(c, 'sha1')], { nextDue: 10 }), true);
      ok(await store.getOcspResponse(c.issuerId, c.serial, 'sha256'));
      const epoch = store.ocspEpoch();

      deepStrictEqual(await store.revokeCertificate('00ff', 'keyCompromise', 'x', () => []), { ok: false, reason: 'not-found' });
      const first = await store.revokeCertificate(c.serial, 'superseded', '2026-02-01T00:00:00.000Z', () => []);
      ok(first.ok && first.changed);
      deepStrictEqual(first.record, { ...c, status: 'revoked', revokedAt: '2026-02-01T00:00:00.000Z', revocationReason: 'superseded' });
      ok(store.ocspEpoch() !== epoch, 'the revoking process sees the new epoch at once');
      equal(await store.getOcspResponse(c.issuerId, c.serial, 'sha256'), undefined);
      equal(await store.getOcspResponse(c.issuerId, c.serial, 'sha1'), undefined);
      ok((await store.claimOcspDue(Date.now(), 10_000, 1)).some((d) => d.serial === c.serial), 'queued for new pre-signed responses');

      const same = await store.revokeCertificate(c.serial, 'cessationOfOperation', '2026-03-01T00:00:00.000Z', () => []);
      ok(same.ok && !same.changed);
      equal(same.record.revocationReason, 'superseded');
      equal(await store.isKeyBlocked(c.spkiSha256), false);
      const raised = await store.revokeCertificate(c.serial, 'keyCompromise', '2026-03-01T00:00:00.000Z', () => []);
      ok(raised.ok && raised.changed);
      equal(raised.record.revokedAt, '2026-02-01T00:00:00.000Z', 'the revocation time is kept');
      equal(raised.record.revocationReason, 'keyCompromise');
      equal(await store.isKeyBlocked(c.spkiSha256), true, 'A00.FR.501: a compromised key is blocked');
      deepStrictEqual(
        (await store.listRevoked(c.issuerId)).find((e) => e.serial === c.serial),
        { serial: c.serial, revokedAt: '2026-02-01T00:00:00.000Z', reason: 'keyCompromise' },
      );
      // A stale pre-signed "good" can no longer be written.
      equal(await store.putOcspResponses(c.serial, { status: 'good' }, [response(c, 'sha256')]), false);
      equal(await store.putOcspResponses(c.serial, { status: 'revoked', revokedAt: '2026-02-01T00:00:00.000Z', revocationReason: 'keyCompromise' }, [response(c, 'sha256')]), true);
    },

    'removeStation deletes the station and revokes its good certificates in one write': async (store) => {
      await store.putStation({ tenant: 'cpo-a', stationId: 'gone', serialNumber: 'SNG', allowed: true, createdAt: 'c', updatedAt: 'u' });
      const [a, b, old] = [cert({ stationId: 'gone' }), cert({ stationId: 'gone' }), cert({ stationId: 'gone' })];
      for (const c of [a, b, old]) await recordCert(store, c);
      await store.revokeCertificate(old.serial, 'superseded', 'then', () => []);
      const removed = await store.removeStation('cpo-a', 'gone', 'cessationOfOperation', 'now', () => []);
      equal(removed.deleted, true);
      deepStrictEqual(removed.revoked.map((c) => c.serial).sort(), [a.serial, b.serial].sort());
      ok(removed.revoked.every((c) => c.status === 'revoked' && c.revocationReason === 'cessationOfOperation' && c.revokedAt === 'now'));
      equal((await store.getCertificate(old.serial))!.revocationReason, 'superseded');
      equal(await store.getStation('cpo-a', 'gone'), undefined);
      deepStrictEqual(await store.removeStation('cpo-a', 'gone', 'cessationOfOperation', 'now', () => []), { deleted: false, revoked: [] });
    },

    'CRL numbers increase; a CRL never replaces a newer one': async (store) => {
      equal(await store.nextCrlNumber('crl-issuer'), 1);
      equal(await store.nextCrlNumber('crl-issuer'), 2);
      const crl = { issuerId: 'crl-issuer', number: 2, der: randomBytes(100), thisUpdate: 't', nextUpdate: 'n' };
      equal(await store.putCrl(crl), true);
      equal(await store.putCrl({ ...crl, number: 1 }), false);
      equal(await store.putCrl({ ...crl, number: 2 }), false);
      deepStrictEqual(await store.getCrl('crl-issuer'), crl);
      equal(await store.getCrl('other'), undefined);
    },
  },
  withActiveIssuer,
);
