/**
 * The store contract, removing a station with thousands of good certificates (daily renewals for
 * years; expired ones keep status good): one write revokes them all with their audit entries (more
 * than AUDIT_LIMITS.eventsPerAppend), or, refused, writes nothing; the CRL list, the certificates'
 * status and their OCSP responses see every revocation; a retry changes nothing. Above
 * STATION_REMOVAL_LIMIT: StationRemovalLimitError (rule Station.removal-limit), nothing written.
 * Both backends (helpers/store-contract.ts).
 */
import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import {
  AUDIT_LIMITS,
  AuditEventError,
  STATION_REMOVAL_LIMIT,
  StationRemovalLimitError,
  verifyAuditChain,
  type AuditEntry,
  type AuditEvent,
  type CertificateRecord,
  type Store,
} from '@evpki/store';
import { cert, response, storeContract, removedEvents, withActiveIssuer } from './helpers/store-contract.js';
import { recordCert } from './helpers/record-cert.js';

const AT = '2026-02-01T00:00:00.000Z';
const MANY = 2_500;

/** `n` certificates of the station, recorded 250 at a time (one group commit each on LMDB); one a day, the older ones expired. */
async function seed(store: Store, stationId: string, n: number): Promise<CertificateRecord[]> {
  const day = 86_400_000;
  const certs = Array.from({ length: n }, (_, i) => {
    const notBefore = Date.UTC(2023, 0, 1) + i * day;
    return cert({ stationId, notBefore: new Date(notBefore).toISOString(), notAfter: new Date(notBefore + 365 * day).toISOString() });
  });
  for (let i = 0; i < n; i += 250) {
    const outcomes = await Promise.all(certs.slice(i, i + 250).map((c) => recordCert(store, c)));
    ok(outcomes.every((o) => o.ok));
  }
  return certs;
}

/** Every audit entry after `seq`, page by page. */
async function entriesAfter(store: Store, seq: number): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for (;;) {
    const page = await store.listAudit({ afterSeq: out.at(-1)?.seq ?? seq, limit: AUDIT_LIMITS.pageSize });
    out.push(...page);
    if (page.length < AUDIT_LIMITS.pageSize) return out;
  }
}

storeContract(
  'station removal at scale',
  {
    [`a station with ${MANY} good certificates is removed in one write, with an entry per certificate`]: async (store) => {
      const stationId = 'many';
      await store.putStation({ tenant: 'cpo-a', stationId, serialNumber: 'SNM', allowed: true, createdAt: 'c', updatedAt: 'u' });
      const certs = await seed(store, stationId, MANY + 2);
      // Two revoked already: they keep their revocation and get no entry.
      const [early, late, ...good] = certs;
      for (const c of [early!, late!]) ok((await store.revokeCertificate(c.serial, 'keyCompromise', '2025-01-01T00:00:00.000Z', () => [])).ok);
      const presigned = good[MANY - 1]!;
      ok(await store.putOcspResponses(presigned.serial, { status: 'good' }, [response(presigned, 'sha1')]));
      ok(await store.getOcspResponse('sub-1', presigned.serial, 'sha1'));
      const head = await store.auditHead();
      const epoch = store.ocspEpoch();

      // One entry refused: nothing of the removal is written.
      const refused: AuditEvent = { event: 'certificate.revoked', actor: 'ra', outcome: 'ok', details: { token: 'abc' } };
      await rejects(store.removeStation('cpo-a', stationId, 'cessationOfOperation', AT, (d) => [...removedEvents(stationId)(d), refused]), AuditEventError);
      ok(await store.getStation('cpo-a', stationId), 'the station is kept');
      equal((await store.getCertificate(presigned.serial))!.status, 'good', 'nothing revoked');
      equal((await store.listRevoked('sub-1')).length, 2);
      deepStrictEqual(await store.auditHead(), head, 'nothing appended');

      const t0 = Date.now();
      const removed = await store.removeStation('cpo-a', stationId, 'cessationOfOperation', AT, removedEvents(stationId));
      console.log(`removed a station with ${MANY} good certificates in ${Date.now() - t0} ms`);
      equal(removed.deleted, true);
      deepStrictEqual(removed.revoked.map((r) => r.serial).sort(), good.map((c) => c.serial).sort());
      equal(await store.getStation('cpo-a', stationId), undefined);

      // OCSP and CRL see every revocation; the earlier two keep theirs.
      const crl = new Map((await store.listRevoked('sub-1')).map((e) => [e.serial, e]));
      equal(crl.size, MANY + 2);
      for (const c of good) deepStrictEqual(crl.get(c.serial), { serial: c.serial, revokedAt: AT, reason: 'cessationOfOperation' });
      deepStrictEqual(crl.get(early!.serial)?.reason, 'keyCompromise');
      for (const c of [good[0]!, presigned]) equal((await store.getCertificate(c.serial))!.status, 'revoked');
      equal(await store.getOcspResponse('sub-1', presigned.serial, 'sha1'), undefined, 'no stale good response');
      ok(store.ocspEpoch() > epoch);

      // The entries, in one hash chain: the removal, then one per certificate.
      const entries = await entriesAfter(store, head.seq);
      equal(entries.length, MANY + 1);
      deepStrictEqual(entries[0]!.details, { stationId, revoked: MANY });
      deepStrictEqual(new Set(entries.slice(1).map((e) => e.details?.serialNumber)), new Set(good.map((c) => c.serial)));
      const v = await verifyAuditChain(store);
      ok(v.ok, JSON.stringify(v.break));

      // A retry finds nothing to do: nothing written, nothing audited.
      const head2 = await store.auditHead();
      deepStrictEqual(await store.removeStation('cpo-a', stationId, 'cessationOfOperation', AT, removedEvents(stationId)), { deleted: false, revoked: [] });
      deepStrictEqual(await store.auditHead(), head2);
    },

    [`more than STATION_REMOVAL_LIMIT good certificates: refused (Station.removal-limit), nothing written`]: async (store) => {
      const stationId = 'too-many';
      await store.putStation({ tenant: 'cpo-a', stationId, serialNumber: 'SNT', allowed: true, createdAt: 'c', updatedAt: 'u' });
      const certs = await seed(store, stationId, STATION_REMOVAL_LIMIT + 1);
      const head = await store.auditHead();
      const revokedBefore = (await store.listRevoked('sub-1')).length;
      let called = false;
      await rejects(
        store.removeStation('cpo-a', stationId, 'cessationOfOperation', AT, (d) => ((called = true), removedEvents(stationId)(d))),
        (e) => e instanceof StationRemovalLimitError && e.rule === 'Station.removal-limit' && e.good === STATION_REMOVAL_LIMIT + 1,
      );
      equal(called, false);
      ok(await store.getStation('cpo-a', stationId), 'the station is kept');
      equal((await store.listRevoked('sub-1')).length, revokedBefore);
      deepStrictEqual(await store.auditHead(), head);

      // One revoked first (as the refusal says): the rest is removed.
      ok((await store.revokeCertificate(certs[0]!.serial, 'cessationOfOperation', AT, () => [])).ok);
      const t0 = Date.now();
      const removed = await store.removeStation('cpo-a', stationId, 'cessationOfOperation', AT, removedEvents(stationId));
      console.log(`removed a station with ${STATION_REMOVAL_LIMIT} good certificates in ${Date.now() - t0} ms`);
      equal(removed.revoked.length, STATION_REMOVAL_LIMIT);
      equal((await store.listRevoked('sub-1')).length, revokedBefore + STATION_REMOVAL_LIMIT + 1);
      const v = await verifyAuditChain(store);
      ok(v.ok, JSON.stringify(v.break));
    },
  },
  withActiveIssuer,
);
