/**
 * The store contract, an issuance with its audit entry in one write (recordIssuance's `audit`):
 * the certificate and its entry are written together or not at all, concurrent issuances form one
 * chain, and they share commits (group commit). Both backends (helpers/store-contract.ts).
 */
import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { coverageOf, profileOf } from '@evpki/issuance';
import { AuditEventError, verifyAuditChain, type AuditEntry, type AuditEvent, type CertificateRecord, type IdempotencyClaim, type Store } from '@evpki/store';
import { cert, storeContract, withActiveIssuer, type Opened } from './helpers/store-contract.js';

const AT = '2026-01-01T00:00:00.000Z';

/** The audit entry the CA writes with a certificate (services/ca issuance-records.ts, in short). */
const issuedEvent = (c: CertificateRecord): AuditEvent => ({ event: 'certificate.issued', actor: 'ra', outcome: 'ok', tenant: c.tenant, details: { serialNumber: c.serial, stationId: c.stationId } });

const record = (store: Store, c: CertificateRecord, idem?: IdempotencyClaim, events: readonly AuditEvent[] = [issuedEvent(c)]) =>
  store.recordIssuance(c, coverageOf(profileOf(c.kind)!), idem, { audit: { events, at: AT } });

/** Every entry of the log (all pages). */
async function allEntries(store: Store): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for (;;) {
    const page = await store.listAudit({ afterSeq: out[out.length - 1]?.seq ?? 0, limit: 1000 });
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

/** The serials named by certificate.issued entries. */
const auditedSerials = async (store: Store): Promise<string[]> =>
  (await allEntries(store)).filter((e) => e.event === 'certificate.issued').map((e) => String(e.details?.serialNumber));

/** Durable commits so far: LMDB's last transaction id; on Redis, the scripts run and WAITs sent. */
async function commits(opened: Opened): Promise<number> {
  if (opened.childEnv.STORE_LMDB) return opened.writes();
  const r = new Redis(opened.childEnv.STORE_REDIS!, { maxRetriesPerRequest: 0 });
  try {
    const stats = await r.info('commandstats');
    return ['evalsha', 'eval'].reduce((n, cmd) => n + Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0), 0);
  } finally {
    r.disconnect();
  }
}

storeContract(
  'audited issuance',
  {
    'the certificate and its audit entry are one write: a refused issuance writes neither': async (store) => {
      const head = await store.auditHead();
      const c = cert();
      deepStrictEqual(await record(store, c, { tenant: 'cpo-a', key: 'k-1', requestHash: 'h1' }), { ok: true });
      const [entry] = await store.listAudit({ afterSeq: head.seq, limit: 10 });
      equal(entry?.seq, head.seq + 1);
      equal(entry?.prevHash, head.hash);
      deepStrictEqual(entry?.details, issuedEvent(c).details);
      equal(entry?.at, AT);
      const written = await store.auditHead();
      // Each refusal: nothing written, neither certificate nor entry.
      const refusals: [string, CertificateRecord, IdempotencyClaim | undefined, unknown][] = [
        ['serial taken', cert({ serial: c.serial }), undefined, { ok: false, conflict: 'serial' }],
        ['key certified', cert({ spkiSha256: c.spkiSha256 }), undefined, { ok: false, conflict: 'key' }],
        ['Idempotency-Key taken', cert(), { tenant: 'cpo-a', key: 'k-1', requestHash: 'h2' }, { ok: false, conflict: 'idempotency', existing: { requestHash: 'h1', serial: c.serial, createdAt: c.issuedAt } }],
        ['issuer not active', cert({ issuerId: 'no-such' }), undefined, { ok: false, conflict: 'issuer' }],
      ];
      for (const [why, refused, idem, outcome] of refusals) {
        deepStrictEqual(await record(store, refused, idem), outcome, why);
        deepStrictEqual(await store.auditHead(), written, `${why}: no audit entry`);
        if (why !== 'serial taken') equal(await store.getCertificate(refused.serial), undefined, `${why}: no certificate`);
      }
      // An audit event the log refuses refuses the issuance, writing nothing.
      const secret = cert();
      await rejects(record(store, secret, undefined, [{ ...issuedEvent(secret), details: { token: 'abc' } }]), AuditEventError);
      equal(await store.getCertificate(secret.serial), undefined, 'no certificate without its entry');
      deepStrictEqual(await store.auditHead(), written);
      ok((await verifyAuditChain(store)).ok);
    },

    'concurrent issuances and appends form one chain; each certificate has exactly its entry': async (store) => {
      const twinKey = randomBytes(32).toString('hex');
      const certs = Array.from({ length: 40 }, (_, i) => cert({ stationId: `st-${i % 5}`, ...(i === 7 || i === 8 ? { spkiSha256: twinKey } : {}) }));
      const idem = (i: number): IdempotencyClaim | undefined => (i === 3 || i === 4 ? { tenant: 'cpo-a', key: 'same-key', requestHash: `h-${i}` } : undefined);
      const outcomes = await Promise.all([
        ...certs.map((c, i) => record(store, c, idem(i))),
        store.appendAudit([{ event: 'auth.failed', actor: 'ra', outcome: 'failed' }], AT),
        store.appendAudit([{ event: 'certificate.rejected', actor: 'ra', outcome: 'refused', tenant: 'cpo-b', rules: ['A02.FR.02'] }], AT),
      ]);
      const issued = certs.filter((_, i) => (outcomes[i] as { ok: boolean }).ok);
      equal(issued.length, 38, 'of two with one key and two with one Idempotency-Key, one each');
      deepStrictEqual(
        outcomes.slice(7, 9).map((o) => (o as { ok: boolean; conflict?: string }).conflict ?? 'ok').sort(),
        ['key', 'ok'],
      );
      const [a, b] = outcomes.slice(3, 5) as { ok: boolean; conflict?: string; existing?: { serial: string } }[];
      const [winner, loser] = a!.ok ? [certs[3]!, b!] : [certs[4]!, a!];
      equal(loser.conflict, 'idempotency');
      equal(loser.existing?.serial, winner.serial, 'the loser is told the winner');
      const audited = await auditedSerials(store);
      for (const c of issued) equal(audited.filter((s) => s === c.serial).length, 1, `${c.serial}: one entry`);
      for (const c of certs) if (!issued.includes(c)) equal(audited.includes(c.serial), false, 'no entry for a refused certificate');
      for (const s of audited) ok(await store.getCertificate(s), `${s}: no audit entry without its certificate`);
      const v = await verifyAuditChain(store);
      ok(v.ok, JSON.stringify(v.break));
    },

    'group commit: concurrent issuances share durable commits': async (store, opened) => {
      const before = await commits(opened);
      const outcomes = await Promise.all(Array.from({ length: 32 }, () => record(store, cert())));
      ok(outcomes.every((o) => o.ok));
      const used = (await commits(opened)) - before;
      ok(used >= 1 && used <= 4, `32 concurrent issuances took ${used} commits`);
    },
  },
  withActiveIssuer,
);
