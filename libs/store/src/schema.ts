import { keySha256, parseCertificate } from '@evpki/x509';
import type { CertificateRecord } from './records.js';

/**
 * The version of what the store holds, kept as a marker in the store itself (absent: 1). Each
 * backend brings an older store up to this one (Store.migrate) before its first key lookup or
 * write; a migration is idempotent, and several processes may run it at once.
 *   2: key hashes (certified keys, blocked keys, CertificateRecord.spkiSha256) are keySha256 of the
 *      canonical key, no longer SHA-256 of the bytes the CSR used (issue 14.2).
 */
export const STORE_SCHEMA_VERSION = 2;

export interface MigrationResult {
  readonly from: number;
  readonly to: number;
  /** Certificates whose key hash (and with it their key index and blocked-key entry) was rewritten. */
  readonly rewritten: number;
  /**
   * Serials of certificates that share a key with another certificate (issued under two encodings
   * of one key before schema 2; each pair once). The key index keeps one of them: an operator
   * revokes the others (and all of them when one was revoked for keyCompromise).
   */
  readonly keyCertifiedTwice: readonly string[];
}

/** A stored certificate's key hash as schema 2 has it; the stored one when its key cannot be read. */
export function canonicalKeyHashOf(cert: Pick<CertificateRecord, 'der' | 'spkiSha256'>): string {
  try {
    return keySha256(parseCertificate(cert.der).spki);
  } catch {
    return cert.spkiSha256;
  }
}
