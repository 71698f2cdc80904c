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

/** For these failures, the rule the refusal must name (the failure must be for the case's reason). */
const EXPECTED_RULE: Readonly<Record<string, string>> = {
  'crl::revoked-certificate-with-crl': 'RFC5280-6.1.3(a)(3)',
  'crl::crlnumber-missing': 'RFC5280-6.1.3(a)(3)',
  'crl::crlnumber-critical': 'RFC5280-6.1.3(a)(3)',
  'crl::issuer-missing-crlsign': 'RFC5280-6.1.3(a)(3)',
  'cve::cve-2025-61727': 'RFC5280-6.1.3(c)',
  'cve::cve-2025-61727-nc-permits-variant': 'RFC5280-6.1.3(b)',
  'pathlen::intermediate-violates-pathlen-0': 'RFC5280-6.1.4(l)',
  'pathlen::intermediate-pathlen-too-long': 'RFC5280-6.1.4(l)',
  'pathlen::max-chain-depth-0-exhausted': 'PATHVAL-MAX-DEPTH',
  'pathlen::max-chain-depth-1-exhausted': 'PATHVAL-MAX-DEPTH',
  'rfc5280::aki::critical-aki': 'RFC5280-4.2.1.1',
  'rfc5280::aki::leaf-missing-aki': 'RFC5280-4.2.1.1',
  'rfc5280::aki::intermediate-missing-aki': 'RFC5280-4.2.1.1',
  'rfc5280::aki::cross-signed-root-missing-aki': 'RFC5280-4.2.1.1',
  'rfc5280::eku::ee-wrong-eku': 'RFC5280-4.2.1.12',
  'rfc5280::eku::ee-eku-empty': 'RFC5280-4.2.1.12',
  'rfc5280::nc::permitted-dns-mismatch': 'RFC5280-6.1.3(b)',
  'rfc5280::nc::excluded-dns-match': 'RFC5280-6.1.3(c)',
  'rfc5280::nc::permitted-dns-match-noncritical': 'RFC5280-4.2.1.10',
  'rfc5280::nc::permitted-dn-match-subject-san-mismatch': 'RFC5280-6.1.3(b)',
  'rfc5280::nc::excluded-self-issued-leaf': 'RFC5280-6.1.3(b)',
  'rfc5280::nc::invalid-ipv4-address': 'RFC5280-4.2.1.10',
  'rfc5280::nc::not-allowed-in-ee-critical': 'RFC5280-4.2.1.10',
  'rfc5280::nc::nc-permits-invalid-email-san': 'RFC5280-4.2.1.6',
  'rfc5280::nc::nc-forbids-othername': 'RFC5280-6.1.3(b)',
  'rfc5280::nc::nc-forbids-dnsname-wildcard-san': 'RFC5280-6.1.3(c)',
  'rfc5280::pc::ica-noncritical-pc': 'RFC5280-4.2.1.11',
  'rfc5280::san::malformed': 'RFC5280-4.2.1.6',
  'rfc5280::san::noncritical-with-empty-subject': 'RFC5280-4.2.1.6',
  'rfc5280::serial::too-long': 'RFC5280-4.1.2.2',
  'rfc5280::serial::zero': 'RFC5280-4.1.2.2',
  'rfc5280::serial::negative': 'RFC5280-4.1.2.2',
  'rfc5280::ski::critical-ski': 'RFC5280-4.2.1.2',
  'rfc5280::ski::root-missing-ski': 'RFC5280-4.2.1.2',
  'rfc5280::validity::expired-root': 'RFC5280-6.1.3(a)(2)',
  'rfc5280::validity::notbefore-fractional': 'RFC5280-6.1.3(a)(2)',
  'rfc5280::ee-empty-issuer': 'RFC5280-4.1.2.4',
  'rfc5280::ca-empty-subject': 'RFC5280-4.1.2.6',
  'rfc5280::unknown-critical-extension-ee': 'RFC5280-6.1.5(f)',
  'rfc5280::unknown-critical-extension-root': 'RFC5280-6.1.4(o)',
  'rfc5280::unknown-critical-extension-intermediate': 'RFC5280-6.1.4(o)',
  'rfc5280::chain-untrusted-root': 'RFC5280-6.1',
  'rfc5280::intermediate-ca-without-ca-bit': 'RFC5280-6.1.4(k)',
  'rfc5280::root-missing-basic-constraints': 'RFC5280-6.1.4(k)',
  'rfc5280::root-non-critical-basic-constraints': 'RFC5280-4.2.1.9',
  'rfc5280::root-inconsistent-ca-extensions': 'RFC5280-6.1.4(n)',
  'rfc5280::leaf-ku-keycertsign': 'RFC5280-4.2.1.3',
  'rfc5280::ee-critical-aia-invalid': 'RFC5280-4.2.2.1',
  'rfc5280::duplicate-extensions': 'RFC5280-4.2',
  'rfc5280::mismatching-signature-algorithm': 'RFC5280-4.1.1.2',
};

const RULE_ID = /^(RFC5280-\d+(\.\d+)*(\([a-z0-9]+\))*|PATHVAL-[A-Z-]+)$/;

describe('libs/pathval: x509-limbo subset', () => {
  const cases = limboCases();

  it('holds the 126 cases of the four families, and every skipped case exists', () => {
    assert.equal(cases.length, 126);
    assert.deepEqual([...new Set(cases.map((c) => c.id.split('::')[0]))].sort(), ['crl', 'cve', 'pathlen', 'rfc5280']);
    for (const id of [...Object.keys(PEER_NAME_ONLY), ...Object.keys(EXPECTED_RULE)]) assert.ok(cases.some((c) => c.id === id), `list names an unknown case ${id}`);
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
        const rule = EXPECTED_RULE[c.id];
        if (rule) assert.ok(verdict.reasons.some((r) => r.rule === rule), `expected a refusal ${rule}, got ${JSON.stringify(verdict.reasons)}`);
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

