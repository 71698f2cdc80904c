import { constants, sign, verify, type KeyObject } from 'node:crypto';
import { DerError, Tag, children, ctx, decodeOid, decodeSmallInt, expectTag, integer, nullDer, oid, readOnly, seq } from './der.js';
import { OID } from './oids.js';

export type HashName = 'sha1' | 'md5' | 'sha256' | 'sha384' | 'sha512';

/** A signature algorithm as read from an AlgorithmIdentifier. */
export interface SignatureAlgorithm {
  readonly kind: 'ecdsa' | 'rsa-pkcs1' | 'rsa-pss';
  readonly hash: HashName;
  readonly saltLength?: number;
}

const SIMPLE: Record<string, SignatureAlgorithm> = {
  [OID.ecdsaWithSHA1]: { kind: 'ecdsa', hash: 'sha1' },
  [OID.ecdsaWithSHA256]: { kind: 'ecdsa', hash: 'sha256' },
  [OID.ecdsaWithSHA384]: { kind: 'ecdsa', hash: 'sha384' },
  [OID.ecdsaWithSHA512]: { kind: 'ecdsa', hash: 'sha512' },
  [OID.md5WithRSA]: { kind: 'rsa-pkcs1', hash: 'md5' },
  [OID.sha1WithRSA]: { kind: 'rsa-pkcs1', hash: 'sha1' },
  [OID.sha256WithRSA]: { kind: 'rsa-pkcs1', hash: 'sha256' },
  [OID.sha384WithRSA]: { kind: 'rsa-pkcs1', hash: 'sha384' },
  [OID.sha512WithRSA]: { kind: 'rsa-pkcs1', hash: 'sha512' },
};

const HASHES: Record<string, HashName> = { [OID.sha1]: 'sha1', [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512' };

/** Maps an AlgorithmIdentifier's OID and parameters; undefined for algorithms we do not know. */
export function readSignatureAlgorithm(algOid: string, params: Buffer | undefined): SignatureAlgorithm | undefined {
  const simple = SIMPLE[algOid];
  // Regression (fuzz): parameters other than NULL were ignored (RFC 5758 3.2, RFC 4055 5: absent or NULL).
  if (simple && params !== undefined && !(params.length === 2 && params[0] === Tag.NULL && params[1] === 0))
    throw new DerError(`parameters of signature algorithm ${algOid} must be absent or NULL`);
  if (simple) return simple;
  if (algOid !== OID.rsassaPss) return undefined;
  // RSASSA-PSS-params (RFC 4055): absent fields mean SHA-1, which policy then refuses.
  let hash: HashName | undefined = 'sha1';
  let mgfHash: HashName | undefined = 'sha1';
  let saltLength = 20;
  if (params && params.length) {
    for (const f of children(readOnly(params, Tag.SEQUENCE), 4)) {
      const inner = children(f, 1)[0];
      if (f.tag === 0xa0) hash = HASHES[decodeOid(expectTag(children(expectTag(inner, Tag.SEQUENCE, 'hash'), 2)[0], Tag.OID, 'hash').value)];
      else if (f.tag === 0xa1) {
        const [mgfOid, mgfParams] = children(expectTag(inner, Tag.SEQUENCE, 'mgf'), 2);
        if (decodeOid(expectTag(mgfOid, Tag.OID, 'mgf').value) !== OID.mgf1) return undefined;
        mgfHash = HASHES[decodeOid(expectTag(children(expectTag(mgfParams, Tag.SEQUENCE, 'mgf1 hash'), 2)[0], Tag.OID, 'mgf1 hash').value)];
      } else if (f.tag === 0xa2) saltLength = decodeSmallInt(expectTag(inner, Tag.INTEGER, 'saltLength').value);
      else if (f.tag !== 0xa3) throw new DerError('unexpected RSASSA-PSS parameter');
    }
  }
  if (!hash || hash !== mgfHash) return undefined;
  return { kind: 'rsa-pss', hash, saltLength };
}

export function verifySignature(alg: SignatureAlgorithm, key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    if (alg.kind === 'ecdsa') return verify(alg.hash, data, { key, dsaEncoding: 'der' }, signature);
    if (alg.kind === 'rsa-pkcs1') return verify(alg.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
    return verify(alg.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.saltLength ?? 32 }, signature);
  } catch {
    return false; // malformed signature or key/algorithm mismatch: not a proof of possession
  }
}

/** How an issuer key signs (A00.FR.505: ECDSA or RSA-PSS; A00.FR.506: SHA-256 or stronger). */
export interface Signer {
  /** DER AlgorithmIdentifier placed in the TBS and the certificate. */
  readonly algorithmDer: Buffer;
  sign(data: Buffer): Buffer;
}

const hashAlgId = (h: string): Buffer => seq(oid(h), nullDer());

/**
 * The one way an issuer key of this type and size signs (A00.FR.505/506), shared by every key
 * backend (a key in memory, a PKCS#11 token): the hash, the padding and the DER AlgorithmIdentifier.
 * P-256 signs with SHA-256, P-384 with SHA-384, larger curves with SHA-512; RSA with RSASSA-PSS,
 * SHA-256, MGF1-SHA-256 and a 32-byte salt (RFC 4055 section 3.1). `key` may be public or private.
 */
export interface SignatureScheme {
  readonly kind: 'ecdsa' | 'rsa-pss';
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  /** RSASSA-PSS only. */
  readonly saltLength?: number;
  readonly algorithmDer: Buffer;
}

export function signatureSchemeFor(key: KeyObject): SignatureScheme {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const [hash, algOid] =
      curve === 'prime256v1' || curve === 'P-256'
        ? (['sha256', OID.ecdsaWithSHA256] as const)
        : curve === 'secp384r1' || curve === 'P-384'
          ? (['sha384', OID.ecdsaWithSHA384] as const)
          : (['sha512', OID.ecdsaWithSHA512] as const);
    return { kind: 'ecdsa', hash, algorithmDer: seq(oid(algOid)) };
  }
  if (type === 'rsa' || type === 'rsa-pss') {
    const params = seq(
      ctx(0, hashAlgId(OID.sha256)),
      ctx(1, seq(oid(OID.mgf1), hashAlgId(OID.sha256))),
      ctx(2, integer(32)),
    );
    return { kind: 'rsa-pss', hash: 'sha256', saltLength: 32, algorithmDer: seq(oid(OID.rsassaPss), params) };
  }
  throw new Error(`issuer key type ${type} cannot sign certificates (A00.FR.505)`);
}

export function signerFor(key: KeyObject): Signer {
  const scheme = signatureSchemeFor(key);
  if (scheme.kind === 'ecdsa') return { algorithmDer: scheme.algorithmDer, sign: (data) => sign(scheme.hash, data, { key, dsaEncoding: 'der' }) };
  return {
    algorithmDer: scheme.algorithmDer,
    sign: (data) => sign(scheme.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.saltLength }),
  };
}
