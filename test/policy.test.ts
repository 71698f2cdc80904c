import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_KEY_POLICY, Rule, checkChargePointCsr, checkChargePointIdentity, readCsr, runCsrChecks, type ChargePointContext } from '@evpki/policy';
import { inspectSpki, type ParsedCsr } from '@evpki/x509';
import { chargingStation, ocspSigner, validityWindow } from '@evpki/issuance';
import { fixtureCsr } from './helpers/fixtures.js';

const station = { serialNumber: 'CP-0001', allowed: true };
const context = (over: Partial<ChargePointContext> = {}): ChargePointContext => ({
  station,
  cpoName: 'Demo CPO',
  keyPolicy: DEFAULT_KEY_POLICY,
  isKeyBlocked: () => false,
  wasKeyCertified: () => false,
  ...over,
});

function parse(pem: string): ParsedCsr {
  const r = readCsr(pem);
  if ('violation' in r) throw new Error(`fixture does not parse: ${r.violation.message}`);
  return r.csr;
}

async function rulesOf(pem: string, ctx = context()): Promise<string[]> {
  const r = await checkChargePointCsr(parse(pem), ctx);
  return r.ok ? [] : r.violations.map((v) => v.rule);
}

// One named case per rule, each with a committed known-bad CSR made by openssl
// (test/fixtures/make-csrs.mjs; see test/fixtures/csr/README.md).
const FIXTURE_CASES: { fixture: string; rule: string; why: string }[] = [
  { fixture: 'tampered-sig', rule: Rule.pkcs10, why: 'signature does not verify: no proof of possession' },
  { fixture: 'sha1', rule: Rule.hashes, why: 'CSR signed with SHA-1 (A00.FR.504/506)' },
  { fixture: 'rsa-1024', rule: Rule.rsaSize, why: 'RSA below 2048 bits' },
  { fixture: 'rsa-exp3', rule: Rule.algorithms, why: 'RSA public exponent 3' },
  { fixture: 'roca', rule: Rule.algorithms, why: 'ROCA-vulnerable modulus' },
  { fixture: 'fermat', rule: Rule.algorithms, why: "modulus factored by Fermat's method" },
  { fixture: 'small-factor', rule: Rule.algorithms, why: 'modulus with a small prime factor' },
  { fixture: 'ec-p224', rule: Rule.ecSize, why: 'EC key below 256 bits' },
  { fixture: 'ec-secp256k1', rule: Rule.algorithms, why: 'EC curve not allowed' },
  { fixture: 'ed25519', rule: Rule.algorithms, why: 'key type not allowed' },
  { fixture: 'url-cn', rule: Rule.chargePointName, why: 'CN is a URL' },
  { fixture: 'ip-cn', rule: Rule.chargePointName, why: 'CN is an IPv4 address' },
  { fixture: 'ipv6-cn', rule: Rule.chargePointName, why: 'CN is an IPv6 address' },
  { fixture: 'hostname-cn', rule: Rule.chargePointName, why: 'CN is a host name' },
  { fixture: 'no-cn', rule: Rule.chargePointName, why: 'CN missing' },
  { fixture: 'san-dns', rule: Rule.chargePointName, why: 'subjectAltName dNSName in a charge point CSR' },
  { fixture: 'san-ip', rule: Rule.chargePointName, why: 'subjectAltName IP in a charge point CSR' },
  { fixture: 'wrong-o', rule: Rule.cpoName, why: "O is not the tenant's CPO name" },
  { fixture: 'no-o', rule: Rule.organization, why: 'O missing' },
  { fixture: 'many-attributes', rule: Rule.registeredIdentity, why: 'subject with too many attributes' },
];

describe('charge point CSR policy: known-bad fixtures', () => {
  for (const c of FIXTURE_CASES) {
    it(`${c.fixture}: ${c.why} → ${c.rule}`, async () => {
      const rules = await rulesOf(fixtureCsr(c.fixture));
      assert.ok(rules.includes(c.rule), `expected ${c.rule}, got ${JSON.stringify(rules)}`);
    });
  }

  for (const good of ['ec-p256-good', 'ec-p384-good', 'rsa-2048-good', 'rsa-pss-good']) {
    it(`${good} is accepted`, async () => {
      const r = await checkChargePointCsr(parse(fixtureCsr(good)), context());
      assert.equal(r.ok, true, r.ok ? '' : JSON.stringify(r.violations));
    });
  }
});

describe("the RA's early check leaves the CSR signature to the CA (signatureVerifiedByCa)", () => {
  const early = Object.assign(context(), { signatureVerifiedByCa: true });
  it('a tampered signature passes the early check: the CA refuses it (A02.FR.03, test/ra-api.test.ts)', async () => {
    assert.deepEqual(await rulesOf(fixtureCsr('tampered-sig'), early), []);
    assert.ok((await rulesOf(fixtureCsr('tampered-sig'))).includes(Rule.pkcs10));
  });
  it('the signature algorithm is still checked early: SHA-1 → A00.FR.506', async () => {
    assert.ok((await rulesOf(fixtureCsr('sha1'), early)).includes(Rule.hashes));
  });
  it("a key that does not match the signature's algorithm is still refused early (A02.FR.03)", async () => {
    // An ECDSA signature algorithm OID over an RSA key: swap the algorithm of a good RSA CSR.
    const csr = parse(fixtureCsr('rsa-2048-good'));
    const mismatched = { ...csr, signatureAlgorithm: { oid: '1.2.840.10045.4.3.2', params: undefined } };
    const r = await checkChargePointCsr(mismatched, early);
    assert.ok(!r.ok && r.violations.some((v) => v.rule === Rule.pkcs10), JSON.stringify(r));
  });
});

describe('charge point CSR policy: station, tenant and key history', () => {
  const pem = fixtureCsr('ec-p256-good');

  it('unregistered station → PnC-4.3', async () => {
    assert.deepEqual(await rulesOf(pem, context({ station: undefined })), [Rule.registeredIdentity]);
  });
  it('station not allowed (model not audited) → PnC-4.2', async () => {
    assert.deepEqual(await rulesOf(pem, context({ station: { serialNumber: 'CP-0001', allowed: false } })), [Rule.auditedModel]);
  });
  it("CN differs from the station's registered serial number → A00.FR.511", async () => {
    const rules = await rulesOf(pem, context({ station: { serialNumber: 'CP-9999', allowed: true } }));
    assert.deepEqual(rules, [Rule.chargePointName]);
  });
  it('key already certified → A02.FR.02', async () => {
    const spki = inspectSpki(parse(pem).spki).common.spkiSha256;
    assert.deepEqual(await rulesOf(pem, context({ wasKeyCertified: (h) => h === spki })), [Rule.newKeyPair]);
  });
  it('key on the blocked list → A00.FR.501', async () => {
    const spki = inspectSpki(parse(pem).spki).common.spkiSha256;
    assert.deepEqual(await rulesOf(pem, context({ isKeyBlocked: async (h) => h === spki })), [Rule.keyStrength]);
  });
  it('minimum EC size is configurable (P-256 refused at 384)', async () => {
    assert.deepEqual(await rulesOf(pem, context({ keyPolicy: { ...DEFAULT_KEY_POLICY, minEcBits: 384 } })), [Rule.ecSize]);
    assert.deepEqual(await rulesOf(fixtureCsr('ec-p384-good'), context({ keyPolicy: { ...DEFAULT_KEY_POLICY, minEcBits: 384 } })), []);
  });
  it('RSA above 8192 bits → A00.FR.502 (bounded verification cost)', async () => {
    assert.ok((await rulesOf(fixtureCsr('rsa-8200'))).includes(Rule.rsaSize));
  });
  it('collects every violation instead of stopping at the first', async () => {
    const rules = await rulesOf(fixtureCsr('wrong-o'), context({ station: { serialNumber: 'CP-0001', allowed: false } }));
    assert.deepEqual(rules.sort(), [Rule.cpoName, Rule.auditedModel].sort());
  });
});

describe('CSR reading (A02.FR.03)', () => {
  const cases: [string, string][] = [
    ['not PEM at all', 'hello'],
    ['a certificate instead of a CSR', '-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n'],
    ['truncated DER', fixtureCsr('ec-p256-good').replace(/\n[A-Za-z0-9+/=]+\n-----END/, '\n-----END')],
    ['two PEM blocks', fixtureCsr('ec-p256-good') + fixtureCsr('ec-p256-good')],
    ['more than 5500 characters', '-----BEGIN CERTIFICATE REQUEST-----\n' + 'A'.repeat(5600) + '\n-----END CERTIFICATE REQUEST-----\n'],
  ];
  for (const [name, pem] of cases) {
    it(`${name} → A02.FR.03`, () => {
      const r = readCsr(pem);
      assert.ok('violation' in r, 'expected a violation');
      assert.equal(r.violation.rule, Rule.pkcs10);
    });
  }
});

describe('charge point identity shape (A00.FR.511)', () => {
  const bad = ['https://cp.example.com', 'wss://x', '10.0.0.1', '[2001:db8::1]', 'cp1.example.com', 'ocpp.local.', 'a/b'];
  const good = ['CP-0001', 'SN123456789', 'ACME.0001', 'cp_1', '0001.0002'];
  for (const v of bad) it(`"${v}" is refused`, () => assert.equal(checkChargePointIdentity(v)[0]?.rule, Rule.chargePointName));
  for (const v of good) it(`"${v}" is accepted`, () => assert.deepEqual(checkChargePointIdentity(v), []));
});

describe('leaf validity (the one clamp, charging-station profile)', () => {
  const now = new Date('2026-06-01T12:00:00.500Z');
  it('is the configured length, backdated a minute, whole seconds', () => {
    const v = validityWindow(chargingStation.validity, { now, lifetimeSeconds: 365 * 86400, issuerNotAfter: new Date('2036-01-01T00:00:00Z') });
    assert.ok(!('error' in v));
    assert.equal(v.notBefore.toISOString(), '2026-06-01T11:59:00.000Z');
    assert.equal(v.notAfter.toISOString(), '2027-06-01T12:00:00.000Z');
  });
  it("never ends after the issuer's own notAfter", () => {
    const issuerNotAfter = new Date('2026-09-01T00:00:00Z');
    const v = validityWindow(chargingStation.validity, { now, lifetimeSeconds: 365 * 86400, issuerNotAfter });
    assert.ok(!('error' in v));
    assert.equal(v.notAfter.getTime(), issuerNotAfter.getTime());
  });
  it('refuses to issue when the issuer expires within the hour', () => {
    const v = validityWindow(chargingStation.validity, { now, lifetimeSeconds: 86400, issuerNotAfter: new Date(now.getTime() + 600_000) });
    assert.ok('error' in v);
  });
});

describe('OCSP signer checks (fuzz regression)', () => {
  // A P-224 point OpenSSL cannot decode: the reserved-key check threw (CA 500); now keyRules refuses it.
  const pem =
    '-----BEGIN CERTIFICATE REQUEST-----\nMIHLMHwCAQAwJTERMA8GA1UECgwIRGVtbyBDUE8xEDAOBgNVBAMMB0NQLTAwMDEw\nTjAQBgcqhkjOPQIBBgUrgQQAIQM6AAVJsIALSjUJY3E5QFjS7+4W8BA+w7Iwu6KT\nIGDJ0FVqhmeTzEAa4ePtzjce1NdeGT6jK5r+ysNVRKAAMAoGCCqGSM49BAMCAz8A\nMDwCHH+E4y8tmEE/Uo8yUNGwohH+aWw1fEi7MxUQDJ4CHAbBGgVmboOSb31TG0iH\nOndpJscaJj9dePoPSp0=\n-----END CERTIFICATE REQUEST-----\n';
  it('a key OpenSSL cannot load is refused by rule, not thrown', async () => {
    const r = await runCsrChecks(parse(pem), ocspSigner.checks, { keyPolicy: DEFAULT_KEY_POLICY, isKeyBlocked: () => false, wasKeyCertified: () => false, reservedKeys: async () => [] });
    assert.ok(!r.ok);
    assert.deepEqual(r.violations.map((v) => v.rule).sort(), ['A00.FR.503', 'A02.FR.03']);
  });
});
