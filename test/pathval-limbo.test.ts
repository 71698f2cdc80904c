/**
 * libs/pathval against the x509-limbo subset (families rfc5280, pathlen, crl, cve; 126 cases), read
 * at test time from ../shared/reference (or $X509_LIMBO_FILE). Every case must give its
 * expected_result, except the few whose only point is matching the peer name against the leaf:
 * a client certificate validator has no peer name to match (README of the subset).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createPathValidator, validatePath, type PathInput } from '@evpki/pathval';
import { FUZZ_TIMEOUT_MS, applyMutation, fuzzParams, mutationArb } from './helpers/fuzz.js';
import { limboCases } from './helpers/limbo.js';
import { limboInput } from './helpers/limbo-input.js';

/** Cases whose expected FAILURE comes only from peer-name matching (SERVER validation), with why. */
const PEER_NAME_ONLY: Readonly<Record<string, string>> = {
  'rfc5280::ca-as-leaf-wrong-san': 'the leaf is valid; only its SAN does not match the expected peer name some-other-ca.example.com',
  'rfc5280::san::ip-in-dns': 'the dNSName "8.8.8.8" is well-formed; the failure is that no iPAddress SAN matches the expected peer IP 8.8.8.8',
};

const RULE_ID = /^(RFC5280-\d+(\.\d+)*(\([a-z0-9]+\))*|PATHVAL-[A-Z-]+)$/;

describe('libs/pathval: x509-limbo subset', () => {
  const cases = limboCases();

  it('holds the 126 cases of the four families, and every skipped case exists', () => {
    assert.equal(cases.length, 126);
    assert.deepEqual([...new Set(cases.map((c) => c.id.split('::')[0]))].sort(), ['crl', 'cve', 'pathlen', 'rfc5280']);
    for (const id of Object.keys(PEER_NAME_ONLY)) assert.ok(cases.some((c) => c.id === id), `skip list names an unknown case ${id}`);
  });

  for (const c of cases) {
    const skip = PEER_NAME_ONLY[c.id];
    it(`${c.id} → ${c.expected_result}`, skip ? { skip: `peer-name matching only: ${skip}` } : {}, async () => {
      const verdict = await validatePath(limboInput(c));
      const got = verdict.ok ? 'SUCCESS' : 'FAILURE';
      assert.equal(got, c.expected_result, verdict.ok ? 'accepted' : JSON.stringify(verdict.reasons, null, 1));
      if (!verdict.ok) {
        assert.ok(verdict.reasons.length > 0);
        for (const r of verdict.reasons) assert.match(r.rule, RULE_ID, `refusal without a rule ID: ${JSON.stringify(r)}`);
      } else {
        assert.ok(verdict.path.length >= 2, 'a path holds at least the leaf and an anchor');
        assert.deepEqual(Buffer.from(verdict.path[0]!), limboInput(c).leaf);
      }
    });
  }

  it('the cached validator gives the same verdict for every case, twice over (cold and warm cache)', async () => {
    const cached = createPathValidator({ cacheSize: 64 });
    for (let round = 0; round < 2; round++)
      for (const c of cases) {
        const [plain, fromCache] = [await validatePath(limboInput(c)), await cached.validate(limboInput(c))];
        assert.equal(fromCache.ok, plain.ok, `${c.id} round ${round}`);
        if (!plain.ok && !fromCache.ok) assert.deepEqual(fromCache.reasons.map((r) => r.rule), plain.reasons.map((r) => r.rule), c.id);
      }
  });

  it('hostile bytes: a mutated leaf, intermediate, anchor or CRL never throws, refusals carry rule IDs, a changed leaf is never accepted', { timeout: FUZZ_TIMEOUT_MS }, async () => {
    const good = cases.filter((c) => c.expected_result === 'SUCCESS' && !PEER_NAME_ONLY[c.id]);
    const cached = createPathValidator({ cacheSize: 32 });
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.nat(), fc.constantFrom('leaf', 'intermediates', 'trustAnchors', 'crls'), fc.array(mutationArb, { minLength: 1, maxLength: 3 }), async (ci, ei, field, muts) => {
        const input = limboInput(good[ci % good.length]!);
        const mutate = (b: Uint8Array): Buffer => muts.reduce<Buffer>((acc, m) => applyMutation(acc, m), Buffer.from(b));
        const list = field === 'leaf' ? [] : (input[field] ?? []);
        const hostile: PathInput =
          field === 'leaf' ? { ...input, leaf: mutate(input.leaf) }
          : { ...input, [field]: list.map((d, i) => (i === ei % list.length ? mutate(d) : d)) };
        for (const v of [await validatePath(hostile), await cached.validate(hostile)]) {
          if (v.ok) assert.ok(field !== 'leaf' || Buffer.from(hostile.leaf).equals(input.leaf), 'a changed leaf was accepted');
          else for (const r of v.reasons) assert.match(r.rule, RULE_ID);
        }
      }),
      fuzzParams(2),
    );
  });
});

