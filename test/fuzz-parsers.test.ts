import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import * as pkijs from 'pkijs';
import { HASH_OIDS, MalformedOcspRequest, OCSP_LIMITS, buildOcspRequest, encodeCertId, issuerHashes, parseOcspRequest, type CertIdHash } from '@evpki/ocsp';
import { DEFAULT_KEY_POLICY, Rule, checkChargePointCsr, checkCsrSignature, checkKey, checkServerCsr, readCsr, type Violation } from '@evpki/policy';
import {
  CSR_LIMITS,
  bitString,
  ctx,
  integer,
  oid,
  seq,
  set,
  tlv,
  utf8,
  CSR_PEM_LABELS,
  DerError,
  OID,
  Tag,
  children,
  csrFromPem,
  fromPem,
  inspectSpki,
  parseCertificate,
  parseCsr,
  parseSubjectAltNames,
  pemBlocks,
  readOnly,
  readTlv,
  serialFromHex,
  toPem,
  type ParsedCsr,
} from '@evpki/x509';
import { TEST_DIR } from './helpers/fixtures.js';
import { ARMOURS, FUZZ_RUNS, FUZZ_TIMEOUT_MS, armour, deeplyNested, derInputArb, fuzzParams, indefiniteNested, mutatedArb } from './helpers/fuzz.js';
import { openssl } from './helpers/openssl.js';
import { newP256Csr } from './helpers/csr.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';

/**
 * Issue 7 "Hostile input", parsers: random and mutated DER and PEM fed to the CSR parser (as the RA
 * and the CA use it: readCsr, then every policy check) and to the OCSP request parser, directly
 * and through the OCSP responder over HTTP. Whatever comes in, the answer is a typed refusal
 * (DerError, a violation with a rule ID, MalformedOcspRequest, an OCSP malformedRequest), never
 * another exception, an HTTP 500 or a hang. What our strict parsers accept, pkijs must read the
 * same way.
 */

const RULE_IDS = new Set<string>(Object.values(Rule));
const TYPED = (e: unknown): boolean => e instanceof DerError;

/** The DER of every committed CSR fixture (good and known-bad ones). */
const CSR_SEEDS: Buffer[] = readdirSync(`${TEST_DIR}fixtures/csr`)
  .filter((f) => f.endsWith('.csr.pem'))
  .sort()
  .map((f) => fromPem(readFileSync(`${TEST_DIR}fixtures/csr/${f}`, 'utf8'), CSR_PEM_LABELS).der);

const keyContext = {
  keyPolicy: DEFAULT_KEY_POLICY,
  isKeyBlocked: () => false,
  wasKeyCertified: () => false,
};
const cpContext = { ...keyContext, station: { serialNumber: 'CP-0001', allowed: true }, cpoName: 'Demo CPO' };
const serverContext = { ...keyContext, tenant: { cpoName: 'Demo CPO', serverDomains: ['demo.local'], allowWildcards: true, ipRanges: ['10.0.0.0/8', '2001:db8::/32'] } };

function assertViolations(vs: readonly Violation[]): void {
  for (const v of vs) {
    assert.ok(RULE_IDS.has(v.rule), `unknown rule ${v.rule}`);
    assert.equal(typeof v.message, 'string');
    assert.ok(v.message.length > 0);
  }
}

/** Everything the RA and the CA do with a parsed CSR: each must answer with violations, never throw. */
async function allPolicies(csr: ParsedCsr): Promise<void> {
  const cp = await checkChargePointCsr(csr, cpContext);
  if (!cp.ok) assertViolations(cp.violations);
  const server = await checkServerCsr(csr, serverContext);
  if (!server.ok) assertViolations(server.violations);
  // The CA's OCSP signer path (services/ca ocsp-signer.ts): key read, signature, key policy.
  let key;
  try {
    key = inspectSpki(csr.spki);
  } catch (e) {
    assert.ok(TYPED(e), `inspectSpki threw ${String(e)}`);
    return;
  }
  assertViolations([...checkCsrSignature(csr, key), ...checkKey(key, DEFAULT_KEY_POLICY)]);
}

/** parseCsr either returns or throws DerError; anything else (RangeError, TypeError) fails the property. */
function parseOrRefuse(der: Buffer): ParsedCsr | undefined {
  try {
    return parseCsr(der);
  } catch (e) {
    if (!TYPED(e)) throw new Error(`parseCsr threw ${(e as Error)?.name}: ${(e as Error)?.message}\n${der.toString('hex')}`, { cause: e });
    return undefined;
  }
}

/**
 * What we accepted, pkijs reads the same way, for every part that flows into a certificate: the
 * public key (copied as is), the subject (its CN and O attributes are copied), the subjectAltName
 * (a server certificate's names). Parts the CA never reads nor
 * copies (values of unknown attributes, parameters inside an RSASSA-PSS hash AlgorithmIdentifier,
 * the insides of constructed GeneralNames) are not compared: the strict reader skips them on purpose.
 */
function crossCheckCsr(csr: ParsedCsr): void {
  const ref = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      assert.fail(`our parser accepted a ${what} pkijs refuses (${(e as Error).message}): ${csr.der.toString('hex')}`);
    }
  };
  let key;
  try {
    key = inspectSpki(csr.spki);
  } catch {
    return; // refused by the policy (A02.FR.03): never copied
  }
  if (key.type !== 'unsupported') {
    const spki = ref('public key', () => pkijs.PublicKeyInfo.fromBER(new Uint8Array(csr.spki)));
    assert.deepEqual(Buffer.from(spki.subjectPublicKey.valueBlock.valueHexView), key.common.publicKey, 'subjectPublicKey');
  }
  const subject = ref('subject', () => pkijs.RelativeDistinguishedNames.fromBER(new Uint8Array(csr.subject.der)));
  assert.equal(subject.typesAndValues.length, csr.subject.rdns.flat().length, 'subject attributes');
  const san = csr.extensions.find((e) => e.oid === OID.subjectAltName);
  if (san) {
    let names;
    try {
      names = parseSubjectAltNames(san.value);
    } catch {
      names = undefined; // refused by the policy
    }
    // otherName, x400Address, directoryName, ediPartyName, registeredID: counted, never read nor copied.
    if (names && names.other === 0) {
      const gn = ref('subjectAltName', () => pkijs.GeneralNames.fromBER(new Uint8Array(san.value)));
      assert.equal(gn.names.length, names.dns.length + names.ip.length + names.uri.length + names.email.length + names.other, 'GeneralNames');
    }
  }
}

describe('CSR parser (libs/x509 parseCsr, libs/policy readCsr) under hostile input', { timeout: FUZZ_TIMEOUT_MS }, () => {
  it('the seeds themselves parse and agree with pkijs', async () => {
    for (const der of CSR_SEEDS) {
      const csr = parseCsr(der);
      crossCheckCsr(csr);
      await allPolicies(csr);
    }
  });

  it('random bytes: DerError or a CSR, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (u) => {
        parseOrRefuse(Buffer.from(u));
      }),
      fuzzParams(4),
    );
  });

  it('mutated CSRs (bit flips, truncation, lying lengths, tag swaps, inserted/removed/duplicated elements, deep wraps): refused as DerError, or every policy answers with rule IDs; pkijs agrees on what we accept', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedArb(CSR_SEEDS, 5), async (der) => {
        const csr = parseOrRefuse(der);
        if (!csr) return;
        await allPolicies(csr);
        crossCheckCsr(csr);
      }),
      fuzzParams(4),
    );
  });

  it('PEM (intact or broken armour) around mutated DER: readCsr returns a CSR or an A02.FR.03 violation, csrFromPem throws only DerError', async () => {
    await fc.assert(
      fc.asyncProperty(derInputArb(CSR_SEEDS), fc.constantFrom(...ARMOURS), async (der, how) => {
        const pem = armour(der, how);
        const r = readCsr(pem);
        if ('violation' in r) {
          assert.equal(r.violation.rule, Rule.pkcs10);
          assert.match(r.violation.message, /CSR/);
        } else await allPolicies(r.csr);
        try {
          csrFromPem(pem);
        } catch (e) {
          assert.ok(TYPED(e), `csrFromPem threw ${String(e)}`);
        }
      }),
      fuzzParams(2),
    );
  });

  it('arbitrary text: readCsr never throws', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 6000, unit: 'binary' }),
      fc.string({ maxLength: 200, unit: 'grapheme' }).map((s) => `-----BEGIN CERTIFICATE REQUEST-----\n${s}\n-----END CERTIFICATE REQUEST-----\n`),
      fc.stringMatching(/^[A-Za-z0-9+/=\s-]{0,400}$/).map((s) => `-----BEGIN CERTIFICATE REQUEST-----\n${s}-----END CERTIFICATE REQUEST-----`),
    );
    fc.assert(
      fc.property(text, (s) => {
        const r = readCsr(s);
        if ('violation' in r) assert.equal(r.violation.rule, Rule.pkcs10);
      }),
      fuzzParams(2),
    );
  });
});

describe('regressions found by fuzzing the CSR path', () => {
  const good = (name: string) => fromPem(readFileSync(`${TEST_DIR}fixtures/csr/${name}.csr.pem`, 'utf8'), CSR_PEM_LABELS).der;

  it('invalid UTF-8 in a UTF8String subject attribute is a DerError (was a TypeError from TextDecoder escaping parseCsr)', () => {
    const der = Buffer.from(good('ec-p256-good'));
    const cn = der.indexOf(Buffer.from('CP-0001'));
    assert.ok(cn > 0);
    der[cn] = 0xff; // not UTF-8
    assert.throws(() => parseCsr(der), (e: unknown) => e instanceof DerError && /UTF-8/.test(e.message));
    const r = readCsr(toPem('CERTIFICATE REQUEST', der));
    assert.ok('violation' in r);
    assert.equal(r.violation.rule, Rule.pkcs10);
    assert.match(r.violation.message, /invalid UTF-8/);
  });

  it('malformed RSASSA-PSS parameters are an A02.FR.03 violation (was a DerError thrown through the policy: HTTP 500 at the RA and the CA)', async () => {
    const der = Buffer.from(good('rsa-pss-good'));
    const top = readOnly(der, Tag.SEQUENCE);
    const [, algT] = children(top, 3);
    const params = children(algT!, 2)[1]!;
    // The first parameter field ([0] hash) gets a tag the reader refuses to find there.
    const at = top.end - top.value.length + algT!.start + (algT!.end - algT!.start - algT!.value.length) + params.start;
    const fieldAt = at + (params.end - params.start - params.value.length);
    assert.equal(der[fieldAt], 0xa0);
    der[fieldAt + 2] = 0x31; // [0] { SET ... } instead of [0] { SEQUENCE ... }
    const csr = parseCsr(der);
    const cp = await checkChargePointCsr(csr, cpContext);
    assert.equal(cp.ok, false);
    assert.ok(!cp.ok && cp.violations.some((v) => v.rule === Rule.pkcs10 && /signature algorithm parameters are malformed/.test(v.message)), JSON.stringify(cp));
    const server = await checkServerCsr(csr, serverContext);
    assert.ok(!server.ok && server.violations.some((v) => v.rule === Rule.pkcs10));
    assert.ok(checkCsrSignature(csr, inspectSpki(csr.spki)).some((v) => v.rule === Rule.pkcs10));
  });
});

describe('regressions found by cross-checking what the strict reader accepts with pkijs', () => {
  const good = (name: string) => fromPem(readFileSync(`${TEST_DIR}fixtures/csr/${name}.csr.pem`, 'utf8'), CSR_PEM_LABELS).der;
  const replaceOnce = (b: Buffer, from: string, to: string): Buffer => {
    const hex = b.toString('hex');
    assert.ok(hex.includes(from), from);
    return Buffer.from(hex.replace(from, to), 'hex');
  };

  it('rsaEncryption key parameters other than NULL are refused (the SPKI was copied as is into the certificate)', async () => {
    const csr = parseCsr(replaceOnce(good('rsa-2048-good'), '06092a864886f70d0101010500', '06092a864886f70d0101011800'));
    assert.throws(() => inspectSpki(csr.spki), (e: unknown) => e instanceof DerError && /must be NULL/.test(e.message));
    const r = await checkChargePointCsr(csr, cpContext);
    assert.ok(!r.ok && r.violations.some((v) => v.rule === Rule.pkcs10 && /public key is malformed/.test(v.message)));
  });

  it('signature algorithm parameters other than NULL are refused (A02.FR.03)', () => {
    const csr = parseCsr(replaceOnce(good('rsa-2048-good'), '06092a864886f70d01010b0500', '06092a864886f70d01010b1800'));
    const vs = checkCsrSignature(csr, inspectSpki(csr.spki));
    assert.ok(vs.some((v) => v.rule === Rule.pkcs10 && /must be absent or NULL/.test(v.message)), JSON.stringify(vs));
  });

  it('attribute values that are not a non-empty SET are refused (RFC 2986)', () => {
    const base = parseCsr(good('ec-p256-good'));
    const info = (attr: Buffer) => seq(integer(0), base.subject.der, base.spki, ctx(0, attr));
    const csrWith = (attr: Buffer) => seq(info(attr), seq(oid(OID.ecdsaWithSHA256)), bitString(Buffer.alloc(8)));
    assert.doesNotThrow(() => parseCsr(csrWith(seq(oid(OID.challengePassword), set(utf8('x'))))));
    assert.throws(() => parseCsr(csrWith(seq(oid(OID.challengePassword), seq(utf8('x'))))), (e: unknown) => e instanceof DerError && /attribute values/.test(e.message));
    assert.throws(() => parseCsr(csrWith(seq(oid(OID.challengePassword), set()))), (e: unknown) => e instanceof DerError && /without values/.test(e.message));
  });

  it('subjectAltName entries that are no GeneralName, and iPAddress octets of another length, are refused', async () => {
    assert.throws(() => parseSubjectAltNames(seq(tlv(0x03, Buffer.from('x')))), (e: unknown) => e instanceof DerError && /not a GeneralName/.test(e.message));
    assert.throws(() => parseSubjectAltNames(seq(tlv(0x1e, Buffer.from('xy')))), (e: unknown) => e instanceof DerError && /not a GeneralName/.test(e.message));
    assert.throws(() => parseSubjectAltNames(seq(tlv(0x87, Buffer.alloc(5)))), (e: unknown) => e instanceof DerError && /4 or 16 octets/.test(e.message));
    assert.deepEqual(parseSubjectAltNames(seq(tlv(0x82, Buffer.from('a.demo.local')), tlv(0x87, Buffer.from([10, 0, 0, 1])))).ip, ['10.0.0.1']);
    // Through the policy: a server CSR with such a SAN is refused, nothing is copied.
    const csr = parseCsr(replaceOnce(good('san-dns'), '3011820f', '3011030f'));
    const r = await checkServerCsr(csr, serverContext);
    assert.ok(!r.ok && r.violations.some((v) => /subjectAltName extension is malformed/.test(v.message)), JSON.stringify(r));
  });
});

describe('huge and deeply nested ASN.1 is refused before it costs much', () => {
  it('100k nested SEQUENCEs: refused by size (DerError), no RangeError (stack)', () => {
    const deep = deeplyNested(100_000);
    assert.ok(deep.length > CSR_LIMITS.maxDerBytes);
    assert.throws(() => parseCsr(deep), (e: unknown) => e instanceof DerError && /larger than 8192 bytes/.test(e.message));
    assert.throws(() => parseOcspRequest(deep), (e: unknown) => e instanceof MalformedOcspRequest && /larger than 4096 bytes/.test(e.message));
    const r = readCsr(toPem('CERTIFICATE REQUEST', deep));
    assert.ok('violation' in r && r.violation.rule === Rule.pkcs10);
  });

  it('the deepest nesting that fits the size limits: each parser reads only the levels its shape asks for (DerError, no stack)', () => {
    for (const tag of [0x30, 0x31, 0xa0, 0xa2]) {
      const csr = deeplyNested(2000, tag);
      assert.ok(csr.length <= CSR_LIMITS.maxDerBytes);
      assert.throws(() => parseCsr(csr), (e: unknown) => e instanceof DerError);
      const req = deeplyNested(1000, tag);
      assert.ok(req.length <= OCSP_LIMITS.maxRequestBytes);
      assert.throws(() => parseOcspRequest(req), (e: unknown) => e instanceof MalformedOcspRequest);
    }
    // The reader itself never recurses: walking a 100k-deep element one level at a time is a loop.
    let t = readTlv(deeplyNested(100_000), 0);
    for (let i = 0; i < 99_999; i++) t = children(t, 1)[0]!;
    assert.equal(children(t, 1)[0]!.tag, Tag.NULL);
  });

  it('indefinite lengths (BER), at any depth, are refused', () => {
    assert.throws(() => parseCsr(indefiniteNested(10)), (e: unknown) => e instanceof DerError && /indefinite length/.test(e.message));
    assert.throws(() => parseCsr(indefiniteNested(1000)), (e: unknown) => e instanceof DerError && /indefinite length/.test(e.message));
    assert.throws(() => parseOcspRequest(indefiniteNested(500)), (e: unknown) => e instanceof MalformedOcspRequest && /indefinite length/.test(e.message));
  });

  const lying: [string, Buffer][] = [
    ['4 length octets claiming 4 GiB', Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x05, 0x00])],
    ['8 length octets', Buffer.from([0x30, 0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x05, 0x00])],
    ['127 length octets', Buffer.concat([Buffer.from([0x30, 0xff]), Buffer.alloc(127, 0xff)])],
    ['3 length octets claiming 16 MiB - 1', Buffer.from([0x30, 0x83, 0xff, 0xff, 0xff, 0x05, 0x00])],
    ['a length past the end', Buffer.from([0x30, 0x82, 0x10, 0x00, 0x05, 0x00])],
  ];
  for (const [name, der] of lying) {
    it(`${name}: refused without allocating (DerError / MalformedOcspRequest)`, () => {
      assert.throws(() => parseCsr(der), (e: unknown) => e instanceof DerError && /too long|truncated/.test(e.message));
      assert.throws(() => parseOcspRequest(der), (e: unknown) => e instanceof MalformedOcspRequest && /too long|truncated/.test(e.message));
    });
  }

  it('1 MB of bytes inside a PEM: refused on its length, before the PEM regex and base64 (csrFromPem and readCsr)', () => {
    const big = toPem('CERTIFICATE REQUEST', Buffer.alloc(1 << 20, 0x30));
    assert.throws(() => csrFromPem(big), (e: unknown) => e instanceof DerError && /CSR PEM longer than/.test(e.message));
    const r = readCsr(big);
    assert.ok('violation' in r && r.violation.rule === Rule.pkcs10 && /at most 5500/.test(r.violation.message));
    assert.throws(() => csrFromPem(' '.repeat(1 << 20)), (e: unknown) => e instanceof DerError);
  });

  it('an OCSP request over 4096 bytes is refused on its length', () => {
    const certId = encodeCertId('sha512', Buffer.alloc(64, 1), Buffer.alloc(64, 2), Buffer.from([1]));
    const big = buildOcspRequest(Array.from({ length: 30 }, () => certId));
    assert.ok(big.length > OCSP_LIMITS.maxRequestBytes);
    assert.throws(() => parseOcspRequest(big), (e: unknown) => e instanceof MalformedOcspRequest && /larger than 4096/.test(e.message));
  });
});

// ---- OCSP requests ------------------------------------------------------------------------------

let work: string;
let opensslRequests: Buffer[] = [];

/** OCSP requests as `openssl ocsp -reqout` writes them: nonce or not, several CertIDs, SHA-1/256/384/512, signed. */
function makeOpensslRequests(dir: string, issuerPem: string, leafPem?: string): Buffer[] {
  const p = (f: string) => join(dir, f);
  const write = (f: string, s: string) => (writeFileSync(p(f), s), p(f));
  const issuer = write('issuer.pem', issuerPem);
  const variants: string[][] = [
    ['-serial', '0x1234', '-no_nonce'],
    ['-serial', '0x1234'],
    ['-sha256', '-serial', '0x01', '-serial', '0xff00ff00ff00ff00ff00ff00ff00ff00ff00ff'],
    ['-sha384', '-serial', '0x7f', '-no_nonce'],
    ['-sha512', '-serial', '0x80'],
  ];
  if (leafPem) variants.push(['-cert', write('leaf.pem', leafPem), '-no_nonce'], ['-sha256', '-cert', p('leaf.pem')]);
  // A signed request (optional signature, RFC 6960 4.1.2), with a throwaway key and self-signed certificate.
  const signer = openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('req.key'), '-out', p('req.pem'), '-subj', '/CN=requestor', '-days', '1']);
  assert.equal(signer.code, 0, signer.stderr);
  variants.push(['-serial', '0x42', '-signer', p('req.pem'), '-signkey', p('req.key')]);
  return variants.map((v, i) => {
    const r = openssl(['ocsp', '-issuer', issuer, ...v, '-reqout', p(`req-${i}.der`)]);
    assert.equal(r.code, 0, `openssl ocsp ${v.join(' ')}: ${r.stderr}`);
    return readFileSync(p(`req-${i}.der`));
  });
}

/** parseOcspRequest either returns or throws MalformedOcspRequest (DerErrors inside it are converted). */
function parseRequestOrRefuse(der: Buffer) {
  try {
    return parseOcspRequest(der);
  } catch (e) {
    if (!(e instanceof MalformedOcspRequest)) throw new Error(`parseOcspRequest threw ${(e as Error)?.name}: ${(e as Error)?.message}\n${der.toString('hex')}`, { cause: e });
    return undefined;
  }
}

/**
 * What we accept, pkijs reads the same way: each CertID (hash algorithm, hashes, serial) and the
 * nonce extension. Compared on what the responder reads: requestorName and an optionalSignature
 * are skipped without being parsed (neither is needed nor checked, RFC 6960 4.1.2).
 */
function crossCheckRequest(der: Buffer, ours: NonNullable<ReturnType<typeof parseRequestOrRefuse>>): void {
  for (const c of ours.certIds) {
    let ref: pkijs.CertID;
    try {
      ref = pkijs.CertID.fromBER(new Uint8Array(c.der));
    } catch (e) {
      assert.fail(`our parser accepted a CertID pkijs refuses (${(e as Error).message}): ${der.toString('hex')}`);
    }
    assert.equal(ref.hashAlgorithm.algorithmId, HASH_OIDS[c.hash]);
    assert.equal(Buffer.from(ref.serialNumber.valueBlock.valueHexView).toString('hex').replace(/^0+(?=.)/, ''), c.serialHex);
    assert.deepEqual(Buffer.from(ref.issuerNameHash.valueBlock.valueHexView), c.issuerNameHash);
    assert.deepEqual(Buffer.from(ref.issuerKeyHash.valueBlock.valueHexView), c.issuerKeyHash);
  }
  if (ours.nonceExtension) {
    const ext = pkijs.Extension.fromBER(new Uint8Array(ours.nonceExtension));
    assert.equal(ext.extnID, OID.ocspNonce);
  }
}

const BUILT_REQUESTS: Buffer[] = (['sha1', 'sha256', 'sha384', 'sha512'] as CertIdHash[]).flatMap((h, i) => {
  const len = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 }[h];
  const certId = encodeCertId(h, Buffer.alloc(len, 1 + i), Buffer.alloc(len, 2 + i), serialFromHex('1e2d3c4b5a69788796a5b4c3d2e1f00112233445'));
  return [buildOcspRequest([certId]), buildOcspRequest([certId], Buffer.from(`nonce-${h}`)), buildOcspRequest([certId, certId, certId])];
});

describe('OCSP request parser (libs/ocsp parseOcspRequest) under hostile input', { timeout: FUZZ_TIMEOUT_MS }, () => {
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'evpki-fuzz-'));
    const ca = openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(work, 'ca.key'), '-out', join(work, 'ca.pem'), '-subj', '/CN=Fuzz CA', '-days', '1']);
    assert.equal(ca.code, 0, ca.stderr);
    opensslRequests = makeOpensslRequests(work, readFileSync(join(work, 'ca.pem'), 'utf8'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('the seeds (our builder and openssl -reqout, signed ones included) parse and agree with pkijs', () => {
    for (const der of [...BUILT_REQUESTS, ...opensslRequests]) crossCheckRequest(der, parseOcspRequest(der));
  });

  it('random bytes: MalformedOcspRequest or a request, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (u) => {
        parseRequestOrRefuse(Buffer.from(u));
      }),
      fuzzParams(4),
    );
  });

  it('mutated requests: MalformedOcspRequest, or a request pkijs reads the same way', () => {
    fc.assert(
      fc.property(mutatedArb([...BUILT_REQUESTS, ...opensslRequests], 5), (der) => {
        const r = parseRequestOrRefuse(der);
        if (r) crossCheckRequest(der, r);
      }),
      fuzzParams(8),
    );
  });
});

// ---- the OCSP responder over HTTP ----------------------------------------------------------------

describe('OCSP responder over HTTP (GET and POST) under hostile requests', { timeout: FUZZ_TIMEOUT_MS }, () => {
  let pki: DevPki;
  let stack: Stack;
  let seeds: Buffer[];

  before(async () => {
    pki = await makeDevPki();
    stack = await startStack(pki);
    await registerStation(stack, 'cp-fuzz', 'CP-FUZZ');
    const r = await api(stack, 'POST', '/v1/stations/cp-fuzz/certificates', { csr: newP256Csr('CP-FUZZ').csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const [leafDer, subDer] = pemBlocks(r.body.certificateChain, 'CERTIFICATE') as [Buffer, Buffer];
    const leaf = parseCertificate(leafDer);
    const hashes = issuerHashes(parseCertificate(subDer));
    const ours = (['sha1', 'sha256', 'sha384', 'sha512'] as CertIdHash[]).map((h) => encodeCertId(h, hashes[h].name, hashes[h].key, leaf.serial));
    work = mkdtempSync(join(tmpdir(), 'evpki-fuzz-http-'));
    seeds = [
      ...ours.map((c) => buildOcspRequest([c])),
      buildOcspRequest([ours[1]!], Buffer.from('a nonce')),
      buildOcspRequest([ours[1]!, ours[2]!]),
      ...makeOpensslRequests(work, toPem('CERTIFICATE', subDer), toPem('CERTIFICATE', leafDer)),
    ];
  });
  after(async () => {
    await stack?.stop();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** Statuses a hostile request may get; internalError would mean something threw. */
  const ALLOWED_STATUSES = new Set([0, 1, 3, 6]);

  async function checkAnswer(res: Response, what: string): Promise<number> {
    assert.equal(res.status, 200, `${what}: HTTP ${res.status}`);
    assert.equal(res.headers.get('content-type'), 'application/ocsp-response', what);
    const body = Buffer.from(await res.arrayBuffer());
    const parsed = pkijs.OCSPResponse.fromBER(new Uint8Array(body));
    const status = parsed.responseStatus.valueBlock.valueDec;
    assert.ok(ALLOWED_STATUSES.has(status), `${what}: OCSP status ${status}`);
    if (status === 0) {
      // A successful answer (the input was a valid request for our issuer): pkijs reads the basic response.
      const basic = pkijs.BasicOCSPResponse.fromBER(parsed.responseBytes!.response.valueBlock.valueHexView);
      assert.ok(basic.tbsResponseData.responses.length >= 1);
    }
    return status;
  }

  it('the seeds are answered successfully (a valid request is not broken by the fuzz set-up)', async () => {
    for (const der of seeds) {
      const res = await fetch(`${stack.ocspUrl}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: der });
      assert.equal(await checkAnswer(res, 'seed'), 0);
    }
  });

  it('POST /ocsp with random and mutated bodies and content types: HTTP 200 with an OCSP status, never 500 or internalError', async () => {
    const contentType = fc.constantFrom('application/ocsp-request', undefined, 'text/plain', 'application/ocsp-request; charset=utf-8', '');
    const path = fc.constantFrom('/ocsp', '/', '/ocsp/', '/ocsp/x');
    await fc.assert(
      fc.asyncProperty(derInputArb(seeds), contentType, path, async (der, type, p) => {
        const res = await fetch(stack.ocspUrl + p, { method: 'POST', headers: type === undefined ? {} : { 'content-type': type }, body: der });
        const status = await checkAnswer(res, `POST ${p} ${der.toString('hex')}`);
        if (status === 0) assert.ok(parseRequestOrRefuse(der), 'answered successfully only when the request parses');
      }),
      fuzzParams(1),
    );
  });

  it('GET /ocsp/{base64} with mutated requests and broken encodings: HTTP 200 (or 304-free) OCSP answers, never 500', async () => {
    const encoding = fc.constantFrom('uri', 'raw', 'url-safe', 'double', 'no-padding', 'garbage-suffix', 'percent-junk');
    await fc.assert(
      fc.asyncProperty(derInputArb(seeds), encoding, async (der, how) => {
        const b64 = der.toString('base64');
        const path = {
          uri: encodeURIComponent(b64),
          raw: b64,
          'url-safe': der.toString('base64url'),
          double: encodeURIComponent(encodeURIComponent(b64)),
          'no-padding': b64.replace(/=+$/, ''),
          'garbage-suffix': encodeURIComponent(b64) + '%ZZ',
          'percent-junk': b64.replace(/A/g, '%41').replace(/\//, '%2F%'),
        }[how];
        const res = await fetch(`${stack.ocspUrl}/ocsp/${path}`);
        await checkAnswer(res, `GET ${how} ${der.toString('hex')}`);
      }),
      fuzzParams(1),
    );
  });

  it('oversized bodies, a lying content-length and odd methods do not break the responder', async () => {
    const big = await fetch(`${stack.ocspUrl}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: Buffer.alloc(64 * 1024, 0x30) });
    assert.equal(await checkAnswer(big, 'oversized POST'), 1, 'malformedRequest (documented: OCSP errors are OCSP statuses)');
    const longGet = await fetch(`${stack.ocspUrl}/ocsp/${'A'.repeat(12_000)}`);
    assert.equal(await checkAnswer(longGet, 'long GET'), 1);
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      const r = await fetch(`${stack.ocspUrl}/ocsp`, { method, body: method === 'DELETE' ? null : 'x' });
      assert.ok(r.status < 500, `${method} /ocsp: HTTP ${r.status}`);
      if (r.headers.get('content-type') === 'application/ocsp-response') assert.equal(await checkAnswer(r, method), 1, `${method} /ocsp is malformedRequest`);
      else await r.arrayBuffer();
    }
    assert.equal((await fetch(`${stack.ocspUrl}/healthz`)).status, 200, 'still answering');
  });

  it(`budget: ${FUZZ_RUNS} runs per property (FUZZ_RUNS)`, () => {
    assert.ok(FUZZ_RUNS >= 1);
  });
});
