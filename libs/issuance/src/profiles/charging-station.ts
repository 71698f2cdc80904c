import { certifiedSubjectAttributes, chargePointSubject, keyRules, stationRegistered } from '@evpki/policy';
import {
  OID,
  authorityInfoAccess,
  authorityKeyIdentifier,
  basicConstraints,
  crlDistributionPoints,
  extKeyUsage,
  keyIdentifier,
  keyKind,
  keyUsage,
  subjectKeyIdentifier,
  type KeyKind,
} from '@evpki/x509';
import type { Profile } from '../profile.js';

/**
 * Charge point certificate (OCPP ChargingStationCertificate, A00.FR.512): Key Usage critical
 * digitalSignature plus keyAgreement (EC) or keyEncipherment (RSA; not for an RSA-PSS key, which
 * only signs, RFC 4055 1.2); EKU clientAuth; CA:false; SKI, AKI; AIA with OCSP and issuer URLs;
 * CRL distribution point. CN = the station's serial number, O = the CPO name.
 */
export const chargingStation: Profile = {
  kind: 'ChargingStationCertificate',
  ocppCertificateType: 'ChargingStationCertificate',
  requestName: 'certificate',
  signedBy: { hierarchy: 'csms', role: 'issuing' },
  subject: 'station',
  checks: [stationRegistered, keyRules, chargePointSubject],
  // CA_LEAF_VALIDITY_DAYS; refused when the issuer has less than an hour left.
  validity: { backdateSeconds: 60, minSeconds: 3600 },
  recorded: 'certificate',
  status: { ocspPresigned: true, crl: true, tenantRevocable: true },
  replaysIdenticalRequest: true,
  requiresActiveIssuer: true,
  extensions(issuer) {
    const urls = issuer.urls;
    if (!urls) throw new Error(`issuer ${issuer.id} has no status URLs`);
    const ku: Record<KeyKind, Buffer> = {
      ec: keyUsage(['digitalSignature', 'keyAgreement']),
      rsa: keyUsage(['digitalSignature', 'keyEncipherment']),
      'rsa-pss': keyUsage(['digitalSignature']),
    };
    // Everything but the SKI is fixed per issuer, so it is encoded once here.
    const head = [basicConstraints(false), extKeyUsage([OID.kpClientAuth])];
    const tail = [authorityKeyIdentifier(issuer.keyIdentifier), authorityInfoAccess({ ocsp: urls.ocsp, caIssuers: urls.caIssuers }), crlDistributionPoints(urls.crl)];
    return ({ publicKey }) => [ku[keyKind(publicKey)], ...head, subjectKeyIdentifier(keyIdentifier(publicKey.common.publicKey)), ...tail];
  },
  subjectAttributes: (_issuer, s) => certifiedSubjectAttributes(s.csr!),
};
