import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { DerError, Tag, bitStringBytes, children, decodeOid, expectTag, integerBytes, readOnly } from './der.js';
import { CURVES, OID } from './oids.js';

/** What the key policy needs to know about a public key (A00.FR.501-503). */
export type KeyInfo =
  | { readonly type: 'rsa'; readonly bits: number; readonly modulus: bigint; readonly exponent: bigint; readonly common: KeyCommon }
  | { readonly type: 'ec'; readonly bits: number; readonly curve: string; readonly curveOid: string; readonly common: KeyCommon }
  | { readonly type: 'unsupported'; readonly algorithm: string; readonly common: KeyCommon };

export interface KeyCommon {
  /** The whole SubjectPublicKeyInfo DER. */
  readonly spki: Buffer;
  /** SHA-256 of the SPKI DER, hex: the key's identity for blocking and reuse checks. */
  readonly spkiSha256: string;
  /** Contents of the subjectPublicKey BIT STRING. */
  readonly publicKey: Buffer;
}

const bytesToBigInt = (b: Buffer): bigint => (b.length === 0 ? 0n : BigInt('0x' + b.toString('hex')));

/** Reads a SubjectPublicKeyInfo without any crypto library: type, size, curve, modulus. */
export function inspectSpki(spki: Buffer): KeyInfo {
  const top = readOnly(spki, Tag.SEQUENCE);
  const [alg, bits, extra] = children(top, 3);
  if (extra) throw new DerError('SubjectPublicKeyInfo has extra elements');
  const [algOid, params] = children(expectTag(alg, Tag.SEQUENCE, 'AlgorithmIdentifier'), 2);
  const algorithm = decodeOid(expectTag(algOid, Tag.OID, 'algorithm').value);
  const publicKey = bitStringBytes(expectTag(bits, Tag.BIT_STRING, 'subjectPublicKey').value);
  const common: KeyCommon = { spki, spkiSha256: createHash('sha256').update(spki).digest('hex'), publicKey };

  if (algorithm === OID.rsaEncryption || algorithm === OID.rsassaPss) {
    // Regression (fuzz): any parameters were accepted and the SPKI copied as is into the certificate,
    // which other parsers then refuse. RFC 3279 2.3.1: NULL (or, commonly, absent); RFC 4055: a SEQUENCE for PSS.
    if (params && !(params.tag === Tag.NULL && params.value.length === 0) && !(algorithm === OID.rsassaPss && params.tag === Tag.SEQUENCE))
      throw new DerError('RSA key algorithm parameters must be NULL');
    const rsa = readOnly(publicKey, Tag.SEQUENCE);
    const [n, e, more] = children(rsa, 3);
    if (more) throw new DerError('RSAPublicKey has extra elements');
    const nb = integerBytes(expectTag(n, Tag.INTEGER, 'modulus').value);
    const eb = integerBytes(expectTag(e, Tag.INTEGER, 'publicExponent').value);
    if (nb[0]! & 0x80 || eb[0]! & 0x80) throw new DerError('negative RSA parameter');
    const modulus = bytesToBigInt(nb);
    return { type: 'rsa', bits: modulus.toString(2).length, modulus, exponent: bytesToBigInt(eb), common };
  }
  if (algorithm === OID.ecPublicKey) {
    if (params?.tag !== Tag.OID) return { type: 'unsupported', algorithm: 'EC with explicit or missing curve parameters', common };
    const curveOid = decodeOid(params.value);
    const known = CURVES[curveOid];
    // Uncompressed point 04||X||Y; the size check happens when the key is imported for verification.
    return known
      ? { type: 'ec', bits: known.bits, curve: known.name, curveOid, common }
      : { type: 'ec', bits: curveBits(curveOid), curve: curveOid, curveOid, common };
  }
  return { type: 'unsupported', algorithm, common };
}

/** Sizes of curves we recognise but do not allow, so that messages can say "224 bits". */
function curveBits(curveOid: string): number {
  const other: Record<string, number> = { '1.3.132.0.33': 224, '1.2.840.10045.3.1.1': 192, '1.3.132.0.10': 256 };
  return other[curveOid] ?? 0;
}

/** DER of an EC SubjectPublicKeyInfo up to the uncompressed point (0x04 || X || Y), per allowed curve. */
const EC_SPKI_HEADS = [
  { crv: 'P-256', size: 32, head: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex') },
  { crv: 'P-384', size: 48, head: Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex') },
  { crv: 'P-521', size: 66, head: Buffer.from('30819b301006072a8648ce3d020106052b8104002303818600', 'hex') },
] as const;

/**
 * A node KeyObject for the SPKI (throws on keys OpenSSL cannot load, e.g. off-curve points).
 * Uncompressed P-256/384/521 keys are imported as JWK: OpenSSL 3's DER decoder costs about 100 µs a
 * key, twice the signature check it serves; the JWK import costs about 50 µs and refuses the same
 * keys (point not on the curve, coordinate not below the field prime).
 */
export function publicKeyObject(spki: Buffer): KeyObject {
  for (const { crv, size, head } of EC_SPKI_HEADS) {
    if (spki.length !== head.length + 1 + 2 * size || spki[head.length] !== 0x04 || !spki.subarray(0, head.length).equals(head)) continue;
    const x = spki.subarray(head.length + 1, head.length + 1 + size);
    const y = spki.subarray(head.length + 1 + size);
    return createPublicKey({ key: { kty: 'EC', crv, x: x.toString('base64url'), y: y.toString('base64url') }, format: 'jwk' });
  }
  return createPublicKey({ key: spki, format: 'der', type: 'spki' });
}

/** RFC 7093 section 2 method 1: leftmost 160 bits of SHA-256 over the subjectPublicKey bits. */
export function keyIdentifier(publicKey: Buffer): Buffer {
  return createHash('sha256').update(publicKey).digest().subarray(0, 20);
}
