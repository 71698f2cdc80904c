import { createCipheriv, randomBytes, scryptSync, type KeyObject } from 'node:crypto';
import { integer, octetString, oid, seq, toPem } from '@evpki/x509';

/**
 * The scrypt cost of new key files (RFC 7914 via PBES2, RFC 8018). OpenSSL 3.0, which both
 * `openssl pkey` and node's createPrivateKey use to read the file, refuses scrypt parameters that
 * need more than 32 MiB (N·r·128 bytes), so N = 2^14 with r = 8 is the most memory it reads; p = 5
 * raises the work to OWASP's equivalent of N = 2^17, r = 8, p = 1. About 150 ms per key file
 * written or read on one core; the same in tests and production (no weaker override).
 */
export const KEY_FILE_SCRYPT = { N: 2 ** 14, r: 8, p: 5 } as const;

const OIDS = { pbes2: '1.2.840.113549.1.5.13', scrypt: '1.3.6.1.4.1.11591.4.11', aes256Cbc: '2.16.840.1.101.3.4.1.42' } as const;

/**
 * A private key as an EncryptedPrivateKeyInfo PEM (PKCS#8, RFC 5958): PBES2 with scrypt
 * (KEY_FILE_SCRYPT, a fresh 16-byte salt) and AES-256-CBC. Node's own `export({ cipher })` can only
 * write PBKDF2 with 2,048 iterations, hence the hand-written envelope.
 */
export function encryptPkcs8(key: KeyObject, passphrase: string): string {
  const { N, r, p } = KEY_FILE_SCRYPT;
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const derived = scryptSync(passphrase, salt, 32, { N, r, p, maxmem: 64 * 1024 * 1024 });
  const cipher = createCipheriv('aes-256-cbc', derived, iv);
  const plain = key.export({ type: 'pkcs8', format: 'der' });
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  const kdf = seq(oid(OIDS.scrypt), seq(octetString(salt), integer(N), integer(r), integer(p), integer(32)));
  const algorithm = seq(oid(OIDS.pbes2), seq(kdf, seq(oid(OIDS.aes256Cbc), octetString(iv))));
  return toPem('ENCRYPTED PRIVATE KEY', seq(algorithm, octetString(encrypted)));
}
