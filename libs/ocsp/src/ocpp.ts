import { encodeCertId } from './cert-id.js';
import { HASH_LENGTHS, type CertIdHash } from './hashes.js';

/** OCPP OCSPRequestData (GetCertificateStatus.req; Plug&Charge 4.5). */
export interface OcspRequestData {
  readonly hashAlgorithm: 'SHA256' | 'SHA384' | 'SHA512';
  readonly issuerNameHash: string;
  readonly issuerKeyHash: string;
  readonly serialNumber: string;
  readonly responderURL: string;
}

/** The CertID an OCPP OCSPRequestData names; throws a message for the caller to return. */
export function certIdFromOcpp(d: Omit<OcspRequestData, 'responderURL'>): Buffer {
  const hash = d.hashAlgorithm.toLowerCase() as CertIdHash;
  if (!['sha256', 'sha384', 'sha512'].includes(hash)) throw new Error('hashAlgorithm must be SHA256, SHA384 or SHA512');
  const hex = (s: string, what: string, len?: number): Buffer => {
    if (!/^[0-9a-fA-F]+$/.test(s) || (len !== undefined && s.length !== len * 2)) throw new Error(`${what} must be ${len ? `${len} octets of ` : ''}hex`);
    return Buffer.from(s.length % 2 ? '0' + s : s, 'hex');
  };
  const serial = hex(d.serialNumber, 'serialNumber');
  if (serial.length > 20) throw new Error('serialNumber must be at most 20 octets');
  return encodeCertId(hash, hex(d.issuerNameHash, 'issuerNameHash', HASH_LENGTHS[hash]), hex(d.issuerKeyHash, 'issuerKeyHash', HASH_LENGTHS[hash]), serial);
}

/** OCPP limits ocspResult to 5500 characters of base64 (GetCertificateStatus.conf). */
export const MAX_OCSP_RESULT_CHARS = 5500;
