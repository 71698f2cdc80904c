import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { publicKeyObject } from '@evpki/x509';

/** P-256 point with a small x (found by trying x = 1, 2, ...), so that x + p still fits in 32 bytes. */
function smallXPoint(): { x: bigint; y: bigint; p: bigint } {
  const p = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
  const b = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
  const pow = (a: bigint, e: bigint): bigint => {
    let r = 1n;
    for (a %= p; e > 0n; e >>= 1n, a = (a * a) % p) if (e & 1n) r = (r * a) % p;
    return r;
  };
  for (let x = 1n; ; x++) {
    const rhs = (((x ** 3n - 3n * x + b) % p) + p) % p;
    const y = pow(rhs, (p + 1n) / 4n);
    if ((y * y) % p === rhs) return { x, y, p };
  }
}
const P256_HEAD = '3059301306072a8648ce3d020106082a8648ce3d030107034200';
const spkiOf = (x: bigint, y: bigint): Buffer => Buffer.from(P256_HEAD + '04' + x.toString(16).padStart(64, '0') + y.toString(16).padStart(64, '0'), 'hex');

describe('publicKeyObject (JWK route for uncompressed EC points)', () => {
  for (const namedCurve of ['P-256', 'P-384', 'P-521', 'secp256k1']) {
    it(`${namedCurve}: the same key as OpenSSL's DER import`, () => {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve });
      const spki = publicKey.export({ type: 'spki', format: 'der' });
      const k = publicKeyObject(spki);
      assert.ok(k.equals(createPublicKey({ key: spki, format: 'der', type: 'spki' })));
      const sig = sign('sha256', Buffer.from('x'), privateKey);
      assert.ok(verify('sha256', Buffer.from('x'), k, sig));
    });
  }
  it('refuses a point that is not on the curve', () => {
    const spki = Buffer.from(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
    spki[spki.length - 1]! ^= 1;
    assert.throws(() => publicKeyObject(spki));
  });
  it('refuses a non-canonical coordinate (x + p), which would give one key two SPKI hashes', () => {
    const { x, y, p } = smallXPoint();
    assert.ok(publicKeyObject(spkiOf(x, y)));
    assert.throws(() => publicKeyObject(spkiOf(x + p, y)));
  });
  it('compressed points and RSA keys still go through the DER import', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const point = ec.export({ type: 'spki', format: 'der' }).subarray(-65);
    const compressed = Buffer.concat([Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'), Buffer.from([2 + (point[64]! & 1)]), point.subarray(1, 33)]);
    assert.ok(publicKeyObject(compressed).equals(ec));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    assert.ok(publicKeyObject(rsa.export({ type: 'spki', format: 'der' })).equals(rsa));
  });
});
