import type { KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import { signerFor } from '@evpki/x509';

/**
 * An issuer key as the issuance pipeline sees it (docs/architecture.md "Signers"): whatever holds
 * the private key (an encrypted file, a PKCS#11 token), it signs bytes asynchronously and names
 * its public key and algorithm. Nothing outside the implementations touches private key material.
 */
export interface Signer {
  /** Where the key lives, for logs, /readyz and metrics. */
  readonly backend: 'file' | 'pkcs11';
  /** A00.FR.505/506: 'ecdsa-sha256' | 'ecdsa-sha384' | 'ecdsa-sha512' | 'rsa-pss-sha256'. */
  readonly algorithm: SignatureAlgorithmName;
  /** DER AlgorithmIdentifier placed in the TBS and beside the signature. */
  readonly algorithmDer: Buffer;
  readonly publicKey: KeyObject;
  /** The signature over `tbs`, encoded as X.509 carries it (ECDSA: DER Ecdsa-Sig-Value). */
  sign(tbs: Buffer): Promise<Buffer>;
}

export type SignatureAlgorithmName = 'ecdsa-sha256' | 'ecdsa-sha384' | 'ecdsa-sha512' | 'rsa-pss-sha256';

/** The signature algorithm an issuer key of this type and size signs with (one choice, shared by every backend). */
export function signatureAlgorithmFor(publicKey: KeyObject): SignatureAlgorithmName {
  const type = publicKey.asymmetricKeyType;
  if (type === 'rsa' || type === 'rsa-pss') return 'rsa-pss-sha256';
  if (type !== 'ec') throw new Error(`issuer key type ${type} cannot sign certificates (A00.FR.505)`);
  const curve = publicKey.asymmetricKeyDetails?.namedCurve;
  if (curve === 'prime256v1' || curve === 'P-256') return 'ecdsa-sha256';
  if (curve === 'secp384r1' || curve === 'P-384') return 'ecdsa-sha384';
  return 'ecdsa-sha512';
}

/**
 * A key held in process memory (read from an encrypted PKCS#8 file). Signing stays the synchronous
 * node:crypto call it always was, wrapped in a resolved promise: no thread hop on the hot path.
 */
export function fileSigner(key: KeyObject): Signer {
  const sync = signerFor(key);
  const publicKey = createPublicKey(key);
  return {
    backend: 'file',
    algorithm: signatureAlgorithmFor(publicKey),
    algorithmDer: sync.algorithmDer,
    publicKey,
    sign: (tbs) => Promise.resolve(sync.sign(tbs)),
  };
}
