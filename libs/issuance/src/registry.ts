import { Rule, type Violation } from '@evpki/policy';
import type { Profile } from './profile.js';
import { chargingStation } from './profiles/charging-station.js';
import { crossCertificate } from './profiles/cross-certificate.js';
import { csmsServer } from './profiles/csms-server.js';
import { ocspSigner } from './profiles/ocsp-signer.js';
import { rootCa } from './profiles/root.js';
import { serviceTlsClient, serviceTlsServer } from './profiles/service-tls.js';
import { issuingCa } from './profiles/sub-ca.js';
import { cpoSubCa1, cpoSubCa2, seccLeaf, v2gRoot } from './profiles/v2g.js';

/** Every kind the product signs. A new kind: its file under profiles/ and a line here. */
export const PROFILES: readonly Profile[] = [chargingStation, csmsServer, ocspSigner, rootCa, issuingCa, crossCertificate, serviceTlsServer, serviceTlsClient,
  v2gRoot, cpoSubCa1, cpoSubCa2, seccLeaf];

const byKind = new Map(PROFILES.map((p) => [p.kind, p]));
const byOcppType = new Map(PROFILES.filter((p) => p.ocppCertificateType).map((p) => [p.ocppCertificateType!, p]));

/** The profile a recorded certificate was issued under; undefined for a kind this version does not know. */
export function profileOf(kind: string): Profile | undefined {
  return byKind.get(kind);
}

/** The profile a station's OCPP CertificateSigningUse asks for, or the violation naming what is issued. */
export function profileForCertificateType(certificateType: string): { profile: Profile } | { violation: Violation } {
  const profile = byOcppType.get(certificateType);
  if (profile) return { profile };
  const issued = [...byOcppType.keys()].join(', ');
  return { violation: { rule: Rule.certificateType, message: `${certificateType} certificates are not supported yet; this CA issues ${issued}` } };
}

export { chargingStation, cpoSubCa1, cpoSubCa2, crossCertificate, csmsServer, issuingCa, ocspSigner, rootCa, seccLeaf, serviceTlsClient, serviceTlsServer, v2gRoot };
