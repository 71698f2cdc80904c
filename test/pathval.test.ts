/**
 * libs/pathval on a manufacturer PKI made with the real openssl (test/helpers/manufacturer-pki.ts),
 * P-256 and RSA: the good chain, then one defect per case, each refused with its rule ID; the
 * cached validator gives the same verdicts and never serves a verdict for other inputs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createPathValidator, validatePath, type PathInput, type PathVerdict } from '@evpki/pathval';
import { makeManufacturerPki, type ManufacturerPki, type MfrCert, type MfrKeyType } from './helpers/manufacturer-pki.js';

const DAY = 24 * 3600_000;
const UNKNOWN_CRITICAL = '1.3.6.1.4.1.55555.1=critical,ASN1:UTF8String:must-understand';

function assertOk(v: PathVerdict, expected: readonly MfrCert[]): void {
  assert.ok(v.ok, v.ok ? '' : JSON.stringify(v.reasons));
  assert.deepEqual(v.path.map((d) => Buffer.from(d).toString('hex')), expected.map((c) => c.der.toString('hex')));
}

function assertRefused(v: PathVerdict, rule: string, depth?: number): void {
  assert.equal(v.ok, false, `accepted, expected a refusal ${rule}`);
  if (v.ok) return;
  const hit = v.reasons.find((r) => r.rule === rule && (depth === undefined || r.depth === depth));
  assert.ok(hit, `no refusal ${rule}${depth === undefined ? '' : ` at depth ${depth}`} in ${JSON.stringify(v.reasons)}`);
  assert.ok(hit.message.length > 0);
}

function flipLastByte(der: Buffer): Buffer {
  const copy = Buffer.from(der);
  copy[copy.length - 1]! ^= 0x01;
  return copy;
}

for (const keyType of ['p256', 'rsa'] as MfrKeyType[]) {
  describe(`libs/pathval on an openssl manufacturer PKI (${keyType})`, () => {
    let pki: ManufacturerPki;
    let input: (leaf: MfrCert | Buffer, more?: Partial<PathInput>) => PathInput;
    const made: Record<string, MfrCert> = {};

    before(() => {
      pki = makeManufacturerPki({ keyType });
      const base = { issuer: pki.intermediate };
      const now = Date.now();
      made.expired = pki.issue({ ...base, subject: '/O=Acme Chargers/CN=CP-EXPIRED', notBefore: new Date(now - 10 * DAY), notAfter: new Date(now - DAY) });
      made.future = pki.issue({ ...base, subject: '/O=Acme Chargers/CN=CP-FUTURE', notBefore: new Date(now + DAY) });
      made.critLeaf = pki.issue({ ...base, subject: '/O=Acme Chargers/CN=CP-CRIT', extensions: [UNKNOWN_CRITICAL] });
      made.revoked = pki.issue({ ...base, subject: '/O=Acme Chargers/CN=CP-REVOKED' });
      // A CA without keyCertSign, and a CA carrying an unknown critical extension, under the root.
      made.noCertSign = pki.issue({ issuer: pki.root, ca: true, subject: '/O=Acme Chargers/CN=No CertSign CA', keyUsage: 'critical,cRLSign,digitalSignature' });
      made.noCertSignLeaf = pki.issue({ issuer: made.noCertSign, subject: '/O=Acme Chargers/CN=CP-NOCERTSIGN' });
      made.critCa = pki.issue({ issuer: pki.root, ca: true, subject: '/O=Acme Chargers/CN=Critical CA', extensions: [UNKNOWN_CRITICAL] });
      made.critCaLeaf = pki.issue({ issuer: made.critCa, subject: '/O=Acme Chargers/CN=CP-CRITCA' });
      // The issuing CA has pathlen 0: a sub-CA under it exceeds the path length.
      made.subCa = pki.issue({ issuer: pki.intermediate, ca: true, subject: '/O=Acme Chargers/CN=Sub CA' });
      made.subCaLeaf = pki.issue({ issuer: made.subCa, subject: '/O=Acme Chargers/CN=CP-DEEP' });
      // A name-constrained CA: only O=Acme Chargers subjects, no DNS name under bad.example.
      made.ncCa = pki.issue({
        issuer: pki.root, ca: true, subject: '/O=Acme Chargers/CN=Constrained CA',
        extensions: ['nameConstraints=critical,permitted;dirName:nc_permitted,excluded;DNS:bad.example'], sections: '[ nc_permitted ]\nO=Acme Chargers\n',
      });
      made.ncInside = pki.issue({ issuer: made.ncCa, subject: '/O=Acme Chargers/CN=CP-NC-OK', extensions: ['subjectAltName=DNS:cp.good.example'] });
      made.ncOutsideDn = pki.issue({ issuer: made.ncCa, subject: '/O=Evil Chargers/CN=CP-NC-DN' });
      made.ncExcludedDns = pki.issue({ issuer: made.ncCa, subject: '/O=Acme Chargers/CN=CP-NC-DNS', extensions: ['subjectAltName=DNS:cp.bad.example'] });
      // A loop: A (self-signed) → B; A' (same name and key as A) issued by B; a leaf under A. No anchor among them.
      made.loopA = pki.issue({ ca: true, subject: '/O=Loop/CN=Loop A' });
      made.loopB = pki.issue({ issuer: made.loopA, ca: true, subject: '/O=Loop/CN=Loop B' });
      made.loopA2 = pki.issue({ issuer: made.loopB, ca: true, subject: '/O=Loop/CN=Loop A', keyFile: made.loopA.keyFile });
      made.loopLeaf = pki.issue({ issuer: made.loopA, subject: '/O=Loop/CN=CP-LOOP' });
      made.sha1Leaf = pki.issue({ ...base, subject: '/O=Acme Chargers/CN=CP-SHA1', md: 'sha1' });
      if (keyType === 'rsa') made.pssLeaf = pki.issue({ ...base, subject: '/O=Acme Chargers/CN=CP-PSS', rsaPss: true });
      pki.revoke(pki.intermediate, made.revoked);
      input = (leaf, more = {}) => ({
        leaf: Buffer.isBuffer(leaf) ? leaf : leaf.der,
        intermediates: [pki.intermediate.der],
        trustAnchors: [pki.root.der],
        at: new Date(),
        ...more,
      });
    });
    after(() => pki?.cleanup());

    it('accepts the good chain, leaf → issuing CA → root', async () => {
      assertOk(await validatePath(input(pki.leaf)), [pki.leaf, pki.intermediate, pki.root]);
    });

    it('refuses an expired leaf and a leaf not yet valid: RFC5280-6.1.3(a)(2)', async () => {
      assertRefused(await validatePath(input(made.expired!)), 'RFC5280-6.1.3(a)(2)', 0);
      assertRefused(await validatePath(input(made.future!)), 'RFC5280-6.1.3(a)(2)', 0);
      // The same good chain, seen from before the root existed or after the leaf expired.
      assertRefused(await validatePath(input(pki.leaf, { at: new Date(Date.now() - 30 * DAY) })), 'RFC5280-6.1.3(a)(2)', 2);
      assertRefused(await validatePath(input(pki.leaf, { at: new Date(Date.now() + 400 * DAY) })), 'RFC5280-6.1.3(a)(2)', 0);
    });

    it('refuses the chain against the wrong root: same name, other key RFC5280-6.1.3(a)(1); no root of that name RFC5280-6.1', async () => {
      assertRefused(await validatePath(input(pki.leaf, { trustAnchors: [pki.otherRoot.der] })), 'RFC5280-6.1.3(a)(1)', 1);
      const stranger = pki.issue({ ca: true, subject: '/O=Someone Else/CN=Other Root' });
      assertRefused(await validatePath(input(pki.leaf, { trustAnchors: [stranger.der] })), 'RFC5280-6.1', 0);
      assertRefused(await validatePath(input(pki.leaf, { trustAnchors: [] })), 'RFC5280-6.1', 0);
    });

    it('refuses a broken signature (one byte of the signature flipped): RFC5280-6.1.3(a)(1)', async () => {
      assertRefused(await validatePath(input(flipLastByte(pki.leaf.der))), 'RFC5280-6.1.3(a)(1)', 0);
      // A broken intermediate is dropped as a candidate: no path is left.
      assertRefused(await validatePath(input(pki.leaf, { intermediates: [flipLastByte(pki.intermediate.der)] })), 'RFC5280-6.1.3(a)(1)', 1);
    });

    it('refuses a SHA-1 signature: RFC5280-6.1.3(a)(1)', async () => {
      const v = await validatePath(input(made.sha1Leaf!));
      assertRefused(v, 'RFC5280-6.1.3(a)(1)', 0);
      assert.match(JSON.stringify(v), /SHA-1/);
    });

    it(`accepts ${keyType === 'rsa' ? 'an RSASSA-PSS signed leaf' : 'the P-256 chain signed with ECDSA'}`, async () => {
      const leaf = made.pssLeaf ?? pki.leaf;
      assertOk(await validatePath(input(leaf)), [leaf, pki.intermediate, pki.root]);
    });

    it('refuses a CA whose keyUsage lacks keyCertSign: RFC5280-6.1.4(n)', async () => {
      assertRefused(await validatePath(input(made.noCertSignLeaf!, { intermediates: [made.noCertSign!.der] })), 'RFC5280-6.1.4(n)', 1);
    });

    it('refuses a path longer than the issuing CA pathLen 0 allows: RFC5280-6.1.4(l)', async () => {
      assertRefused(await validatePath(input(made.subCaLeaf!, { intermediates: [made.subCa!.der, pki.intermediate.der] })), 'RFC5280-6.1.4(l)', 1);
    });

    it('refuses unknown critical extensions: leaf RFC5280-6.1.5(f), CA RFC5280-6.1.4(o)', async () => {
      assertRefused(await validatePath(input(made.critLeaf!)), 'RFC5280-6.1.5(f)', 0);
      assertRefused(await validatePath(input(made.critCaLeaf!, { intermediates: [made.critCa!.der] })), 'RFC5280-6.1.4(o)', 1);
    });

    it('applies name constraints: permitted O=Acme Chargers RFC5280-6.1.3(b), excluded DNS bad.example RFC5280-6.1.3(c)', async () => {
      const nc = { intermediates: [made.ncCa!.der] };
      assertOk(await validatePath(input(made.ncInside!, nc)), [made.ncInside!, made.ncCa!, pki.root]);
      assertRefused(await validatePath(input(made.ncOutsideDn!, nc)), 'RFC5280-6.1.3(b)', 0);
      assertRefused(await validatePath(input(made.ncExcludedDns!, nc)), 'RFC5280-6.1.3(c)', 0);
    });

    it('refuses a revoked leaf given its issuer CRL (openssl ca -gencrl): RFC5280-6.1.3(a)(3); a stale CRL is unusable', async () => {
      const crl = pki.crl(pki.intermediate, { days: 1 });
      assertRefused(await validatePath(input(made.revoked!, { crls: [crl] })), 'RFC5280-6.1.3(a)(3)', 0);
      assertOk(await validatePath(input(pki.leaf, { crls: [crl] })), [pki.leaf, pki.intermediate, pki.root]);
      assertOk(await validatePath(input(made.revoked!)), [made.revoked!, pki.intermediate, pki.root]); // no CRL given: not checked
      const later = new Date(Date.now() + 3 * DAY);
      const stale = await validatePath(input(pki.leaf, { crls: [crl], at: later }));
      assertRefused(stale, 'RFC5280-6.1.3(a)(3)', 0);
      assert.match(JSON.stringify(stale), /stale/);
      // The issuer's CRL with a broken signature: unusable, so the status is unknown.
      const broken = await validatePath(input(pki.leaf, { crls: [flipLastByte(crl)] }));
      assertRefused(broken, 'RFC5280-6.1.3(a)(3)', 0);
      assert.match(JSON.stringify(broken), /no usable CRL.*signature/);
      // A CRL in the issuer's name listing the leaf, from another key (its authorityKeyIdentifier says so): not the issuer's CRL.
      const impostor = pki.issue({ ca: true, subject: pki.intermediate.subject });
      pki.revoke(impostor, pki.leaf);
      assertOk(await validatePath(input(pki.leaf, { crls: [pki.crl(impostor)] })), [pki.leaf, pki.intermediate, pki.root]);
    });

    it('ignores junk and unrelated certificates among the intermediates, in any order', async () => {
      const junk = [randomBytes(40), Buffer.from('-----BEGIN CERTIFICATE-----'), Buffer.alloc(0), pki.otherRoot.der, made.loopB!.der, flipLastByte(pki.intermediate.der)];
      assertOk(await validatePath(input(pki.leaf, { intermediates: [...junk, pki.intermediate.der, pki.root.der] })), [pki.leaf, pki.intermediate, pki.root]);
    });

    it('refuses a leaf that is not a certificate: RFC5280-4.1', async () => {
      assertRefused(await validatePath(input(randomBytes(64))), 'RFC5280-4.1', 0);
    });

    it('ends on loops between cross-certified CAs with no anchor: RFC5280-6.1', async () => {
      const v = await validatePath(input(made.loopLeaf!, { intermediates: [made.loopA2!.der, made.loopB!.der, made.loopA!.der] }));
      assertRefused(v, 'RFC5280-6.1', 0);
      // The same loop with Loop A trusted: found, shortest first.
      assertOk(await validatePath(input(made.loopLeaf!, { intermediates: [made.loopA2!.der, made.loopB!.der], trustAnchors: [made.loopA!.der] })), [made.loopLeaf!, made.loopA!]);
    });

    it('bounds the number of intermediates with maxDepth: PATHVAL-MAX-DEPTH', async () => {
      assertRefused(await validatePath(input(pki.leaf, { maxDepth: 0 })), 'PATHVAL-MAX-DEPTH', 0);
      assertOk(await validatePath(input(pki.leaf, { maxDepth: 1 })), [pki.leaf, pki.intermediate, pki.root]);
    });

    it('the cached validator gives the same verdicts, and a changed input is never answered from the cache', async () => {
      const cached = createPathValidator({ cacheSize: 16 });
      const inputs = [
        input(pki.leaf), input(made.expired!), input(made.critLeaf!), input(flipLastByte(pki.leaf.der)), input(pki.leaf, { trustAnchors: [pki.otherRoot.der] }),
        input(made.noCertSignLeaf!, { intermediates: [made.noCertSign!.der] }), input(made.revoked!, { crls: [pki.crl(pki.intermediate)] }),
      ];
      for (let round = 0; round < 3; round++)
        for (const i of inputs) {
          const [a, b] = [await validatePath(i), await cached.validate(i)];
          assert.equal(b.ok, a.ok);
          if (!a.ok && !b.ok) assert.deepEqual(b.reasons, a.reasons);
        }
      assert.equal((await cached.validate(input(pki.leaf))).ok, true);
      // The caller's buffer is reused for other bytes after the call: the cache kept its own copy.
      const fresh = createPathValidator();
      const reused = Buffer.from(pki.leaf.der);
      assert.equal((await fresh.validate(input(reused))).ok, true);
      reused.fill(0);
      assertOk(await fresh.validate(input(pki.leaf)), [pki.leaf, pki.intermediate, pki.root]);
      assertRefused(await cached.validate(input(pki.leaf, { at: new Date(Date.now() + 400 * DAY) })), 'RFC5280-6.1.3(a)(2)', 0);
      assertRefused(await cached.validate(input(pki.leaf, { trustAnchors: [pki.otherRoot.der] })), 'RFC5280-6.1.3(a)(1)', 1);
      pki.revoke(pki.intermediate, pki.leaf);
      assertRefused(await cached.validate(input(pki.leaf, { crls: [pki.crl(pki.intermediate)] })), 'RFC5280-6.1.3(a)(3)', 0);
      assert.equal((await cached.validate(input(pki.leaf))).ok, true);
    });
  });
}

describe('libs/pathval: other signature algorithms (openssl-made chains)', () => {
  for (const keyType of ['p384', 'p521', 'ed25519'] as MfrKeyType[])
    it(`accepts a ${keyType} chain and refuses it with a flipped signature byte`, async () => {
      const pki = makeManufacturerPki({ keyType });
      try {
        const base = { intermediates: [pki.intermediate.der], trustAnchors: [pki.root.der], at: new Date() };
        assertOk(await validatePath({ ...base, leaf: pki.leaf.der }), [pki.leaf, pki.intermediate, pki.root]);
        assertRefused(await validatePath({ ...base, leaf: flipLastByte(pki.leaf.der) }), 'RFC5280-6.1.3(a)(1)', 0);
      } finally {
        pki.cleanup();
      }
    });
});

describe('libs/pathval: certificate policies (openssl-made chain, P-256)', () => {
  it('a CA requiring an explicit policy: a leaf with that policy passes, another policy or none is refused RFC5280-6.1.3(f)', async () => {
    const pki = makeManufacturerPki({ keyType: 'p256' });
    try {
      const ca = pki.issue({
        issuer: pki.root, ca: true, subject: '/O=Acme Chargers/CN=Policy CA',
        extensions: ['certificatePolicies=1.3.6.1.4.1.55555.7', 'policyConstraints=critical,requireExplicitPolicy:0'],
      });
      const leafWith = (policy?: string): MfrCert =>
        pki.issue({ issuer: ca, subject: `/O=Acme Chargers/CN=CP-POLICY-${policy ?? 'NONE'}`, extensions: policy ? [`certificatePolicies=${policy}`] : [] });
      const base = { intermediates: [ca.der], trustAnchors: [pki.root.der], at: new Date() };
      const good = leafWith('1.3.6.1.4.1.55555.7');
      assertOk(await validatePath({ ...base, leaf: good.der }), [good, ca, pki.root]);
      assertRefused(await validatePath({ ...base, leaf: leafWith('1.3.6.1.4.1.55555.8').der }), 'RFC5280-6.1.3(f)', 0);
      assertRefused(await validatePath({ ...base, leaf: leafWith().der }), 'RFC5280-6.1.3(f)', 0);
      // Without the requirement, policies do not decide anything.
      assertOk(await validatePath({ ...base, leaf: pki.leaf.der, intermediates: [pki.intermediate.der] }), [pki.leaf, pki.intermediate, pki.root]);
    } finally {
      pki.cleanup();
    }
  });
});
