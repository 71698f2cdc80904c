/**
 * The store contract, the audit log: a hash chain of consecutive entries, validated events, tenant
 * pages, concurrent appends and pruning up to a checkpoint. Both backends (helpers/store-contract.ts).
 */
import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
import { AUDIT_GENESIS_HASH, AuditEventError, auditEntryHash, pruneAuditInChunks, verifyAuditChain, type AuditEvent, type Store } from '@evpki/store';
import { storeContract } from './helpers/store-contract.js';

/** Makes tenant names unique in the store. */
let seq = 0;

storeContract('audit', {
  'audit log: consecutive seqs, each entry linked to the one before and hashed; the head follows': async (store) => {
    const h0 = await store.auditHead();
    if (h0.seq === 0) equal(h0.hash, AUDIT_GENESIS_HASH);
    const at = '2026-01-01T00:00:00.000Z';
    const issued: AuditEvent = { event: 'certificate.issued', actor: 'ca', outcome: 'ok', tenant: 'cpo-a', details: { serial: '0abc', stationId: 'st:1/é', n: 3, flag: true, none: null } };
    const rejected: AuditEvent = { event: 'certificate.rejected', actor: 'ra', outcome: 'refused', tenant: 'cpo-a', rules: ['A00.FR.511', 'A00.FR.509'] };
    const rotation: AuditEvent = { event: 'rotation.root.prepare', actor: 'cli', outcome: 'ok' };
    const entries = await store.appendAudit([issued, rejected, rotation], at);
    deepStrictEqual(entries.map((e) => e.seq), [h0.seq + 1, h0.seq + 2, h0.seq + 3]);
    deepStrictEqual(entries.map((e) => e.prevHash), [h0.hash, entries[0]!.hash, entries[1]!.hash]);
    for (const [i, ev] of [issued, rejected, rotation].entries()) {
      const { seq: _s, at: a, prevHash: _p, hash, ...event } = entries[i]!;
      deepStrictEqual(event, ev);
      equal(a, at);
      const { hash: _h, ...body } = entries[i]!;
      equal(hash, auditEntryHash(body));
      ok(/^[0-9a-f]{64}$/.test(hash));
    }
    deepStrictEqual(await store.listAudit({ afterSeq: h0.seq, limit: 10 }), entries, 'stored as returned');
    deepStrictEqual(await store.auditHead(), { seq: entries[2]!.seq, hash: entries[2]!.hash });
    deepStrictEqual(await store.appendAudit([], at), [], 'nothing to append: nothing written');
    equal((await store.auditHead()).seq, entries[2]!.seq);
    const next = await store.appendAudit([{ ...rotation, event: 'rotation.root.commit' }], '2026-01-01T00:00:01.000Z');
    equal(next[0]!.seq, entries[2]!.seq + 1);
    equal(next[0]!.prevHash, entries[2]!.hash, 'a later append links to the head');
    const v = await verifyAuditChain(store, { pageSize: 2 });
    ok(v.ok, JSON.stringify(v.break));
    equal(v.verified, next[0]!.seq);
  },

  'audit log: oversized events and anything naming or looking like a secret are refused, writing nothing': async (store) => {
    const base: AuditEvent = { event: 'auth.failed', actor: 'ra', outcome: 'failed', tenant: 'cpo-a' };
    const manyKeys = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]));
    const cases: [string, AuditEvent, RegExp][] = [
      ['event name over 64 characters', { ...base, event: 'a'.repeat(65) }, /event must be 1\.\.64/],
      ['event name not a dotted word', { ...base, event: 'Auth Failed' }, /event "Auth Failed"/],
      ['no actor', { ...base, actor: '' }, /actor/],
      ['unknown outcome', { ...base, outcome: 'maybe' as AuditEvent['outcome'] }, /outcome/],
      ['33 detail keys', { ...base, details: manyKeys }, /33 keys, at most 32/],
      ['a detail value over 512 characters', { ...base, details: { subject: 'x'.repeat(513) } }, /details\.subject must be at most 512/],
      ['a non-finite number', { ...base, details: { n: Number.NaN } }, /finite/],
      ['detail key token', { ...base, details: { token: 'abc' } }, /names a secret/],
      ['detail key accessToken', { ...base, details: { accessToken: 'abc' } }, /names a secret/],
      ['detail key password', { ...base, details: { password: 'abc' } }, /names a secret/],
      ['detail key passphrase', { ...base, details: { key_passphrase: 'abc' } }, /names a secret/],
      ['detail key privateKey', { ...base, details: { privateKey: 'abc' } }, /names a secret/],
      ['detail key Authorization', { ...base, details: { Authorization: 'abc' } }, /names a secret/],
      ['detail key client-secret', { ...base, details: { 'client-secret': 'abc' } }, /names a secret/],
      ['a PEM private key as a value', { ...base, details: { note: '-----BEGIN PRIVATE KEY-----\nMIIB' } }, /looks like a secret/],
      ['a bearer header as a value', { ...base, details: { header: 'Bearer abc.def' } }, /looks like a secret/],
      ['a JWT as the actor', { ...base, actor: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' }, /actor looks like a secret/],
      ['a rule ID over 64 characters', { ...base, rules: ['R'.repeat(65)] }, /rule ID/],
      ['an empty tenant', { ...base, tenant: '' }, /tenant/],
    ];
    const head = await store.auditHead();
    for (const [name, event, message] of cases) {
      await rejects(store.appendAudit([base, event], 'now'), (e: unknown) => e instanceof AuditEventError && message.test(e.message), name);
      deepStrictEqual(await store.auditHead(), head, `${name}: nothing written`);
    }
    await rejects(store.appendAudit([base], 'x'.repeat(65)), AuditEventError, 'an oversized time');
    // At the limits: accepted.
    const atLimits: AuditEvent = {
      ...base,
      event: 'a'.repeat(64),
      details: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, 'v'.repeat(512)])),
    };
    equal((await store.appendAudit([atLimits], 'now'))[0]!.seq, head.seq + 1);
    await rejects(store.listAudit({ limit: 0 }), RangeError);
    await rejects(store.listAudit({ limit: 1001 }), RangeError);
    await rejects(store.listAudit({ afterSeq: -1, limit: 1 }), RangeError);
  },

  'audit log: a tenant pages through its own entries only': async (store) => {
    const [x, y] = [`aud-x-${seq++}`, `aud-y-${seq++}`];
    const h0 = await store.auditHead();
    const events: AuditEvent[] = Array.from({ length: 24 }, (_, i) => ({
      event: 'certificate.issued',
      actor: 'ca',
      outcome: 'ok',
      ...(i % 3 === 2 ? {} : { tenant: i % 3 === 0 ? x : y }),
      details: { i },
    }));
    const all = [...(await store.appendAudit(events.slice(0, 10), 't1')), ...(await store.appendAudit(events.slice(10), 't2'))];
    const pages: number[][] = [];
    let after = 0;
    for (;;) {
      const page = await store.listAudit({ tenant: x, afterSeq: after, limit: 3 });
      if (!page.length) break;
      ok(page.every((e) => e.tenant === x));
      pages.push(page.map((e) => e.seq));
      after = page[page.length - 1]!.seq;
    }
    deepStrictEqual(pages.flat(), all.filter((e) => e.tenant === x).map((e) => e.seq));
    deepStrictEqual(pages.map((p) => p.length), [3, 3, 2]);
    deepStrictEqual(await store.listAudit({ tenant: y, afterSeq: all[20]!.seq, limit: 100 }), all.filter((e) => e.tenant === y && e.seq > all[20]!.seq));
    deepStrictEqual(await store.listAudit({ tenant: 'nobody', limit: 10 }), []);
    deepStrictEqual(await store.listAudit({ afterSeq: h0.seq + 5, limit: 4 }), all.slice(5, 9), 'without a tenant: every entry');
  },

  'audit log: 200 concurrent appends (from two instances where the backend has them) form one chain, no gaps, no duplicates': async (store, opened) => {
    const other = opened.another?.() ?? store;
    try {
      const h0 = await store.auditHead();
      const appended = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          (i % 2 ? other : store).appendAudit(
            Array.from({ length: 1 + (i % 3) }, (_, j) => ({ event: 'certificate.issued', actor: i % 2 ? 'ca-2' : 'ca-1', outcome: 'ok' as const, tenant: 'cpo-a', details: { i, j } })),
            new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)).toISOString(),
          ),
        ),
      );
      appended.forEach((entries, i) => equal(entries.length, 1 + (i % 3)));
      for (const entries of appended) for (let j = 1; j < entries.length; j++) equal(entries[j]!.seq, entries[j - 1]!.seq + 1, 'one append: consecutive seqs');
      const seqs = appended.flat().map((e) => e.seq).sort((a, b) => a - b);
      deepStrictEqual(seqs, Array.from({ length: seqs.length }, (_, i) => h0.seq + 1 + i));
      equal((await store.auditHead()).seq, h0.seq + seqs.length);
      const v = await verifyAuditChain(other);
      ok(v.ok, JSON.stringify(v.break));
      equal(v.verified, h0.seq + seqs.length);
      const stored = new Map<number, unknown>();
      for (let after = h0.seq; ; ) {
        const page = await store.listAudit({ afterSeq: after, limit: 1000 });
        if (!page.length) break;
        for (const e of page) stored.set(e.seq, e);
        after = page[page.length - 1]!.seq;
      }
      for (const e of appended.flat()) deepStrictEqual(stored.get(e.seq), e, 'what each caller got is what is stored');
    } finally {
      if (other !== store) await other.close();
    }
  },


  'issue 14.5: audit prune deletes the entries up to a checkpoint (and their tenant index rows) only when its hash matches; the chain verifies on from it': async (store, opened) => {
    const other = opened.another?.() ?? store;
    try {
      equal((await store.auditCheckpoint()).seq, 0, 'nothing pruned yet');
      const entries = await store.appendAudit(
        Array.from({ length: 30 }, (_, i) => ({ event: 'certificate.issued', actor: 'ca', outcome: 'ok' as const, tenant: i % 2 ? 'prune-a' : 'prune-b', details: { i } })),
        'p',
      );
      const cut = entries[19]!;
      const head = await store.auditHead();
      equal(await store.pruneAudit({ seq: cut.seq, hash: '0'.repeat(64) }), false, 'a hash that is not the entry: refused');
      equal(await store.pruneAudit({ seq: head.seq + 1, hash: head.hash }), false, 'past the head: refused');
      equal((await store.auditCheckpoint()).seq, 0, 'nothing pruned');
      // Two instances pruning to the same checkpoint at once: both done, once.
      deepStrictEqual(await Promise.all([store.pruneAudit({ seq: cut.seq, hash: cut.hash }), other.pruneAudit({ seq: cut.seq, hash: cut.hash })]), [true, true]);
      deepStrictEqual(await store.auditCheckpoint(), { seq: cut.seq, hash: cut.hash });
      deepStrictEqual(await store.listAudit({ limit: 1000 }), entries.slice(20), 'only the entries after the checkpoint are left');
      deepStrictEqual(await store.listAudit({ tenant: 'prune-a', limit: 100 }), entries.slice(20).filter((e) => e.tenant === 'prune-a'), 'the tenant index follows');
      deepStrictEqual(await store.auditHead(), head, 'the head stays');
      equal(await store.pruneAudit({ seq: cut.seq, hash: cut.hash }), true, 'again: nothing to do');
      equal(await store.pruneAudit({ seq: entries[5]!.seq, hash: entries[5]!.hash }), false, 'behind the checkpoint: refused');

      // The retained chain links to the checkpoint; the checkpoint must be named by an audit.pruned entry.
      const unrecorded = await verifyAuditChain(store);
      equal(unrecorded.break?.kind, 'checkpoint', JSON.stringify(unrecorded));
      await store.appendAudit([{ event: 'audit.pruned', actor: 'cli', outcome: 'ok', details: { throughSeq: cut.seq, throughHash: cut.hash } }], 'p');
      const v = await verifyAuditChain(store);
      ok(v.ok, JSON.stringify(v.break));
      equal(v.verified, 11);
      deepStrictEqual(v.checkpoint, { seq: cut.seq, hash: cut.hash });
    } finally {
      if (other !== store) await other.close();
    }
  },

  'issue 14.5: a prune whose entries another instance pruned after it read the checkpoint is done, not refused (the race made "both done" flaky)': async (store) => {
    const entries = await store.appendAudit(
      Array.from({ length: 6 }, (_, i) => ({ event: 'certificate.issued', actor: 'ca', outcome: 'ok' as const, tenant: 'prune-r', details: { i } })),
      'r',
    );
    const cut = { seq: entries[3]!.seq, hash: entries[3]!.hash };
    // The second prune reads the checkpoint and finds its target; then, before it lists the entries
    // to delete, the first prune (another instance) deletes them: its page comes back empty.
    const listAudit = store.listAudit.bind(store);
    let calls = 0;
    const racing = Object.assign(Object.create(store) as Store, {
      listAudit: async (q: Parameters<Store['listAudit']>[0]) => {
        if (++calls === 2) equal(await store.pruneAudit(cut), true);
        return listAudit(q);
      },
    });
    equal(await pruneAuditInChunks(racing, cut, (from, _page, to) => store.pruneAudit(to, from)), true);
    deepStrictEqual(await store.auditCheckpoint(), cut);
  },

  'issue 14.5: of two prunes from the same checkpoint at once (two pki audit retain runs) exactly one prunes': async (store, opened) => {
    const other = opened.another?.() ?? store;
    try {
      const from = await store.auditCheckpoint();
      const entries = await store.appendAudit(
        Array.from({ length: 10 }, (_, i) => ({ event: 'certificate.issued', actor: 'ca', outcome: 'ok' as const, tenant: 'prune-c', details: { i } })),
        'q',
      );
      const cut = { seq: entries[4]!.seq, hash: entries[4]!.hash };
      equal(await store.pruneAudit(cut, { seq: from.seq, hash: '0'.repeat(64) }), false, 'from a checkpoint that is not the store\'s: refused');
      equal((await store.auditCheckpoint()).seq, from.seq, 'nothing pruned');
      const results = await Promise.all([store.pruneAudit(cut, from), other.pruneAudit(cut, from)]);
      deepStrictEqual([...results].sort(), [false, true], 'one prunes, the other finds the checkpoint moved');
      deepStrictEqual(await store.auditCheckpoint(), cut);
      deepStrictEqual((await store.listAudit({ tenant: 'prune-c', limit: 100 })).map((e) => e.seq), entries.slice(5).map((e) => e.seq));
      equal(await store.pruneAudit(cut, from), false, 'again from the old checkpoint: refused');
      equal(await store.pruneAudit(cut), true, 'without from: the checkpoint already');
    } finally {
      if (other !== store) await other.close();
    }
  },
});
