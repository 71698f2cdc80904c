/**
 * LmdbStore over a commit that lmdb-js refuses: lmdb-js 3.5 now and then rejects a commit whose
 * free-page list it finds inconsistent ("freelist … had bad/duplicate entries", MDB_BAD_TXN), as it
 * did once in the rotation test, with writers in two processes. Nothing of a failed commit is
 * written, so the store runs the transaction once more; a second failure is StoreUnavailableError
 * (the services answer 503 with Retry-After). The failure is injected where lmdb-js reports it: its
 * `transaction` promise rejects with "Commit failed" and the LMDB error in `commitError`.
 */
import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { RootDatabase } from 'lmdb';
import { coverageOf, profileOf } from '@evpki/issuance';
import { LmdbStore, StoreUnavailableError, verifyAuditChain, type CertificateRecord } from '@evpki/store';
import { cert, withActiveIssuer } from './helpers/store-contract.js';

let dir: string;
let store: LmdbStore;
let db: RootDatabase;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'evpki-commit-retry-'));
  store = await withActiveIssuer(new LmdbStore(join(dir, 'store')));
  db = (store as unknown as { db: RootDatabase }).db;
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The next `failures` transactions fail to commit as lmdb-js reports it (the callback not run: nothing written). */
function failCommits(failures: number): { attempts: () => number; restore: () => void } {
  const own = Object.getOwnPropertyDescriptor(db, 'transaction');
  const real = db.transaction.bind(db);
  let attempts = 0;
  db.transaction = ((callback: () => unknown) => {
    attempts++;
    if (attempts > failures) return real(callback);
    const cause = Object.assign(new Error('MDB_BAD_TXN: Transaction must abort, has a child, or is invalid: freelist entry 428 had bad/duplicate entries'), { code: -30782 });
    const commitError = Promise.reject(cause);
    return Promise.reject(Object.assign(new Error('Commit failed (see commitError for details)'), { commitError }));
  }) as RootDatabase['transaction'];
  const restore = (): void => {
    if (own) Object.defineProperty(db, 'transaction', own);
    else delete (db as { transaction?: unknown }).transaction;
  };
  return { attempts: () => attempts, restore };
}

const record = (c: CertificateRecord) =>
  store.recordIssuance(c, coverageOf(profileOf(c.kind)!), undefined, {
    audit: { events: [{ event: 'certificate.issued', actor: 'ra', outcome: 'ok', tenant: c.tenant, details: { serialNumber: c.serial } }], at: c.issuedAt },
    rate: { buckets: [{ key: 'retry-station', limit: 5, windowMs: 60_000 }], now: 1_000, eventId: c.serial },
  });

test('a commit lmdb-js refuses once is run again: the certificate, its audit entry and its rate count are written once', async () => {
  const head = await store.auditHead();
  const c = cert();
  const inject = failCommits(1);
  try {
    deepStrictEqual(await record(c), { ok: true });
    equal(inject.attempts(), 2, 'the transaction ran a second time');
  } finally {
    inject.restore();
  }
  equal((await store.getCertificate(c.serial))?.serial, c.serial);
  equal((await store.auditHead()).seq, head.seq + 1, 'one audit entry');
  ok((await verifyAuditChain(store)).ok);
  // One event counted: four more fit in the bucket of five.
  for (let i = 0; i < 4; i++) deepStrictEqual(await record(cert()), { ok: true });
  deepStrictEqual(await record(cert()), { ok: false, conflict: 'rate', bucket: 'retry-station', retryAfterMs: 60_000 });
});

test('a commit refused twice is StoreUnavailableError naming the LMDB error, and nothing is written', async () => {
  const head = await store.auditHead();
  const c = cert();
  const inject = failCommits(2);
  try {
    await rejects(
      store.recordIssuance(c, coverageOf(profileOf(c.kind)!)),
      (e: unknown) => e instanceof StoreUnavailableError && /the LMDB commit failed twice: MDB_BAD_TXN/.test(e.message) && (e.cause as { code?: number }).code === -30782,
    );
    equal(inject.attempts(), 2, 'once more, not forever');
  } finally {
    inject.restore();
  }
  equal(await store.getCertificate(c.serial), undefined);
  deepStrictEqual(await store.auditHead(), head);
});

test('an error of the callback itself is not a commit failure: thrown at once, not run again', async () => {
  const inject = failCommits(0);
  try {
    await rejects(store.recordIssuance(cert({ stationId: 'other' }), coverageOf(profileOf('ChargingStationCertificate')!), undefined, { register: { tenant: 'cpo-a', stationId: 'elsewhere', serialNumber: 'X', allowed: true, createdAt: 'c', updatedAt: 'u' } }), /the station registered is not the certificate's/);
    equal(inject.attempts(), 1);
  } finally {
    inject.restore();
  }
});
