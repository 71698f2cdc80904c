import { DerError, OID, Tag, children, decodeOid, expectTag, integerBytes, raw, readOnly, serialToHex, type Tlv } from '@evpki/x509';
import { HASH_LENGTHS, hashByOid, type CertIdHash } from './hashes.js';

/** Bounds on what the responder reads (RFC 6960 over HTTP; nonce per RFC 8954). */
export const OCSP_LIMITS = {
  /** A request with ten SHA-512 CertIDs and a nonce fits easily. */
  maxRequestBytes: 4096,
  maxCertIds: 10,
  maxNonceBytes: 32,
} as const;

export interface RequestedCertId {
  readonly hash: CertIdHash;
  readonly issuerNameHash: Buffer;
  readonly issuerKeyHash: Buffer;
  /** Lowercase hex without leading zeros, as the store keys certificates. */
  readonly serialHex: string;
  /** The whole CertID element: a response echoes exactly these bytes. */
  readonly der: Buffer;
}

export interface OcspRequest {
  readonly certIds: readonly RequestedCertId[];
  /** The request's nonce extension (RFC 8954), whole, to be echoed in the response. */
  readonly nonceExtension?: Buffer;
}

/** Anything that makes the request unanswerable: the responder answers `malformedRequest`. */
export class MalformedOcspRequest extends Error {
  override readonly name = 'MalformedOcspRequest';
}

/**
 * Parses an OCSPRequest with the strict DER reader (pkijs costs ~1 ms a request:
 * docs/architecture.md "Hot paths"). A signed request is accepted; its signature is not needed and not checked.
 */
export function parseOcspRequest(der: Buffer): OcspRequest {
  try {
    return parse(der);
  } catch (e) {
    if (e instanceof DerError) throw new MalformedOcspRequest(e.message);
    throw e;
  }
}

function parse(der: Buffer): OcspRequest {
  if (der.length > OCSP_LIMITS.maxRequestBytes) throw new MalformedOcspRequest(`request larger than ${OCSP_LIMITS.maxRequestBytes} bytes`);
  const top = readOnly(der, Tag.SEQUENCE);
  const [tbsT, sigT, extra] = children(top, 2);
  if (extra || (sigT && sigT.tag !== 0xa0)) throw new MalformedOcspRequest('unexpected element after tbsRequest');
  const tbs = children(expectTag(tbsT, Tag.SEQUENCE, 'tbsRequest'), 4);
  let i = 0;
  if (tbs[i]?.tag === 0xa0) {
    const [v] = children(tbs[i++]!, 1);
    if (expectTag(v, Tag.INTEGER, 'version').value.length !== 1 || v!.value[0] !== 0) throw new MalformedOcspRequest('unsupported request version');
  }
  if (tbs[i]?.tag === 0xa1) i++; // requestorName: not used
  const list = children(expectTag(tbs[i++], Tag.SEQUENCE, 'requestList'), OCSP_LIMITS.maxCertIds);
  if (list.length === 0) throw new MalformedOcspRequest('empty requestList');
  const certIds = list.map((r) => {
    const [certIdT, singleExt, more] = children(expectTag(r, Tag.SEQUENCE, 'Request'), 2);
    if (more || (singleExt && singleExt.tag !== 0xa0)) throw new MalformedOcspRequest('unexpected element in Request');
    return readCertId(r.value, expectTag(certIdT, Tag.SEQUENCE, 'CertID'));
  });
  let nonceExtension: Buffer | undefined;
  const extT = tbs[i];
  if (extT) {
    if (extT.tag !== 0xa2 || tbs[i + 1]) throw new MalformedOcspRequest('unexpected element in tbsRequest');
    nonceExtension = readRequestExtensions(expectTag(children(extT, 1)[0], Tag.SEQUENCE, 'requestExtensions'));
  }
  return nonceExtension ? { certIds, nonceExtension } : { certIds };
}

function readCertId(parentValue: Buffer, t: Tlv): RequestedCertId {
  const [algT, nameT, keyT, serialT, extra] = children(t, 4);
  if (extra) throw new MalformedOcspRequest('CertID has extra elements');
  const [oidT, params] = children(expectTag(algT, Tag.SEQUENCE, 'hashAlgorithm'), 2);
  const hash = hashByOid.get(decodeOid(expectTag(oidT, Tag.OID, 'hashAlgorithm').value));
  if (!hash) throw new MalformedOcspRequest('CertID hash algorithm is not SHA-1, SHA-256, SHA-384 or SHA-512');
  if (params && !(params.tag === Tag.NULL && params.value.length === 0)) throw new MalformedOcspRequest('CertID hash parameters must be absent or NULL');
  const issuerNameHash = expectTag(nameT, Tag.OCTET_STRING, 'issuerNameHash').value;
  const issuerKeyHash = expectTag(keyT, Tag.OCTET_STRING, 'issuerKeyHash').value;
  if (issuerNameHash.length !== HASH_LENGTHS[hash] || issuerKeyHash.length !== HASH_LENGTHS[hash])
    throw new MalformedOcspRequest(`CertID hashes must be ${HASH_LENGTHS[hash]} octets for ${hash}`);
  const serial = integerBytes(expectTag(serialT, Tag.INTEGER, 'serialNumber').value);
  if (serial.length > 21) throw new MalformedOcspRequest('serialNumber longer than 20 octets');
  return { hash, issuerNameHash, issuerKeyHash, serialHex: serialToHex(serial), der: raw(parentValue, t) };
}

/** Returns the nonce extension if there is one; refuses unknown critical extensions. */
function readRequestExtensions(seqT: Tlv): Buffer | undefined {
  let nonce: Buffer | undefined;
  for (const ext of children(seqT, 8)) {
    const [oidT, second, third] = children(expectTag(ext, Tag.SEQUENCE, 'Extension'), 3);
    const extOid = decodeOid(expectTag(oidT, Tag.OID, 'extnID').value);
    const critical = second?.tag === Tag.BOOLEAN && second.value[0] === 0xff;
    const valueT = expectTag(second?.tag === Tag.BOOLEAN ? third : second, Tag.OCTET_STRING, 'extnValue');
    if (extOid === OID.ocspNonce) {
      if (nonce) throw new MalformedOcspRequest('more than one nonce');
      // RFC 8954: Nonce ::= OCTET STRING (SIZE(1..32)), DER-encoded inside extnValue.
      const inner = readOnly(valueT.value, Tag.OCTET_STRING).value;
      if (inner.length < 1 || inner.length > OCSP_LIMITS.maxNonceBytes)
        throw new MalformedOcspRequest(`nonce must be 1 to ${OCSP_LIMITS.maxNonceBytes} octets (RFC 8954)`);
      nonce = raw(seqT.value, ext);
    } else if (critical) throw new MalformedOcspRequest(`unsupported critical extension ${extOid}`);
  }
  return nonce;
}
