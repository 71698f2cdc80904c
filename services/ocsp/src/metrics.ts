import { createMetrics } from '@evpki/service';
import { Counter } from 'prom-client';

/** The certificate status an OCSP answer gives (several CertIDs with different ones: mixed). */
export type AnsweredStatus = 'good' | 'revoked' | 'unknown' | 'mixed';

/** Where an answer came from: pre-signed (memory or store), signed live now, or an unsigned error status. */
export type AnswerSource = 'presigned' | 'live' | 'unsigned';

/**
 * The responder's metrics: the services' common set (createMetrics('ocsp'): requests by route and
 * status, store errors, the live signing histogram pki_ocsp_sign_duration_seconds{kind}) and
 * pki_ocsp_responses_total{status, source, method, tenant}. `tenant` is the tenant of the
 * certificates answered for (the RA's GET /v1/summary reads it), "" when there is none (an error,
 * a serial not issued, certificates of several tenants): its values are bounded by the tenants,
 * never a serial.
 */
export function createOcspMetrics() {
  const metrics = createMetrics('ocsp');
  const responses = new Counter({
    name: 'pki_ocsp_responses_total',
    help: 'OCSP answers by status (good, revoked, unknown, mixed; or the OCSP error: malformedRequest, internalError, tryLater, unauthorized), source (presigned, live, unsigned), method and tenant of the certificates ("" none)',
    labelNames: ['status', 'source', 'method', 'tenant'] as const,
    registers: [metrics.registry],
  });
  return { ...metrics, responses };
}
export type OcspMetrics = ReturnType<typeof createOcspMetrics>;

const STATUS_BY_TAG: Readonly<Record<number, AnsweredStatus>> = { 0x80: 'good', 0xa1: 'revoked', 0x82: 'unknown' };

/** The element read last by `header`: where its value starts and where it ends. */
let valueAt = 0;
let endAt = 0;

/** Reads the DER header at `off` (definite lengths, up to 3 length octets) within `limit`: its tag, or -1 when it does not fit. */
function header(der: Buffer, off: number, limit: number): number {
  if (off + 2 > limit) return -1;
  const tag = der[off]!;
  let len = der[off + 1]!;
  let p = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || p + n > limit) return -1;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[p + i]!;
    p += n;
  }
  valueAt = p;
  endAt = p + len;
  return endAt <= limit ? tag : -1;
}

/**
 * The certStatus of the SingleResponses in a successful OCSPResponse (RFC 6960 4.2.1), read
 * without verifying anything: for the metrics of pre-signed answers, whose records do not say. It
 * runs once per store read on the responder's hot path, so it walks headers without allocating
 * (well under a microsecond). Undefined when the bytes are not such a response.
 */
export function answeredStatus(der: Buffer): AnsweredStatus | undefined {
  // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT ResponseBytes }
  if (header(der, 0, der.length) !== 0x30) return undefined;
  const outerEnd = endAt;
  if (header(der, valueAt, outerEnd) !== 0x0a) return undefined;
  if (header(der, endAt, outerEnd) !== 0xa0) return undefined;
  // ResponseBytes ::= SEQUENCE { responseType OID, response OCTET STRING (BasicOCSPResponse) }
  if (header(der, valueAt, endAt) !== 0x30) return undefined;
  const bytesEnd = endAt;
  if (header(der, valueAt, bytesEnd) !== 0x06) return undefined;
  if (header(der, endAt, bytesEnd) !== 0x04) return undefined;
  // BasicOCSPResponse ::= SEQUENCE { tbsResponseData SEQUENCE { [0] version?, responderID, producedAt, responses, [1] ext? }, … }
  if (header(der, valueAt, endAt) !== 0x30) return undefined;
  if (header(der, valueAt, endAt) !== 0x30) return undefined;
  const tbsEnd = endAt;
  let p = valueAt;
  // responses is the first SEQUENCE in tbsResponseData (responderID is [1] or [2], producedAt a GeneralizedTime).
  for (let t = header(der, p, tbsEnd); t !== 0x30; t = header(der, p, tbsEnd)) {
    if (t === -1) return undefined;
    p = endAt;
  }
  const responsesEnd = endAt;
  p = valueAt;
  let status: AnsweredStatus | undefined;
  while (p < responsesEnd) {
    // SingleResponse ::= SEQUENCE { certID SEQUENCE, certStatus CHOICE { [0] good, [1] revoked, [2] unknown }, … }
    if (header(der, p, responsesEnd) !== 0x30) return undefined;
    const singleEnd = endAt;
    if (header(der, valueAt, singleEnd) !== 0x30) return undefined;
    const s = STATUS_BY_TAG[header(der, endAt, singleEnd)];
    if (!s) return undefined;
    if (status !== undefined && status !== s) return 'mixed';
    status = s;
    p = singleEnd;
  }
  return status;
}

/** The status of a set of single statuses as signed. */
export function statusOfSingles(kinds: readonly ('good' | 'revoked' | 'unknown')[]): AnsweredStatus {
  const first = kinds[0] ?? 'unknown';
  return kinds.every((k) => k === first) ? first : 'mixed';
}
