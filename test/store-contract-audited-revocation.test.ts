/**
 * The store contract, a revocation with its audit entries in one write (revokeCertificate's and
 * removeStation's `auditOf`): the revocation (or the removed station and its revoked certificates)
 * and its entries are written together or not at all, in one hash chain. Both backends
 * (helpers/store-contract.ts).
 */
import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import { coverageOf, profileOf } from '@evpki/issuance';
import { AuditEventError, verifyAuditChain, type AuditEvent, type RevocationDone, type Store } from '@evpki/store';
import { cert, storeContract, removedEvents, withActiveIssuer } from './helpers/store-contract.js';
import { recordCert } from './helpers/record-cert.js';

const AT = '2026-02-01T00:00:00.000Z';

/** The CA's entry of a revocation (services/ca revoke.ts). */
const revokedEvent = ({ record, changed }: RevocationDone): AuditEvent => ({
  event: 'certificate.revoked',
  actor: 'ra',
  outcome: 'ok',
  tenant: record.tenant,
  details: { serialNumber: record.serial, stationId: record.stationId, reason: record.revocationReason!, changed },
});

/** An event the audit log refuses (a detail named like a secret): validateAuditEvent. */
const refusedEvent: AuditEvent = { event: 'certificate.revoked', actor: 'ra', outcome: 'ok', details: { token: 'abc' } };

const entriesAfter = (store: Store, seq: number) => store.listAudit({ afterSeq: seq, limit: 1000 });

storeContract(
  'audited revocation',
  {
    'a revocation and its audit entry are one write: a refused entry revokes nothing': async (store) => {
      const c = cert({ stationId: 'rev-audit' });
      await recordCert(store, c);
      const head = await store.auditHead();
      await rejects(store.revokeCertificate(c.serial, 'keyCompromise', AT, () => [refusedEvent]), AuditEventError);
      equal((await store.getCertificate(c.serial))!.status, 'good', 'nothing revoked without its entry');
      equal(await store.isKeyBlocked(c.spkiSha256), false);
      deepStrictEqual(await store.listRevoked(c.issuerId), []);
      deepStrictEqual(await store.auditHead(), head, 'nothing appended');

      let calledFor: unknown;
      deepStrictEqual(await store.revokeCertificate('00ff', 'keyCompromise', AT, (d) => ((calledFor = d), [])), { ok: false, reason: 'not-found' });
      equal(calledFor, undefined, 'no entry for a certificate there is not');

      const first = await store.revokeCertificate(c.serial, 'superseded', AT, (d) => [revokedEvent(d)]);
      ok(first.ok && first.changed);
      const [entry, ...more] = await entriesAfter(store, head.seq);
      deepStrictEqual(more, []);
      equal(entry?.seq, head.seq + 1);
      equal(entry?.prevHash, head.hash);
      equal(entry?.at, AT);
      deepStrictEqual(entry?.details, { serialNumber: c.serial, stationId: 'rev-audit', reason: 'superseded', changed: true });
      deepStrictEqual(await store.auditHead(), { seq: entry.seq, hash: entry.hash });

      // Again, with a lower reason: nothing changes, and the entry says so (the reason stored).
      const again = await store.revokeCertificate(c.serial, 'cessationOfOperation', AT, (d) => [revokedEvent(d)]);
      ok(again.ok && !again.changed);
      deepStrictEqual((await entriesAfter(store, entry.seq))[0]?.details, { serialNumber: c.serial, stationId: 'rev-audit', reason: 'superseded', changed: false });
      const v = await verifyAuditChain(store);
      ok(v.ok, JSON.stringify(v.break));
    },

    'a station removal and its audit entries are one write: a refused entry removes nothing': async (store) => {
      await store.putStation({ tenant: 'cpo-a', stationId: 'gone-audit', serialNumber: 'SNG', allowed: true, createdAt: 'c', updatedAt: 'u' });
      const [a, b] = [cert({ stationId: 'gone-audit' }), cert({ stationId: 'gone-audit' })];
      for (const c of [a, b]) await recordCert(store, c);
      const head = await store.auditHead();
      await rejects(store.removeStation('cpo-a', 'gone-audit', 'cessationOfOperation', AT, (d) => [...removedEvents('gone-audit')(d), refusedEvent]), AuditEventError);
      ok(await store.getStation('cpo-a', 'gone-audit'), 'the station is kept');
      for (const c of [a, b]) equal((await store.getCertificate(c.serial))!.status, 'good', 'nothing revoked');
      deepStrictEqual(await store.auditHead(), head, 'nothing appended');

      const removed = await store.removeStation('cpo-a', 'gone-audit', 'cessationOfOperation', AT, removedEvents('gone-audit'));
      equal(removed.deleted, true);
      const entries = await entriesAfter(store, head.seq);
      deepStrictEqual(
        entries.map((e) => [e.event, e.details?.serialNumber ?? e.details?.revoked]),
        [['station.removed', 2], ...removed.revoked.map((r) => ['certificate.revoked', r.serial])],
      );
      deepStrictEqual(removed.revoked.map((r) => r.serial).sort(), [a.serial, b.serial].sort());
      // Nothing left to remove: nothing to audit.
      const head2 = await store.auditHead();
      deepStrictEqual(await store.removeStation('cpo-a', 'gone-audit', 'cessationOfOperation', AT, removedEvents('gone-audit')), { deleted: false, revoked: [] });
      deepStrictEqual(await store.auditHead(), head2);
      const v = await verifyAuditChain(store);
      ok(v.ok, JSON.stringify(v.break));
    },

    'concurrent revocations of one certificate, appends and issuances: one chain, one changed entry': async (store, opened) => {
      const c = cert({ stationId: 'race' });
      await recordCert(store, c);
      const head = await store.auditHead();
      // On Redis a second instance appends too: this instance's last seen head goes stale.
      const other = opened.another?.();
      try {
        const outcomes = await Promise.all([
          ...Array.from({ length: 6 }, () => store.revokeCertificate(c.serial, 'superseded', AT, (d) => [revokedEvent(d)])),
          ...Array.from({ length: 6 }, (_, i) => (other ?? store).appendAudit([{ event: 'auth.failed', actor: `a-${i}`, outcome: 'failed' }], AT)),
          ...Array.from({ length: 6 }, () => store.recordIssuance(cert(), coverageOf(profileOf(c.kind)!), undefined, { audit: { events: [{ event: 'certificate.issued', actor: 'ra', outcome: 'ok' }], at: AT } })),
        ]);
        const changed = outcomes.slice(0, 6).map((o) => (o as RevocationDone).changed);
        equal(changed.filter(Boolean).length, 1, 'exactly one revocation changed the certificate');
        const revoked = (await entriesAfter(store, head.seq)).filter((e) => e.event === 'certificate.revoked');
        equal(revoked.length, 6, 'each revocation has its entry');
        equal(revoked.filter((e) => e.details?.changed === true).length, 1, 'and the entries say which one changed it');
        const v = await verifyAuditChain(store);
        ok(v.ok, JSON.stringify(v.break));
        equal(v.head.seq, head.seq + 18);
      } finally {
        await other?.close();
      }
    },
  },
  withActiveIssuer,
);
