import { AppError } from '@evpki/service';
import type { Enrolled } from './enrol.js';

/**
 * OCPP 1.6 with ISO 15118 Plug&Charge (the Open Charge Alliance's application note, Plug&Charge
 * 2.1): the 2.0.1 messages travel as the JSON text in `data` of a DataTransfer with this vendorId.
 * The RA takes the SignCertificate one the CSMS forwards and answers the CertificateSigned one the
 * CSMS sends back to the station; in between it is a station enrolment like any other.
 */
export const PNC_VENDOR_ID = 'org.openchargealliance.iso15118pnc';
export const DATA_TRANSFER_RULE = 'DataTransfer.pnc';

export interface PncDataTransfer {
  readonly vendorId: string;
  readonly messageId: string;
  readonly data: string;
}

const bad = (message: string): AppError => new AppError('malformed', `DataTransfer: ${message}`, [{ rule: DATA_TRANSFER_RULE, message }]);

/** The SignCertificate.req inside a DataTransfer.req (certificateType defaults to V2GCertificate), or 400 naming DataTransfer.pnc. */
export function signCertificateOf(t: PncDataTransfer): { csr: string; certificateType: string } {
  if (t.vendorId !== PNC_VENDOR_ID) throw bad(`vendorId must be ${PNC_VENDOR_ID}`);
  if (t.messageId !== 'SignCertificate') throw bad('messageId must be SignCertificate (the only message the RA takes)');
  let data: unknown;
  try {
    data = JSON.parse(t.data);
  } catch {
    throw bad('data is not JSON text');
  }
  const d = data as { csr?: unknown; certificateType?: unknown };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw bad('data must be the JSON text of a SignCertificate.req object');
  const extra = Object.keys(d).filter((k) => k !== 'csr' && k !== 'certificateType');
  if (extra.length) throw bad(`data has fields SignCertificate.req does not: ${extra.slice(0, 5).join(', ')}`);
  if (typeof d.csr !== 'string' || !d.csr) throw bad('data.csr must be the PEM CSR');
  if (d.certificateType !== undefined && d.certificateType !== 'V2GCertificate' && d.certificateType !== 'ChargingStationCertificate')
    throw bad('data.certificateType must be V2GCertificate or ChargingStationCertificate');
  return { csr: d.csr, certificateType: typeof d.certificateType === 'string' ? d.certificateType : 'V2GCertificate' };
}

/** The DataTransfer.req (CertificateSigned) the CSMS sends to the station with the issued chain. */
export function certificateSignedOf(signed: Pick<Enrolled, 'certificateChain' | 'certificateType'>): PncDataTransfer {
  return { vendorId: PNC_VENDOR_ID, messageId: 'CertificateSigned', data: JSON.stringify({ certificateChain: signed.certificateChain, certificateType: signed.certificateType }) };
}
