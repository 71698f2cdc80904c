import { keySha256, parseCertificate } from '@evpki/x509';
import { DEFAULT_HIERARCHY } from './hierarchies.js';
import type { CertificateRecord, IssuerRecord, RotationRecord } from './records.js';

/**
 * The version of what the store holds, kept as a marker in the store itself (absent: 1). Each
 * backend brings an older store up to this one (Store.migrate) before its first key lookup or
 * write; a migration is idempotent, and several processes may run it at once.
 *   2: key hashes (certified keys, blocked keys, CertificateRecord.spkiSha256) are keySha256 of the
 *      canonical key, no longer SHA-256 of the bytes the CSR used (issue 14.2).
 *   3: issuers belong to a hierarchy (issue 15): every issuer record gets `hierarchy` (`csms` for
 *      those before), role `sub-ca` becomes `issuing`, `purpose` goes; the one rotation record
 *      becomes the csms hierarchy's (one per hierarchy).
 *   4: the list indexes of stations and certificates (list-index.ts, issue 19): built for what the
 *      store holds, then kept by every write of a station or certificate.
 *   5: the index of revoked certificates by notAfter (list-index.ts revokedIndexEntries), for the
 *      exact counts of the tenant summary: the list indexes are built again (idempotent), which adds it.
 *   6: compact Redis encodings (redis-encoding.ts): certificate records as arrays without field
 *      names, a pre-signed response without its signer's certificates (kept once per signer), all
 *      of a certificate's responses in one string. Nothing is rewritten: the older forms are still
 *      read, pre-signed responses are replaced at their next re-signing (half their life) and
 *      records keep theirs. LMDB is unchanged.
 *   7: a Redis certificate record's DER deflated against what the certificates of its issuer and
 *      profile share (redis-encoding.ts derDictionaryOf, kept once in der-dict): a record written
 *      before is still read, and nothing is rewritten; an older release cannot read the new records.
 *      LMDB is unchanged.
 */
export const STORE_SCHEMA_VERSION = 7;

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
  /** Issuer records rewritten to schema 3 (issuerAtSchema3). */
  readonly rewrittenIssuers: number;
  /** Whether the rotation record of schema 2 became the csms hierarchy's. */
  readonly movedRotation: boolean;
  /** Stations and certificates put into the list indexes (schema 4). */
  readonly indexedStations: number;
  readonly indexedCertificates: number;
}

/** The result of a migrate() that found the store at `version` already. */
export const upToDate = (version: number): MigrationResult => ({ from: version, to: version, rewritten: 0, keyCertifiedTwice: [], rewrittenIssuers: 0, movedRotation: false, indexedStations: 0, indexedCertificates: 0 });

/** An issuer record as schema 2 (and 1) stored it. */
type IssuerBefore3 = Omit<IssuerRecord, 'hierarchy' | 'role'> & { readonly hierarchy?: string; readonly role: IssuerRecord['role'] | 'sub-ca'; readonly purpose?: string };

/** A stored issuer record as schema 3 has it; undefined when it has that shape already (a migration re-run). */
export function issuerAtSchema3(stored: IssuerRecord): IssuerRecord | undefined {
  const { purpose, ...rest } = stored as unknown as IssuerBefore3;
  if (purpose === undefined && rest.hierarchy !== undefined && rest.role !== 'sub-ca') return undefined;
  return { ...rest, hierarchy: rest.hierarchy ?? DEFAULT_HIERARCHY, role: rest.role === 'sub-ca' ? 'issuing' : rest.role };
}

/** Schema 2's one rotation record as the csms hierarchy's. */
export function rotationAtSchema3(stored: RotationRecord): RotationRecord {
  return { ...stored, hierarchy: (stored as Partial<RotationRecord>).hierarchy ?? DEFAULT_HIERARCHY };
}

/** A stored certificate's key hash as schema 2 has it; the stored one when its key cannot be read. */
export function canonicalKeyHashOf(cert: Pick<CertificateRecord, 'der' | 'spkiSha256'>): string {
  try {
    return keySha256(parseCertificate(cert.der).spki);
  } catch {
    return cert.spkiSha256;
  }
}
