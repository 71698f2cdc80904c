import { SECC_ID, V2G_MAX_CERTIFICATE_BYTES, keyRules, seccSubject, stationRegistered, v2gCurve } from '@evpki/policy';
import { OID, attributeValues, authorityInfoAccess, authorityKeyIdentifier, basicConstraints, keyIdentifier, keyUsage, subjectKeyIdentifier } from '@evpki/x509';
import type { IssuerRoleName, Profile, SubjectAttribute, SubjectFacts } from '../profile.js';
import { CA_CEREMONY, caExtensions } from './ca-extensions.js';

/**
 * The V2G PKI of ISO 15118 Plug&Charge (ISO 15118-2 Annex F certificate profiles): V2G Root CA →
 * CPO Sub-CA 1 → CPO Sub-CA 2 → SECC certificates, all EC P-256 signed ECDSA-SHA256 (`pki v2g init`
 * makes the keys), every certificate at most 800 bytes DER (V2G.size, enforced by certify).
 * Names follow the order public ISO 15118 PKI scripts write (EVerest, SwitchEV iso15118):
 * CN, O, (C,) DC, with DC=V2G for the CAs and DC=CPO for the SECC.
 */

const V2G = 'v2g';

/** A V2G CA's subject: CN, O, DC=V2G (built by the ceremony, never from a CSR). */
function v2gCaNames(s: SubjectFacts): SubjectAttribute[] {
  if (!s.names) throw new Error('a V2G CA certificate needs its organization and common name');
  return [
    { oid: OID.commonName, value: s.names.commonName },
    { oid: OID.organizationName, value: s.names.organization },
    { oid: OID.domainComponent, value: 'V2G' },
  ];
}

function v2gCa(kind: string, requestName: string, signedBy: { hierarchy: string; role: IssuerRoleName }, pathLen: number, selfSigned: boolean): Profile {
  return {
    kind,
    requestName,
    signedBy,
    ...CA_CEREMONY,
    maxDerBytes: V2G_MAX_CERTIFICATE_BYTES,
    // A root names no parent URLs (caExtensions adds AIA caIssuers and the CRL DP of a parent that has them).
    extensions: (issuer) => (subject) => caExtensions(selfSigned ? { ...issuer, urls: undefined } : issuer, subject, pathLen),
    subjectAttributes: (_issuer, subject) => v2gCaNames(subject),
  };
}

/** V2G Root CA: self-signed, pathLen 2 (two CPO sub-CAs below it). */
export const v2gRoot = v2gCa('V2GRootCertificate', 'V2G root CA', { hierarchy: V2G, role: 'root' }, 2, true);
/** CPO Sub-CA 1, under the V2G root: pathLen 1. */
export const cpoSubCa1 = v2gCa('CpoSubCa1Certificate', 'CPO Sub-CA 1', { hierarchy: V2G, role: 'root' }, 1, false);
/** CPO Sub-CA 2, under CPO Sub-CA 1: pathLen 0; signs the SECC certificates (Plug&Charge 2.1). */
export const cpoSubCa2 = v2gCa('CpoSubCa2Certificate', 'CPO Sub-CA 2', { hierarchy: V2G, role: 'sub-ca-1' }, 0, false);

/**
 * SECC certificate (OCPP `V2GCertificate`, ISO 15118-2 Annex F): the charging station's TLS server
 * identity towards the EV. Critical KU digitalSignature + keyAgreement, critical CA:false, SKI, AKI,
 * AIA OCSP (our responder). Subject CN = the SECC-ID (registered for the station: PnC-4.3), O = the
 * CPO name, C when the CSR has one, DC=CPO. Rules: V2G.curve, V2G.dc-cpo, V2G.secc-id,
 * V2G.operator-id, V2G.size (libs/policy v2g-rules.ts).
 */
export const seccLeaf: Profile = {
  kind: 'V2GCertificate',
  ocppCertificateType: 'V2GCertificate',
  requestName: 'SECC certificate',
  signedBy: { hierarchy: V2G, role: 'sub-ca-2' },
  subject: 'station',
  checks: [stationRegistered, keyRules, v2gCurve, seccSubject],
  validity: { backdateSeconds: 60, minSeconds: 3600 },
  recorded: 'certificate',
  status: { ocspPresigned: true, crl: true, tenantRevocable: true },
  replaysIdenticalRequest: true,
  requiresActiveIssuer: true,
  maxDerBytes: V2G_MAX_CERTIFICATE_BYTES,
  extensions(issuer) {
    const urls = issuer.urls;
    if (!urls) throw new Error(`issuer ${issuer.id} has no status URLs`);
    const head = [keyUsage(['digitalSignature', 'keyAgreement']), basicConstraints(false)];
    const tail = [authorityKeyIdentifier(issuer.keyIdentifier), authorityInfoAccess({ ocsp: urls.ocsp })];
    return ({ publicKey }) => [...head, subjectKeyIdentifier(keyIdentifier(publicKey.common.publicKey)), ...tail];
  },
  subjectAttributes(_issuer, s) {
    const subject = s.csr!.subject;
    const cn = attributeValues(subject, OID.commonName)[0]!;
    if (!SECC_ID.test(cn)) throw new Error('the SECC-ID was not checked'); // seccSubject refuses it first
    const country = attributeValues(subject, OID.countryName);
    return [
      { oid: OID.commonName, value: cn },
      { oid: OID.organizationName, value: attributeValues(subject, OID.organizationName)[0]! },
      ...country.map((value) => ({ oid: OID.countryName, value })),
      { oid: OID.domainComponent, value: 'CPO' },
    ];
  },
};
