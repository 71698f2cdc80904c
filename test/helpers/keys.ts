import { ECDH, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  OID,
  basicConstraints,
  bitString,
  buildName,
  buildTbs,
  ctx,
  integer,
  inspectSpki,
  oid,
  randomSerial,
  seq,
  signerFor,
  toPem,
} from '@evpki/x509';

/** Encodings of one public key that differ in bytes only (issue 14.2). */

export function spkiOf(key: KeyObject): Buffer {
  return (key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' });
}

/** The EC key's SPKI with its point compressed (SEC 1 2.3.3: 02/03 || X). */
export function compressedEcSpki(key: KeyObject): Buffer {
  const info = inspectSpki(spkiOf(key));
  if (info.type !== 'ec') throw new Error('not an EC key');
  const curve = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' }[info.curve]!;
  const point = ECDH.convertKey(info.common.publicKey, curve, undefined, undefined, 'compressed') as Buffer;
  return seq(seq(oid(OID.ecPublicKey), oid(info.curveOid)), bitString(point));
}

/** The RSA key's SPKI with the AlgorithmIdentifier parameters absent instead of NULL. */
export function rsaSpkiWithoutNull(key: KeyObject): Buffer {
  return seq(seq(oid(OID.rsaEncryption)), bitString(inspectSpki(spkiOf(key)).common.publicKey));
}

/** The RSA key's modulus and exponent as an id-RSASSA-PSS key without parameters. */
export function rsaPssSpki(key: KeyObject): Buffer {
  return seq(seq(oid(OID.rsassaPss)), bitString(inspectSpki(spkiOf(key)).common.publicKey));
}

/**
 * A PKCS#10 request carrying exactly `spki` (whatever its encoding), signed by `privateKey`:
 * ECDSA-SHA256, or RSASSA-PSS SHA-256 for RSA keys.
 */
export function csrWithSpki(privateKey: KeyObject, spki: Buffer, subject: { o: string; cn: string }): string {
  const name = buildName([
    { oid: OID.organizationName, value: subject.o },
    { oid: OID.commonName, value: subject.cn },
  ]);
  const info = seq(integer(0), name, spki, ctx(0, Buffer.alloc(0)));
  if (privateKey.asymmetricKeyType === 'ec')
    return toPem('CERTIFICATE REQUEST', seq(info, seq(oid(OID.ecdsaWithSHA256)), bitString(sign('sha256', info, { key: privateKey, dsaEncoding: 'der' }))));
  const signer = signerFor(privateKey);
  return toPem('CERTIFICATE REQUEST', seq(info, signer.algorithmDer, bitString(signer.sign(info))));
}

/** A certificate for `spki` as it is, from a throwaway issuer: what the CA issued before issue 14.2. */
export function certificateWithSpki(spki: Buffer): Buffer {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = signerFor(privateKey);
  const issuer = buildName([{ oid: OID.commonName, value: 'Legacy test CA' }]);
  const subject = buildName([{ oid: OID.commonName, value: 'LEGACY' }]);
  const now = new Date();
  const tbs = buildTbs(signer.algorithmDer, issuer, { serial: randomSerial(), notBefore: now, notAfter: new Date(now.getTime() + 86_400_000), subject, spki, extensions: [basicConstraints(false)] });
  return seq(tbs, signer.algorithmDer, bitString(signer.sign(tbs)));
}
