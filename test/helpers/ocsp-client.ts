import * as pkijs from 'pkijs';
import { buildOcspRequest, encodeCertId, issuerHashes, type CertIdHash } from '@evpki/ocsp';
import { serialFromHex, type ParsedCertificate } from '@evpki/x509';

/** A CertID for one of `issuer`'s serials. */
export function certIdFor(issuer: ParsedCertificate, serial: string, hash: CertIdHash = 'sha256'): Buffer {
  const h = issuerHashes(issuer)[hash];
  return encodeCertId(hash, h.name, h.key, serialFromHex(serial));
}

/** Parses a response with pkijs (the reference implementation), independent of our encoder. */
export function parseOcspResponse(der: Buffer) {
  const resp = pkijs.OCSPResponse.fromBER(new Uint8Array(der).buffer);
  const status = resp.responseStatus.valueBlock.valueDec;
  if (status !== 0) return { status };
  const basic = pkijs.BasicOCSPResponse.fromBER(resp.responseBytes!.response.valueBlock.valueHexView.slice().buffer);
  const singles = basic.tbsResponseData.responses.map((r) => ({
    serial: Buffer.from(r.certID.serialNumber.valueBlock.valueHexView).toString('hex').replace(/^0+/, ''),
    hashOid: r.certID.hashAlgorithm.algorithmId,
    status: ({ 0: 'good', 1: 'revoked', 2: 'unknown' } as Record<number, string>)[r.certStatus.idBlock.tagNumber as number],
    thisUpdate: r.thisUpdate,
    nextUpdate: r.nextUpdate,
  }));
  const extensions = (basic.tbsResponseData.responseExtensions ?? []).map((e) => e.extnID);
  return { status, basic, singles, extensions };
}

/** POSTs a request to `<base>/ocsp`; the raw answer. */
export async function postOcsp(base: string, body: Buffer): Promise<{ status: number; headers: Headers; der: Buffer }> {
  const res = await fetch(`${base}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body });
  return { status: res.status, headers: res.headers, der: Buffer.from(await res.arrayBuffer()) };
}

const ERRORS: Record<number, string> = { 1: 'malformedRequest', 2: 'internalError', 3: 'tryLater', 5: 'sigRequired', 6: 'unauthorized' };

/** The status one responder gives one certificate: good / revoked / unknown, or the OCSP error. */
export async function ocspStatusOf(base: string, issuer: ParsedCertificate, serial: string): Promise<string> {
  const r = await postOcsp(base, buildOcspRequest([certIdFor(issuer, serial)]));
  const parsed = parseOcspResponse(r.der);
  if (parsed.status !== 0) return ERRORS[parsed.status] ?? `status ${parsed.status}`;
  const single = parsed.singles!.find((s) => s.serial === serial.replace(/^0+/, ''));
  return single?.status ?? 'missing';
}
