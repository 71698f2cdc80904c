import { OID } from '@evpki/x509';

/** CertID hash algorithms the responder matches (RFC 6960 4.1.1; charge points send SHA-256). */
export type CertIdHash = 'sha1' | 'sha256' | 'sha384' | 'sha512';

export const CERT_ID_HASHES: readonly CertIdHash[] = ['sha1', 'sha256', 'sha384', 'sha512'];

export const HASH_OIDS: Record<CertIdHash, string> = { sha1: OID.sha1, sha256: OID.sha256, sha384: OID.sha384, sha512: OID.sha512 };

export const HASH_LENGTHS: Record<CertIdHash, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

export const hashByOid = new Map<string, CertIdHash>(CERT_ID_HASHES.map((h) => [HASH_OIDS[h], h]));
