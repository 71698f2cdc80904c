import { generateKeyPairSync, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { OID, bitString, buildName, ctx, integer, oid, seq, toPem } from '@evpki/x509';

/** A PKCS#10 request built in-process (for bulk tests and benchmarks; fixtures use openssl). */
export function buildCsr(privateKey: KeyObject, subject: { o?: string; cn?: string }): string {
  const attrs = [
    ...(subject.o === undefined ? [] : [{ oid: OID.organizationName, value: subject.o }]),
    ...(subject.cn === undefined ? [] : [{ oid: OID.commonName, value: subject.cn }]),
  ];
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const info = seq(integer(0), buildName(attrs), spki, ctx(0, Buffer.alloc(0)));
  const isEc = privateKey.asymmetricKeyType === 'ec';
  const sig = isEc ? sign('sha256', info, { key: privateKey, dsaEncoding: 'der' }) : sign('sha256', info, privateKey);
  const alg = isEc ? seq(oid(OID.ecdsaWithSHA256)) : seq(oid(OID.sha256WithRSA), Buffer.from([5, 0]));
  return toPem('CERTIFICATE REQUEST', seq(info, alg, bitString(sig)));
}

export function newP256Csr(cn: string, o = 'Demo CPO'): { csr: string; key: KeyObject } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { csr: buildCsr(privateKey, { o, cn }), key: privateKey };
}
