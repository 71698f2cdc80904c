import { createHash, randomBytes, verify, constants, type KeyObject } from 'node:crypto';
import { integer, seq, signatureSchemeFor, type SignatureScheme } from '@evpki/x509';
import { KeyLoadError, SignerError } from './key-errors.js';
import { checkKeyRef, findKeyObject, readPublicKey, type Pkcs11KeyRef } from './pkcs11-keys.js';
import { pkcs11Lib, pkcs11Reason, type Pkcs11Handle, type Pkcs11Session } from './pkcs11-session.js';
import { signatureAlgorithmFor, type Signer } from './signer.js';

export { deletePkcs11IssuerKey, generatePkcs11IssuerKey, newPkcs11KeyId, KeyGenerationError, type Pkcs11KeyGenOptions, type Pkcs11KeyRef } from './pkcs11-keys.js';
export { openPkcs11Session, type Pkcs11Session, type Pkcs11SessionOptions } from './pkcs11-session.js';

/** ECDSA as X.509 carries it (RFC 3279 2.2.3): SEQUENCE { r INTEGER, s INTEGER } from the token's r || s. */
export function ecdsaRawToDer(raw: Buffer): Buffer {
  if (raw.length === 0 || raw.length % 2) throw new SignerError(`the token returned an ECDSA signature of odd length ${raw.length}`);
  const half = raw.length / 2;
  return seq(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
}

/** What goes to C_SignInit and C_Sign for one signature, and how long the result can be. */
function mechanismFor(scheme: SignatureScheme, publicKey: KeyObject) {
  const l = pkcs11Lib();
  if (scheme.kind === 'rsa-pss') {
    const bytes = Math.ceil((publicKey.asymmetricKeyDetails?.modulusLength ?? 4096) / 8);
    const mechanism = {
      mechanism: l.CKM_SHA256_RSA_PKCS_PSS,
      parameter: { type: l.CK_PARAMS_RSA_PSS, hashAlg: l.CKM_SHA256, mgf: l.CKG_MGF1_SHA256, saltLen: scheme.saltLength ?? 32 },
    };
    return { mechanism, input: (tbs: Buffer) => tbs, outputBytes: bytes, encode: (sig: Buffer) => sig };
  }
  // SoftHSM 2.6 (Debian) offers only CKM_ECDSA, over a digest computed here: the host hashes, the
  // token signs 32 or 48 bytes, and the same code serves every HSM.
  const curve = publicKey.asymmetricKeyDetails?.namedCurve;
  const fieldBytes = curve === 'prime256v1' || curve === 'P-256' ? 32 : curve === 'secp384r1' || curve === 'P-384' ? 48 : 66;
  return {
    mechanism: { mechanism: l.CKM_ECDSA },
    input: (tbs: Buffer) => createHash(scheme.hash).update(tbs).digest(),
    outputBytes: 2 * fieldBytes,
    encode: ecdsaRawToDer,
  };
}

function verifies(scheme: SignatureScheme, publicKey: KeyObject, data: Buffer, signature: Buffer): boolean {
  if (scheme.kind === 'ecdsa') return verify(scheme.hash, data, { key: publicKey, dsaEncoding: 'der' }, signature);
  return verify(scheme.hash, data, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.saltLength }, signature);
}

/**
 * A Signer whose private key stays in a PKCS#11 token (backend 'pkcs11'): the same algorithm and
 * AlgorithmIdentifier as a file key of the same type (signatureSchemeFor), so certificates do not
 * depend on where the key lives. Opening finds both halves by label and id, reads the public key,
 * and signs one random probe that must verify with it (a reference naming halves of two different
 * pairs fails here, not at the first issuance).
 *
 * The event loop: C_Sign runs through pkcs11js's C_SignAsync on a libuv worker thread, so a slow
 * token (RSA-3072 takes milliseconds in SoftHSM, a network HSM a round trip) does not stall other
 * requests; it shares libuv's pool (UV_THREADPOOL_SIZE, default 4) with fs and crypto work. The
 * plain C_Sign of pkcs11js is synchronous and would block the whole process for each signature.
 * C_SignInit and the key lookups have no async form and stay on the main thread: cheap for a local
 * token, and the lookups happen once per signer (again only after the token dropped the session).
 */
export async function pkcs11Signer(session: Pkcs11Session, keyRef: Pkcs11KeyRef): Promise<Signer> {
  checkKeyRef(keyRef);
  const publicKey = await session.withSession((pkcs11, s) => readPublicKey(pkcs11, s, findKeyObject(pkcs11, s, keyRef, 'public')));
  const scheme = signatureSchemeFor(publicKey);
  const how = mechanismFor(scheme, publicKey);
  let privateHandle: Pkcs11Handle | undefined;
  const what = `key '${keyRef.keyLabel}' (id ${keyRef.keyId}) in PKCS#11 token '${session.tokenLabel}'`;

  const sign = async (tbs: Buffer): Promise<Buffer> => {
    try {
      const raw = await session.withSession(async (pkcs11, s) => {
        try {
          privateHandle ??= findKeyObject(pkcs11, s, keyRef, 'private');
          pkcs11.C_SignInit(s, how.mechanism, privateHandle);
          return await pkcs11.C_SignAsync(s, how.input(tbs), Buffer.alloc(how.outputBytes));
        } catch (e) {
          privateHandle = undefined; // looked up again: handles may not survive a dropped session
          throw e;
        }
      });
      return how.encode(raw);
    } catch (e) {
      if (e instanceof KeyLoadError || e instanceof SignerError) throw e;
      throw new SignerError(`signing with ${what} failed: ${pkcs11Reason(e)}`);
    }
  };

  const probe = randomBytes(32);
  const probeSignature = await sign(probe);
  if (!verifies(scheme, publicKey, probe, probeSignature))
    throw new KeyLoadError(`${what}: a test signature does not verify with the token's public key (label and id name halves of different key pairs?)`);
  return { backend: 'pkcs11', algorithm: signatureAlgorithmFor(publicKey), algorithmDer: scheme.algorithmDer, publicKey, sign };
}
