import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HASH_OIDS, buildOcspRequest, encodeCertId, issuerHashes, type CertIdHash } from '@evpki/ocsp';
import { integer, octetString, oid, parseCertificate, seq, serialFromHex, type ParsedCertificate } from '@evpki/x509';
import { parseOcspResponse } from './helpers/ocsp-client.js';
import { api, makeDevPki, registerStation, startStack, type DevPki, type Stack } from './helpers/pki.js';
import { newP256Csr } from './helpers/csr.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { caRequest } from './helpers/service-tls.js';
import { storeOf, storeWrites } from './helpers/store-writes.js';

/**
 * Issue 14.7: anonymous traffic never writes to the store. OCSP answers signed live (CertIDs that
 * are not pre-signed: another hash, hash parameters absent instead of NULL) are kept in memory
 * only, and each encoding is signed once; readiness probes only read. Writes are counted beside
 * the store (LMDB's last transaction id, Redis's changes since the last save), on both backends.
 */

/** A CertID with the hash parameters absent (RFC 6960 allows it; pre-signed ones carry NULL). */
function certIdWithoutParams(hash: CertIdHash, issuer: ParsedCertificate, serial: string): Buffer {
  const h = issuerHashes(issuer)[hash];
  return seq(seq(oid(HASH_OIDS[hash])), octetString(h.name), octetString(h.key), integer(serialFromHex(serial)));
}

/** The responder's count of live signatures (pki_ocsp_sign_duration_seconds{kind="live"}). */
async function liveSignatures(stack: Stack): Promise<number> {
  const text = await (await fetch(`${stack.ocspUrl}/metrics`)).text();
  return Number(/^pki_ocsp_sign_duration_seconds_count\{kind="live"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

for (const backend of ['lmdb', 'redis'] as const) {
  describe(`anonymous requests write nothing (${backend})`, () => {
    let redis: TestRedis | undefined;
    let pki: DevPki;
    let stack: Stack;
    let issuer: ParsedCertificate;
    let serial: string;

    before(async () => {
      redis = backend === 'redis' ? await startRedis() : undefined;
      pki = await makeDevPki('ecdsa-p256', redis?.env ?? {});
      // Only the test runs the pre-signer (its timer would write during the burst).
      stack = await startStack(pki, { ocspEnv: { OCSP_PRESIGN_INTERVAL_MS: '60000' } });
      issuer = parseCertificate((await stack.store.getIssuer(pki.manifest.issuers.chargePoint))!.certificate);
      await registerStation(stack, 'cp-w-1', 'CP-W-1');
      const r = await api(stack, 'POST', '/v1/stations/cp-w-1/certificates', { csr: newP256Csr('CP-W-1').csr, certificateType: 'ChargingStationCertificate' });
      assert.equal(r.status, 201, r.text);
      serial = r.body.serialNumber as string;
      await stack.ocsp.presigner.runOnce();
    });
    after(async () => {
      await stack?.stop();
      pki?.cleanup();
      await redis?.stop();
    });

    it(`issue 14.7: alternating encodings of one OCSP request, over POST and GET, cause no store write and one live signature per CertID encoding (${backend})`, async () => {
      const h = issuerHashes(issuer).sha256;
      const certIds = [
        encodeCertId('sha256', h.name, h.key, serialFromHex(serial)), // pre-signed
        certIdWithoutParams('sha256', issuer, serial),
        certIdFor384(issuer, serial),
        certIdWithoutParams('sha384', issuer, serial),
      ];
      const writes = await storeWrites(storeOf(pki.dataDir, pki.storeEnv));
      const signed = await liveSignatures(stack);
      for (let round = 0; round < 25; round++) {
        for (const certId of certIds) {
          const body = buildOcspRequest([certId]);
          const res =
            round % 2
              ? await fetch(`${stack.ocspUrl}/ocsp/${encodeURIComponent(body.toString('base64'))}`)
              : await fetch(`${stack.ocspUrl}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
          const parsed = parseOcspResponse(Buffer.from(await res.arrayBuffer()));
          assert.equal(parsed.singles?.[0]?.status, 'good', `round ${round}`);
        }
      }
      assert.equal(await storeWrites(storeOf(pki.dataDir, pki.storeEnv)), writes, 'store writes during the burst');
      assert.equal((await liveSignatures(stack)) - signed, 3, 'one live signature per CertID encoding that is not pre-signed');
    });

    it(`issue 14.7: /readyz of the RA, the CA and the responder only read (${backend})`, async () => {
      const writes = await storeWrites(storeOf(pki.dataDir, pki.storeEnv));
      for (let i = 0; i < 5; i++)
        for (const base of [stack.raUrl, stack.caOpsUrl, stack.ocspUrl]) {
          const res = await fetch(`${base}/readyz`);
          assert.equal(res.status, 200, `${base}: ${await res.text()}`);
        }
      assert.equal(await storeWrites(storeOf(pki.dataDir, pki.storeEnv)), writes, 'store writes by /readyz');
    });

    it(`answers held in memory after live signing follow a revocation at once (${backend})`, async () => {
      const r = await caRequest(pki.dataDir, stack.caUrl, 'ra-client', 'POST', '/v1/revoke', { tenant: 'demo', serialNumber: serial, reason: 'keyCompromise', actor: 'test' });
      assert.equal(r.status, 200, r.text);
      for (const certId of [certIdFor384(issuer, serial), certIdWithoutParams('sha256', issuer, serial)]) {
        const res = await fetch(`${stack.ocspUrl}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: buildOcspRequest([certId]) });
        assert.equal(parseOcspResponse(Buffer.from(await res.arrayBuffer())).singles?.[0]?.status, 'revoked');
      }
    });
  });
}

function certIdFor384(issuer: ParsedCertificate, serial: string): Buffer {
  const h = issuerHashes(issuer).sha384;
  return encodeCertId('sha384', h.name, h.key, serialFromHex(serial));
}
