import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import * as pkijs from 'pkijs';
import {
  DerError,
  OID,
  Tag,
  buildName,
  buildTbs,
  csrFromPem,
  decodeOid,
  fromPem,
  inspectSpki,
  integer,
  keyIdentifier,
  keyUsage,
  nameToString,
  oid,
  parseCertificate,
  readOnly,
  readTlv,
  signTbs,
  signerFor,
  time,
  toPem,
} from '@evpki/x509';
import { chargingStation } from '@evpki/issuance';
import { fixtureCsr } from './helpers/fixtures.js';
import { openssl } from './helpers/openssl.js';

describe('strict DER reader', () => {
  const cases: [string, string][] = [
    ['indefinite length', '3080020100' + '0000'],
    ['non-minimal long length', '30810302 0100'.replace(/ /g, '')],
    ['length past the end', '300502010'],
    ['length with a leading zero octet', '3082000302010'],
    ['truncated header', '30'],
    ['high tag number', '1f8101' + '00'],
  ];
  for (const [name, hex] of cases) {
    it(`refuses ${name}`, () => assert.throws(() => readOnly(Buffer.from(hex.length % 2 ? hex + '0' : hex, 'hex'), Tag.SEQUENCE), DerError));
  }
  it('refuses trailing data after the element', () => assert.throws(() => readOnly(Buffer.from('3000' + '00', 'hex'), Tag.SEQUENCE), /trailing/));
  it('refuses non-minimal INTEGER and OID encodings', () => {
    assert.throws(() => inspectSpki(Buffer.from('3000', 'hex')), DerError);
    assert.throws(() => decodeOid(Buffer.from('2a8001', 'hex')), /minimally/);
  });
  it('round-trips OIDs and INTEGERs', () => {
    for (const o of Object.values(OID)) assert.equal(decodeOid(readTlv(oid(o), 0).value), o);
    assert.equal(integer(Buffer.from('0080', 'hex')).toString('hex'), '02020080');
    assert.equal(integer(Buffer.from('000001', 'hex')).toString('hex'), '020101');
    assert.equal(integer(32).toString('hex'), '020120');
    assert.equal(integer(0x80).toString('hex'), '02020080');
  });
  it('encodes UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280 4.1.2.5)', () => {
    assert.equal(time(new Date('2049-12-31T23:59:59Z')).toString('latin1').slice(2), '491231235959Z');
    assert.equal(time(new Date('2050-01-01T00:00:00Z'))[0], Tag.GeneralizedTime);
  });
  it('encodes Key Usage bits DER-minimally (unused bits counted)', () => {
    // digitalSignature + keyAgreement = 1000 1000 → 3 unused bits; keyCertSign + cRLSign = 0000 0110 → 1 unused bit.
    assert.ok(keyUsage(['digitalSignature', 'keyAgreement']).toString('hex').endsWith('04040302' + '0388'));
    assert.ok(keyUsage(['keyCertSign', 'cRLSign']).toString('hex').endsWith('04040302' + '0106'));
  });
});

describe('RFC 4514 names', () => {
  const name = (...pairs: [string, string][]) => ({ der: Buffer.alloc(0), rdns: pairs.map(([oid, value]) => [{ oid, tag: 0x0c, value }]) });
  it('writes the most specific RDN first, values with nothing to escape as they are', () => {
    assert.equal(nameToString(name([OID.organizationName, 'Acme CPO'], [OID.commonName, 'CP-0001'])), 'CN=CP-0001,O=Acme CPO');
  });
  it('escapes the special characters, a leading space or # and a trailing space (section 2.4)', () => {
    assert.equal(nameToString(name([OID.commonName, 'a,b+c"d<e>f;g=h\\i'])), 'CN=a\\,b\\+c\\"d\\<e\\>f\\;g\\=h\\\\i');
    assert.equal(nameToString(name([OID.commonName, '#x'])), 'CN=\\#x');
    assert.equal(nameToString(name([OID.commonName, ' x '])), 'CN=\\ x\\ ');
  });
});

describe('PEM', () => {
  it('reads exactly one block of an allowed label', () => {
    const pem = fixtureCsr('ec-p256-good');
    assert.equal(fromPem(pem, ['CERTIFICATE REQUEST']).label, 'CERTIFICATE REQUEST');
    assert.throws(() => fromPem(pem, ['CERTIFICATE']), /label/);
    assert.throws(() => fromPem(pem + pem, ['CERTIFICATE REQUEST']), DerError);
    assert.throws(() => fromPem('junk\n' + pem, ['CERTIFICATE REQUEST']), DerError);
  });
  it('writes 64-character lines that openssl reads back', () => {
    const der = fromPem(fixtureCsr('rsa-2048-good'), ['CERTIFICATE REQUEST']).der;
    const pem = toPem('CERTIFICATE REQUEST', der);
    assert.ok(pem.split('\n').slice(1, -2).every((l) => l.length <= 64));
    assert.equal(openssl(['req', '-noout', '-subject'], pem).stdout.trim(), 'subject=O = Demo CPO, CN = CP-0001');
  });
});

describe('CSR parsing agrees with pkijs and openssl', () => {
  for (const name of ['ec-p256-good', 'rsa-2048-good', 'san-dns', 'many-attributes', 'rsa-pss-good']) {
    it(name, () => {
      const pem = fixtureCsr(name);
      const mine = csrFromPem(pem);
      const theirs = pkijs.CertificationRequest.fromBER(mine.der);
      assert.equal(mine.subject.rdns.flat().length, theirs.subject.typesAndValues.length);
      assert.deepEqual(Buffer.from(theirs.subjectPublicKeyInfo.toSchema().toBER()), mine.spki);
      assert.equal(mine.signatureAlgorithm.oid, theirs.signatureAlgorithm.algorithmId);
      const key = inspectSpki(mine.spki);
      const pub = createPublicKey(openssl(['req', '-noout', '-pubkey'], pem).stdout);
      assert.deepEqual(pub.export({ type: 'spki', format: 'der' }), mine.spki);
      if (key.type === 'rsa') assert.equal(key.bits, pub.asymmetricKeyDetails?.modulusLength);
    });
  }
});

describe('certificate builder', () => {
  // Golden vector: a fixed issuer key, fixed dates, serial and subject give a fixed TBS.
  const issuerKey = createPrivateKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      d: '54xjUidlDWVPdAc8O8OkKz2LXOkKgNEUqk5EDcfkQv0',
      x: 'frWWHCwiu8Yqk92CTF-aMsPlthHSZzVuMHVPuU-fQ4M',
      y: 'Xa4gUMPpgv_5MFt9fNMqSvNUPF6TbrmVFKMFruQB_FQ',
    },
    format: 'jwk',
  });
  const issuerName = buildName([{ oid: OID.organizationName, value: 'Golden CPO' }, { oid: OID.commonName, value: 'Golden CA' }]);
  const subject = buildName([{ oid: OID.organizationName, value: 'Golden CPO' }, { oid: OID.commonName, value: 'CP-GOLD' }]);
  const spki = createPublicKey(issuerKey).export({ type: 'spki', format: 'der' });
  const issuerKeyId = keyIdentifier(inspectSpki(spki).common.publicKey);
  const issuer = { id: 'golden', name: issuerName, organization: 'Golden CPO', keyIdentifier: issuerKeyId, urls: { ocsp: 'http://ocsp.test/ocsp', caIssuers: 'http://ocsp.test/ca.der', crl: 'http://ocsp.test/ca.crl' } };
  const leafKey = inspectSpki(spki);
  if (leafKey.type === 'unsupported') throw new Error('unreachable');
  const fields = {
    serial: Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex'),
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2027-01-01T00:00:00Z'),
    subject,
    spki,
    extensions: chargingStation.extensions(issuer)({ publicKey: leafKey }),
  };

  it('produces the same TBS bytes for the same inputs (golden SHA-256)', () => {
    const tbs = buildTbs(signerFor(issuerKey).algorithmDer, issuerName, fields);
    assert.equal(
      sha256(tbs),
      GOLDEN_TBS_SHA256,
      'the TBS encoding changed: if intended, update GOLDEN_TBS_SHA256 after checking the certificate with openssl',
    );
  });

  it('signs certificates that node, pkijs and openssl read identically', async () => {
    const der = await signTbs(buildTbs(signerFor(issuerKey).algorithmDer, issuerName, fields), signerFor(issuerKey));
    const node = new X509Certificate(der);
    assert.ok(node.verify(createPublicKey(issuerKey)));
    assert.equal(node.serialNumber, '0102030405060708090A0B0C0D0E0F10');
    assert.equal(node.subject, 'O=Golden CPO\nCN=CP-GOLD');
    assert.equal(node.issuer, 'O=Golden CPO\nCN=Golden CA');
    assert.equal(new Date(node.validTo).toISOString(), '2027-01-01T00:00:00.000Z');
    const mine = parseCertificate(der);
    assert.equal(mine.serialHex, '102030405060708090a0b0c0d0e0f10');
    const p = pkijs.Certificate.fromBER(der);
    assert.equal(p.notBefore.value.toISOString(), '2026-01-01T00:00:00.000Z');
    const text = openssl(['x509', '-inform', 'DER', '-noout', '-text'], der).stdout;
    assert.match(text, /Digital Signature, Key Agreement/);
    assert.match(text, /OCSP - URI:http:\/\/ocsp\.test\/ocsp/);
  });

  it('signs with RSASSA-PSS/SHA-256 for RSA issuer keys (A00.FR.505)', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const der = await signTbs(buildTbs(signerFor(privateKey).algorithmDer, issuerName, fields), signerFor(privateKey));
    assert.ok(new X509Certificate(der).verify(createPublicKey(privateKey)));
    assert.match(openssl(['x509', '-inform', 'DER', '-noout', '-text'], der).stdout, /Signature Algorithm: rsassaPss[\s\S]*Hash Algorithm: sha256[\s\S]*Salt Length: 0x20/);
  });
});

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const GOLDEN_TBS_SHA256 = '8de32fe58c14a2ca3e3ada062b9620a37aed36c81b681f71bb8d5559a1fb3e88';
