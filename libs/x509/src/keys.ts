import { ECDH, createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { DerError, Tag, bitString, bitStringBytes, children, decodeOid, expectTag, integerBytes, nullDer, oid, raw, readOnly, seq } from './der.js';
import { CURVES, OID } from './oids.js';

/** What the key policy needs to know about a public key (A00.FR.501-503). */
export type KeyInfo =
  | {
      readonly type: 'rsa';
      /** An id-RSASSA-PSS key (RFC 4055): for signatures only, never key encipherment. */
      readonly pss: boolean;
      readonly bits: number;
      readonly modulus: bigint;
      readonly exponent: bigint;
      readonly common: KeyCommon;
    }
  | { readonly type: 'ec'; readonly bits: number; readonly curve: string; readonly curveOid: string; readonly common: KeyCommon }
  | { readonly type: 'unsupported'; readonly algorithm: string; readonly common: KeyCommon };

/** What a certificate's Key Usage follows (A00.FR.512): EC, RSA (rsaEncryption) or RSA-PSS (signatures only). */
export type KeyKind = 'ec' | 'rsa' | 'rsa-pss';

export function keyKind(key: KeyInfo & { type: 'ec' | 'rsa' }): KeyKind {
  return key.type === 'ec' ? 'ec' : key.pss ? 'rsa-pss' : 'rsa';
}

export interface KeyCommon {
  /**
   * The SubjectPublicKeyInfo DER in its one canonical encoding, what certificates carry (not the
   * CSR's bytes): EC named curve with the uncompressed point; RSA with NULL parameters (RSA-PSS
   * keeps its OID and parameters).
   */
  readonly spki: Buffer;
  /** The key's identity for blocking and reuse checks (A00.FR.501, A02.FR.02): keySha256. */
  readonly spkiSha256: string;
  /** Contents of the canonical SPKI's subjectPublicKey BIT STRING (EC: 04 || X || Y). */
  readonly publicKey: Buffer;
}

const bytesToBigInt = (b: Buffer): bigint => (b.length === 0 ? 0n : BigInt('0x' + b.toString('hex')));

/**
 * Reads a SubjectPublicKeyInfo: type, size, curve, modulus, and its canonical form and identity.
 * Throws DerError on a malformed key, including an EC point that is not on its curve when it has
 * to be decompressed.
 */
export function inspectSpki(spki: Buffer): KeyInfo {
  const top = readOnly(spki, Tag.SEQUENCE);
  const [alg, bits, extra] = children(top, 3);
  if (extra) throw new DerError('SubjectPublicKeyInfo has extra elements');
  const [algOid, params] = children(expectTag(alg, Tag.SEQUENCE, 'AlgorithmIdentifier'), 2);
  const algorithm = decodeOid(expectTag(algOid, Tag.OID, 'algorithm').value);
  const publicKey = bitStringBytes(expectTag(bits, Tag.BIT_STRING, 'subjectPublicKey').value);
  const asIs = (): KeyCommon => ({ spki, spkiSha256: identity(spki), publicKey });

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
    const pss = algorithm === OID.rsassaPss;
    // RFC 4055 1.2: PSS parameters (absent: none) restrict the key's use, so they stay; NULL is not a PSS parameter.
    const pssParams = pss && params?.tag === Tag.SEQUENCE ? [raw(alg!.value, params)] : [];
    const rsaSpki = seq(seq(oid(OID.rsaEncryption), nullDer()), bitString(publicKey));
    const canonical = pss ? seq(seq(oid(OID.rsassaPss), ...pssParams), bitString(publicKey)) : rsaSpki;
    const common: KeyCommon = { spki: same(spki, canonical), spkiSha256: identity(rsaSpki), publicKey };
    return { type: 'rsa', pss, bits: modulus.toString(2).length, modulus, exponent: bytesToBigInt(eb), common };
  }
  if (algorithm === OID.ecPublicKey) {
    if (params?.tag !== Tag.OID) return { type: 'unsupported', algorithm: 'EC with explicit or missing curve parameters', common: asIs() };
    const curveOid = decodeOid(params.value);
    const known = CURVES[curveOid];
    if (!known) return { type: 'ec', bits: curveBits(curveOid), curve: curveOid, curveOid, common: asIs() };
    const point = uncompressedPoint(publicKey, known.name);
    const canonical = seq(seq(oid(OID.ecPublicKey), oid(curveOid)), bitString(point));
    const common: KeyCommon = { spki: same(spki, canonical), spkiSha256: identity(canonical), publicKey: point };
    return { type: 'ec', bits: known.bits, curve: known.name, curveOid, common };
  }
  return { type: 'unsupported', algorithm, common: asIs() };
}

/**
 * A key's identity (issue 14.2), the one hash behind blocked keys (A00.FR.501) and certified keys
 * (A02.FR.02) in policy and store: SHA-256 (hex) of its canonical SPKI (EC: named curve and
 * uncompressed point; RSA, PSS or not: rsaEncryption with NULL parameters, so modulus and
 * exponent), never of the bytes a CSR happened to use. Throws DerError like inspectSpki.
 */
export function keySha256(spki: Buffer): string {
  return inspectSpki(spki).common.spkiSha256;
}

const identity = (canonicalSpki: Buffer): string => createHash('sha256').update(canonicalSpki).digest('hex');
/** The input's bytes when they are already canonical (no copy kept of an equal buffer). */
const same = (given: Buffer, canonical: Buffer): Buffer => (given.equals(canonical) ? given : canonical);

const NODE_CURVE = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' } as const;
const FIELD_BYTES = { 'P-256': 32, 'P-384': 48, 'P-521': 66 } as const;

/**
 * SEC 1 2.3.4: 04 || X || Y as is (checked on the curve when the key is loaded to verify the CSR);
 * a compressed point 02/03 || X decompressed, which checks it is on the curve. Hybrid and other
 * forms are refused.
 */
function uncompressedPoint(point: Buffer, curve: keyof typeof NODE_CURVE): Buffer {
  const size = FIELD_BYTES[curve];
  if (point[0] === 0x04 && point.length === 1 + 2 * size) return point;
  if ((point[0] === 0x02 || point[0] === 0x03) && point.length === 1 + size) {
    try {
      return ECDH.convertKey(point, NODE_CURVE[curve], undefined, undefined, 'uncompressed') as Buffer;
    } catch {
      throw new DerError(`compressed EC point is not on ${curve}`);
    }
  }
  throw new DerError(`EC point is neither an uncompressed nor a compressed ${curve} point`);
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
