/**
 * Signature verification over DER-signed data with node:crypto (6.1.3(a)(1)): RSA PKCS#1 v1.5 and
 * RSASSA-PSS with SHA-256/384/512, ECDSA on P-256/P-384/P-521 with SHA-256/384/512, Ed25519.
 * SHA-1 and MD5 are refused, as is any algorithm not listed.
 */
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { DerError, Tag, children, decodeOid, expectTag, readOnly, readSignatureAlgorithm } from '@evpki/x509';

const ECDSA: Record<string, string> = { '1.2.840.10045.4.3.2': 'sha256', '1.2.840.10045.4.3.3': 'sha384', '1.2.840.10045.4.3.4': 'sha512' };
const RSA: Record<string, string> = { '1.2.840.113549.1.1.11': 'sha256', '1.2.840.113549.1.1.12': 'sha384', '1.2.840.113549.1.1.13': 'sha512' };
const WEAK: Record<string, string> = {
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption', '1.2.840.113549.1.1.4': 'md5WithRSAEncryption', '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
};
const ED25519 = '1.3.101.112';
const RSASSA_PSS = '1.2.840.113549.1.1.10';

type Scheme = { kind: 'ecdsa' | 'rsa' | 'ed25519'; hash: string | null } | { kind: 'pss'; hash: string; saltLength: number };

/** The verification scheme of an AlgorithmIdentifier; throws a message for a refused one. */
export function schemeOf(algorithmDer: Buffer): Scheme {
  const top = readOnly(algorithmDer, Tag.SEQUENCE);
  const [oidT, params, extra] = children(top, 3);
  if (extra) throw new DerError('AlgorithmIdentifier has extra elements');
  const oid = decodeOid(expectTag(oidT, Tag.OID, 'algorithm').value);
  const isNull = params?.tag === Tag.NULL && params.value.length === 0;
  if (WEAK[oid]) throw new DerError(`${WEAK[oid]} is not accepted (SHA-1 and MD5 are refused)`);
  if (ECDSA[oid]) {
    if (params) throw new DerError('ECDSA AlgorithmIdentifier parameters must be absent (RFC 5758 3.2)');
    return { kind: 'ecdsa', hash: ECDSA[oid] };
  }
  if (RSA[oid]) {
    if (params && !isNull) throw new DerError('RSA PKCS#1 v1.5 AlgorithmIdentifier parameters must be NULL (RFC 4055 5)');
    return { kind: 'rsa', hash: RSA[oid] };
  }
  if (oid === ED25519) {
    if (params) throw new DerError('Ed25519 AlgorithmIdentifier parameters must be absent (RFC 8410 3)');
    return { kind: 'ed25519', hash: null };
  }
  if (oid === RSASSA_PSS) {
    const alg = readSignatureAlgorithm(oid, params ? top.value.subarray(params.start, params.end) : undefined);
    if (!alg || alg.hash === 'sha1' || alg.hash === 'md5') throw new DerError('RSASSA-PSS with SHA-1 or unsupported parameters is not accepted');
    return { kind: 'pss', hash: alg.hash, saltLength: alg.saltLength ?? 32 };
  }
  throw new DerError(`signature algorithm ${oid} is not supported`);
}

export function publicKeyOf(spki: Buffer): KeyObject {
  return createPublicKey({ key: spki, format: 'der', type: 'spki' });
}

const CURVE_HASH_OK: Record<string, true> = { prime256v1: true, secp384r1: true, secp521r1: true };

/** Undefined when `signature` over `data` verifies with `key` under `algorithmDer`; else why not. */
export function checkSignature(algorithmDer: Buffer, key: KeyObject, data: Buffer, signature: Buffer): string | undefined {
  let scheme: Scheme;
  try {
    scheme = schemeOf(algorithmDer);
  } catch (err) {
    return (err as Error).message;
  }
  const type = key.asymmetricKeyType;
  const fits =
    scheme.kind === 'ecdsa' ? type === 'ec' && CURVE_HASH_OK[key.asymmetricKeyDetails?.namedCurve ?? ''] === true
    : scheme.kind === 'rsa' ? type === 'rsa'
    : scheme.kind === 'pss' ? type === 'rsa' || type === 'rsa-pss'
    : type === 'ed25519';
  if (!fits) return `issuer key (${type}) does not fit signature algorithm ${scheme.kind}`;
  try {
    const ok =
      scheme.kind === 'ecdsa' ? verify(scheme.hash, data, { key, dsaEncoding: 'der' }, signature)
      : scheme.kind === 'rsa' ? verify(scheme.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature)
      : scheme.kind === 'pss' ? verify(scheme.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.saltLength }, signature)
      : verify(null, data, key, signature);
    return ok ? undefined : 'signature does not verify with the issuer key';
  } catch (err) {
    return `signature does not verify: ${(err as Error).message}`;
  }
}
