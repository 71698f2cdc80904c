import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { OID, oid } from '@evpki/x509';
import type { IssuerKeyAlgorithm } from './index.js';
import { KeyLoadError } from './key-errors.js';
import { pkcs11Lib, pkcs11Reason, type Pkcs11Handle, type Pkcs11Module, type Pkcs11Session, type Pkcs11Template } from './pkcs11-session.js';

/** Which key pair in the token: both halves carry the same CKA_LABEL and CKA_ID. */
export interface Pkcs11KeyRef {
  readonly keyLabel: string;
  /** CKA_ID as lowercase hex. */
  readonly keyId: string;
}

export interface Pkcs11KeyGenOptions {
  readonly algorithm: IssuerKeyAlgorithm;
  /** CKA_LABEL of both halves. */
  readonly label: string;
  /** CKA_ID of both halves, hex (see newPkcs11KeyId). */
  readonly id: string;
}

export class KeyGenerationError extends Error {
  override readonly name = 'KeyGenerationError';
}

/** A fresh CKA_ID: 8 random bytes as hex. */
export function newPkcs11KeyId(): string {
  return randomBytes(8).toString('hex');
}

const CURVES = {
  'ecdsa-p256': { ecParams: oid(OID.prime256v1), crv: 'P-256', bytes: 32 },
  'ecdsa-p384': { ecParams: oid(OID.secp384r1), crv: 'P-384', bytes: 48 },
} as const;

export function checkKeyRef(ref: Pkcs11KeyRef): Buffer {
  if (!ref.keyLabel) throw new KeyLoadError('a PKCS#11 key reference needs a key label');
  if (!/^(?:[0-9a-f]{2})+$/i.test(ref.keyId)) throw new KeyLoadError(`PKCS#11 key id '${ref.keyId}' is not hex`);
  return Buffer.from(ref.keyId, 'hex');
}

/** The objects matching `template` (at most `max`). */
function findObjects(pkcs11: Pkcs11Module, session: Pkcs11Handle, template: Pkcs11Template, max = 2): Pkcs11Handle[] {
  pkcs11.C_FindObjectsInit(session, template);
  try {
    return pkcs11.C_FindObjects(session, max);
  } finally {
    pkcs11.C_FindObjectsFinal(session);
  }
}

/** The one object of class `cls` named by `ref`: none or several is a KeyLoadError naming the key. */
export function findKeyObject(pkcs11: Pkcs11Module, session: Pkcs11Handle, ref: Pkcs11KeyRef, half: 'private' | 'public'): Pkcs11Handle {
  const l = pkcs11Lib();
  const found = findObjects(pkcs11, session, [
    { type: l.CKA_CLASS, value: half === 'private' ? l.CKO_PRIVATE_KEY : l.CKO_PUBLIC_KEY },
    { type: l.CKA_LABEL, value: ref.keyLabel },
    { type: l.CKA_ID, value: checkKeyRef(ref) },
  ]);
  if (found.length === 1) return found[0]!;
  throw new KeyLoadError(
    found.length === 0
      ? `no ${half} key labelled '${ref.keyLabel}' with id ${ref.keyId} in the PKCS#11 token`
      : `several ${half} keys labelled '${ref.keyLabel}' with id ${ref.keyId} in the PKCS#11 token: the reference is ambiguous`,
  );
}

const b64url = (b: Buffer): string => b.toString('base64url');

/** CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 2.40); some tokens return the bare point. */
function ecPoint(value: Buffer, fieldBytes: number): Buffer {
  const bare = 1 + 2 * fieldBytes;
  if (value.length === bare && value[0] === 0x04) return value;
  const lengthBytes = value[1]! & 0x80 ? value[1]! & 0x7f : 0;
  const point = value.subarray(2 + lengthBytes);
  if (value[0] !== 0x04 || point.length !== bare || point[0] !== 0x04) throw new KeyLoadError('the token returned an EC point that is not an uncompressed point');
  return point;
}

/** The public half as a node KeyObject, from CKA_EC_PARAMS/CKA_EC_POINT or CKA_MODULUS/CKA_PUBLIC_EXPONENT. */
export function readPublicKey(pkcs11: Pkcs11Module, session: Pkcs11Handle, publicHandle: Pkcs11Handle): KeyObject {
  const l = pkcs11Lib();
  const [keyType] = pkcs11.C_GetAttributeValue(session, publicHandle, [{ type: l.CKA_KEY_TYPE }]);
  const type = keyType!.value.readUIntLE(0, Math.min(keyType!.value.length, 6));
  if (type === l.CKK_EC) {
    const [params, point] = pkcs11.C_GetAttributeValue(session, publicHandle, [{ type: l.CKA_EC_PARAMS }, { type: l.CKA_EC_POINT }]);
    const curve = Object.values(CURVES).find((c) => c.ecParams.equals(params!.value));
    if (!curve) throw new KeyLoadError(`the token key's curve (EC params ${params!.value.toString('hex')}) is not P-256 or P-384`);
    const p = ecPoint(point!.value, curve.bytes);
    return createPublicKey({
      key: { kty: 'EC', crv: curve.crv, x: b64url(p.subarray(1, 1 + curve.bytes)), y: b64url(p.subarray(1 + curve.bytes)) },
      format: 'jwk',
    });
  }
  if (type === l.CKK_RSA) {
    const [n, e] = pkcs11.C_GetAttributeValue(session, publicHandle, [{ type: l.CKA_MODULUS }, { type: l.CKA_PUBLIC_EXPONENT }]);
    return createPublicKey({ key: { kty: 'RSA', n: b64url(n!.value), e: b64url(e!.value) }, format: 'jwk' });
  }
  throw new KeyLoadError(`the token key's type (CKK ${type}) is neither EC nor RSA (A00.FR.505)`);
}

/**
 * Generates an issuer key pair inside the token: the private half is a token object that never
 * leaves it (CKA_SENSITIVE, not CKA_EXTRACTABLE), usable only to sign. Refuses a label or id
 * already in use (a reference must name exactly one key). On any failure after generation both
 * halves are destroyed: no half-made key stays behind.
 */
export async function generatePkcs11IssuerKey(session: Pkcs11Session, opts: Pkcs11KeyGenOptions): Promise<KeyObject> {
  const ref = { keyLabel: opts.label, keyId: opts.id };
  const id = checkKeyRef(ref);
  return session.withSession((pkcs11, s) => {
    const l = pkcs11Lib();
    if (findObjects(pkcs11, s, [{ type: l.CKA_LABEL, value: opts.label }], 1).length > 0)
      throw new KeyGenerationError(`an object labelled '${opts.label}' already exists in PKCS#11 token '${session.tokenLabel}'`);
    if (findObjects(pkcs11, s, [{ type: l.CKA_ID, value: id }], 1).length > 0)
      throw new KeyGenerationError(`an object with id ${opts.id} already exists in PKCS#11 token '${session.tokenLabel}'`);
    const common: Pkcs11Template = [
      { type: l.CKA_TOKEN, value: true },
      { type: l.CKA_LABEL, value: opts.label },
      { type: l.CKA_ID, value: id },
    ];
    const publicTemplate: Pkcs11Template = [...common, { type: l.CKA_CLASS, value: l.CKO_PUBLIC_KEY }, { type: l.CKA_PRIVATE, value: false }, { type: l.CKA_VERIFY, value: true }];
    const privateTemplate: Pkcs11Template = [
      ...common,
      { type: l.CKA_CLASS, value: l.CKO_PRIVATE_KEY },
      { type: l.CKA_PRIVATE, value: true },
      { type: l.CKA_SENSITIVE, value: true },
      { type: l.CKA_EXTRACTABLE, value: false },
      { type: l.CKA_SIGN, value: true },
      { type: l.CKA_DECRYPT, value: false },
      { type: l.CKA_UNWRAP, value: false },
      { type: l.CKA_DERIVE, value: false },
    ];
    let mechanism: number;
    if (opts.algorithm === 'rsa-pss-3072') {
      mechanism = l.CKM_RSA_PKCS_KEY_PAIR_GEN;
      publicTemplate.push({ type: l.CKA_KEY_TYPE, value: l.CKK_RSA }, { type: l.CKA_MODULUS_BITS, value: 3072 }, { type: l.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) });
      privateTemplate.push({ type: l.CKA_KEY_TYPE, value: l.CKK_RSA });
    } else {
      mechanism = l.CKM_EC_KEY_PAIR_GEN;
      publicTemplate.push({ type: l.CKA_KEY_TYPE, value: l.CKK_EC }, { type: l.CKA_EC_PARAMS, value: CURVES[opts.algorithm].ecParams });
      privateTemplate.push({ type: l.CKA_KEY_TYPE, value: l.CKK_EC });
    }
    let pair: { privateKey: Pkcs11Handle; publicKey: Pkcs11Handle };
    try {
      pair = pkcs11.C_GenerateKeyPair(s, { mechanism }, publicTemplate, privateTemplate);
    } catch (e) {
      throw new KeyGenerationError(`PKCS#11 token '${session.tokenLabel}' could not generate a ${opts.algorithm} key: ${pkcs11Reason(e)}`);
    }
    try {
      const flags = pkcs11.C_GetAttributeValue(s, pair.privateKey, [{ type: l.CKA_SENSITIVE }, { type: l.CKA_EXTRACTABLE }, { type: l.CKA_TOKEN }]);
      const [sensitive, extractable, onToken] = flags.map((a) => a.value[0] === 1);
      if (!sensitive || extractable || !onToken)
        throw new KeyGenerationError(`PKCS#11 token '${session.tokenLabel}' did not keep the new private key sensitive, non-extractable and persistent`);
      return readPublicKey(pkcs11, s, pair.publicKey);
    } catch (e) {
      for (const h of [pair.privateKey, pair.publicKey]) {
        try {
          pkcs11.C_DestroyObject(s, h);
        } catch {
          // best effort: the error below is what matters
        }
      }
      throw e;
    }
  });
}

/**
 * Destroys both halves of the key pair `ref` names (for a `pki init` that fails after generating,
 * or `--force` replacing a token key). Returns how many objects were destroyed.
 */
export async function deletePkcs11IssuerKey(session: Pkcs11Session, ref: Pkcs11KeyRef): Promise<number> {
  const id = checkKeyRef(ref);
  return session.withSession((pkcs11, s) => {
    const l = pkcs11Lib();
    const found = findObjects(pkcs11, s, [{ type: l.CKA_LABEL, value: ref.keyLabel }, { type: l.CKA_ID, value: id }], 16);
    for (const h of found) pkcs11.C_DestroyObject(s, h);
    return found.length;
  });
}
