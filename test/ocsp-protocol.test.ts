import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as pkijs from 'pkijs';
import { buildOcspRequest, encodeCertId, issuerHashes, MalformedOcspRequest, parseOcspRequest } from '@evpki/ocsp';
import { OID, bool, ctx, integer, nullDer, octetString, oid, parseCertificate, seq, serialFromHex, type ParsedCertificate } from '@evpki/x509';
import { newP256Csr } from './helpers/csr.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';

const nameHash = Buffer.alloc(32, 1);
const keyHash = Buffer.alloc(32, 2);
const sha256CertId = (serial = Buffer.from([0x12, 0x34])) => encodeCertId('sha256', nameHash, keyHash, serial);
const malformed = (der: Buffer, re: RegExp) => assert.throws(() => parseOcspRequest(der), (e: unknown) => e instanceof MalformedOcspRequest && re.test(e.message));

describe('OCSP request parser (RFC 6960 4.1, RFC 8954)', () => {
  it('agrees with pkijs on what it reads', () => {
    const der = buildOcspRequest([sha256CertId(), encodeCertId('sha1', Buffer.alloc(20, 3), Buffer.alloc(20, 4), Buffer.from([0x80, 1]))], Buffer.from('nonce-123'));
    const ours = parseOcspRequest(der);
    const ref = pkijs.OCSPRequest.fromBER(new Uint8Array(der).buffer);
    assert.equal(ours.certIds.length, ref.tbsRequest.requestList.length);
    ref.tbsRequest.requestList.forEach((r, i) => {
      assert.equal(ours.certIds[i]!.serialHex, Buffer.from(r.reqCert.serialNumber.valueBlock.valueHexView).toString('hex').replace(/^0+/, ''));
      assert.deepEqual(ours.certIds[i]!.issuerNameHash, Buffer.from(r.reqCert.issuerNameHash.valueBlock.valueHexView));
    });
    assert.equal(ours.certIds[1]!.serialHex, '8001', 'positive serial with a leading zero octet');
    assert.ok(ours.nonceExtension?.includes(Buffer.from('nonce-123')));
  });

  it('accepts version 0, requestorName, a signature, absent hash parameters and non-critical extensions', () => {
    const certIdNoParams = seq(seq(oid(OID.sha256)), octetString(nameHash), octetString(keyHash), integer(5));
    const unknownExt = seq(oid('1.3.6.1.5.5.7.48.1.4'), octetString(seq(oid(OID.ocspBasic))));
    const tbs = seq(ctx(0, integer(0)), ctx(1, ctx(4, seq()), true), seq(seq(certIdNoParams)), ctx(2, seq(unknownExt)));
    const signed = seq(tbs, ctx(0, seq(seq(oid(OID.ecdsaWithSHA256)), Buffer.from([3, 1, 0]))));
    const r = parseOcspRequest(signed);
    assert.equal(r.certIds[0]!.serialHex, '5');
    assert.equal(r.nonceExtension, undefined);
  });

  it('refuses what it cannot answer, naming why', () => {
    malformed(seq(seq(seq())), /empty requestList/);
    malformed(seq(seq(seq(seq(encodeCertId('sha256', Buffer.alloc(20), keyHash, Buffer.from([1])))))), /32 octets/);
    malformed(seq(seq(seq(seq(seq(seq(oid(OID.ecdsaWithSHA256), nullDer()), octetString(nameHash), octetString(keyHash), integer(1)))))), /hash algorithm/);
    malformed(seq(seq(seq(seq(seq(seq(oid(OID.sha256), integer(1)), octetString(nameHash), octetString(keyHash), integer(1)))))), /parameters/);
    malformed(seq(seq(ctx(0, integer(1)), seq(seq(sha256CertId())))), /version/);
    const critical = seq(oid('1.2.3.4'), bool(true), octetString(nullDer()));
    malformed(seq(seq(seq(seq(sha256CertId())), ctx(2, seq(critical)))), /critical extension/);
    const rawNonce = seq(oid(OID.ocspNonce), octetString(Buffer.from('not wrapped in an OCTET STRING')));
    malformed(seq(seq(seq(seq(sha256CertId())), ctx(2, seq(rawNonce)))), /./);
    const emptyNonce = seq(oid(OID.ocspNonce), octetString(octetString(Buffer.alloc(0))));
    malformed(seq(seq(seq(seq(sha256CertId())), ctx(2, seq(emptyNonce)))), /nonce must be 1 to 32/);
    malformed(buildOcspRequest([sha256CertId()], Buffer.alloc(33, 7)), /nonce must be 1 to 32/);
    malformed(buildOcspRequest([sha256CertId(Buffer.alloc(22, 1))]), /20 octets/);
    malformed(Buffer.concat([buildOcspRequest([sha256CertId()]), Buffer.from([0])]), /trailing/);
    // BER indefinite length is not DER.
    malformed(Buffer.from('3080300030800000', 'hex'), /indefinite/);
  });
});

describe('pre-signed responses over time', () => {
  let pki: DevPki;
  let stack: Stack;
  let t = Math.floor(Date.now() / 1000) * 1000; // whole seconds, like the signer's notAfter
  let issuer: ParsedCertificate;
  const clock = () => new Date(t);
  const DAY = 86400_000;

  before(async () => {
    pki = await makeDevPki();
    // Only the test drives the pre-signer here (its own timer would race the explicit runs).
    // Signers of the longest life (7 days), so that responses reach OCSP_NEXT_UPDATE_HOURS (168) ahead.
    stack = await startStack(pki, { now: clock, caEnv: { CA_OCSP_SIGNER_VALIDITY_HOURS: '168' }, ocspEnv: { OCSP_PRESIGN_INTERVAL_MS: '60000' } });
    issuer = parseCertificate((await stack.store.getIssuer(pki.manifest.issuers.chargePoint))!.certificate);
  });
  after(async () => {
    await stack.stop();
    pki.cleanup();
  });

  // First: the RA's tokens are minted on the real clock, which the tests below move on.
  it('answers are kept in memory from the second request on (admission), and dropped by a revocation', async () => {
    await registerStation(stack, 'mem-1', 'CP-MEM-1');
    const r = await api(stack, 'POST', '/v1/stations/mem-1/certificates', { csr: newP256Csr('CP-MEM-1').csr, certificateType: 'ChargingStationCertificate' });
    const serial = r.body.serialNumber as string;
    await stack.ocsp.presigner.runOnce();
    const h = issuerHashes(issuer).sha256;
    const body = buildOcspRequest([encodeCertId('sha256', h.name, h.key, serialFromHex(serial))]);
    const key = body.toString('latin1');
    const responder = stack.ocsp.responder;
    assert.equal(responder.recall(key), undefined);
    assert.equal((await responder.answerAndRemember(body, key)).outcome, 'presigned');
    assert.equal(responder.recall(key), undefined, 'asked once: not kept (most certificates are asked for rarely)');
    await responder.answerAndRemember(body, key);
    const kept = responder.recall(key);
    const stored = (await stack.store.getOcspResponse(pki.manifest.issuers.chargePoint, serial, 'sha256'))!;
    assert.deepEqual(kept?.body, stored.der, 'asked twice: kept');
    // Issue 17 (RSS flat with the fleet): memory keeps the body and its validity, not the store record it was read as.
    assert.deepEqual(kept.cache, { thisUpdate: stored.thisUpdate, nextUpdate: stored.nextUpdate, etag: stored.etag });
    assert.equal(kept, responder.recall(key), 'one held object, served as it is');
    const at = clock().toISOString();
    await stack.store.revokeCertificate(serial, 'keyCompromise', at, () => []);
    assert.equal(responder.recall(key), undefined, 'the revocation moved the epoch: nothing stale is served');
    // Out of the pre-signing schedule, so that the next test counts only its own certificate.
    assert.ok(await stack.store.putOcspResponses(serial, { status: 'revoked', revokedAt: at, revocationReason: 'keyCompromise' }, [], { nextDue: undefined }));
  });

  it('are made at issuance, refreshed at half-life, and a revocation racing a refresh wins', async () => {
    await registerStation(stack, 'time-1', 'CP-TIME-1');
    const r = await api(stack, 'POST', '/v1/stations/time-1/certificates', { csr: newP256Csr('CP-TIME-1').csr, certificateType: 'ChargingStationCertificate' });
    assert.equal(r.status, 201);
    const serial = r.body.serialNumber as string;
    const id = pki.manifest.issuers.chargePoint;
    assert.equal(await stack.store.getOcspResponse(id, serial, 'sha256'), undefined);
    await stack.ocsp.presigner.runOnce();
    const first = (await stack.store.getOcspResponse(id, serial, 'sha256'))!;
    assert.equal(first.thisUpdate, t);
    assert.equal(first.nextUpdate, t + 7 * DAY);

    t += 3 * DAY; // not due yet
    assert.equal(await stack.ocsp.presigner.runOnce(), 0);
    t += 0.6 * DAY; // past half-life
    assert.equal(await stack.ocsp.presigner.runOnce(), 1);
    const second = (await stack.store.getOcspResponse(id, serial, 'sha256'))!;
    assert.equal(second.thisUpdate, t);
    assert.notDeepEqual(second.der, first.der);

    // A refresh signed for "good" cannot land after a revocation committed in between.
    const cert = (await stack.store.getCertificate(serial))!;
    await stack.store.revokeCertificate(serial, 'superseded', clock().toISOString(), () => []);
    const stale = { ...second, thisUpdate: t + 1 };
    assert.equal(await stack.store.putOcspResponses(serial, { status: cert.status }, [stale]), false);
    assert.equal(await stack.store.getOcspResponse(id, serial, 'sha256'), undefined, 'revocation dropped the pre-signed responses');
    assert.equal(await stack.store.getOcspResponse(id, serial, 'sha1'), undefined);
    assert.equal(await stack.ocsp.presigner.runOnce(), 1, 'the revocation queued it');
    const certId = encodeCertId('sha256', issuerHashes(issuer).sha256.name, issuerHashes(issuer).sha256.key, serialFromHex(serial));
    const res = await fetch(`${stack.ocspUrl}/ocsp`, { method: 'POST', body: buildOcspRequest([certId]) });
    const der = Buffer.from(await res.arrayBuffer());
    assert.deepEqual(der, (await stack.store.getOcspResponse(id, serial, 'sha256'))!.der, 'served pre-signed');
  });

  it('the delegated signer is renewed two thirds into its life, and responses never outlive it', async () => {
    const before = stack.ocsp.signers.get(pki.manifest.issuers.chargePoint)!.certificate;
    const life = before.notAfter.getTime() - before.notBefore.getTime();
    t = before.notBefore.getTime() + life / 2;
    await stack.ocsp.refreshSigners();
    assert.equal(stack.ocsp.signers.get(pki.manifest.issuers.chargePoint)!.certificate.serialHex, before.serialHex, 'not yet');
    t = before.notBefore.getTime() + (life * 2) / 3 + 1000;
    await stack.ocsp.refreshSigners();
    const after = stack.ocsp.signers.get(pki.manifest.issuers.chargePoint)!.certificate;
    assert.notEqual(after.serialHex, before.serialHex);
    const next = stack.ocsp.responder.nextUpdate(new Date(after.notAfter.getTime() - DAY), after.notAfter);
    assert.equal(next.getTime(), after.notAfter.getTime(), 'nextUpdate clamped to the signer notAfter');
  });
});
