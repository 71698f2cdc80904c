import { OID, authorityInfoAccess, authorityKeyIdentifier, basicConstraints, crlDistributionPoints, keyIdentifier, keyUsage, subjectKeyIdentifier } from '@evpki/x509';
import type { IssuerFacts, Profile, SubjectAttribute, SubjectFacts } from '../profile.js';

/**
 * A CA certificate's extensions (RFC 5280 4.2.1.3/4.2.1.9): critical basicConstraints CA:true
 * with `pathLen` when given, critical keyCertSign + cRLSign, SKI, AKI, and the parent's issuer and
 * CRL URLs when it publishes them. Shared by the root, sub-CA and cross-certificate profiles.
 */
export function caExtensions(issuer: IssuerFacts, subject: SubjectFacts, pathLen?: number): Buffer[] {
  const exts = [
    basicConstraints(true, pathLen),
    keyUsage(['keyCertSign', 'cRLSign']),
    subjectKeyIdentifier(keyIdentifier(subject.publicKey.common.publicKey)),
    authorityKeyIdentifier(issuer.keyIdentifier),
  ];
  if (issuer.urls) exts.push(authorityInfoAccess({ caIssuers: issuer.urls.caIssuers }), crlDistributionPoints(issuer.urls.crl));
  return exts;
}

export function ceremonyNames(s: SubjectFacts): SubjectAttribute[] {
  if (!s.names) throw new Error('a CA certificate needs its organization and common name');
  return [
    { oid: OID.organizationName, value: s.names.organization },
    { oid: OID.commonName, value: s.names.commonName },
  ];
}

/**
 * What every CA certificate made by a CLI ceremony shares: no CSR (the ceremony holds the key),
 * backdated an hour, recorded in the issuer records, covered by its issuer's CRL.
 */
export const CA_CEREMONY = {
  subject: 'ceremony',
  checks: [],
  validity: { backdateSeconds: 3600 },
  recorded: 'issuer-record',
  status: { ocspPresigned: false, crl: true, tenantRevocable: false },
  replaysIdenticalRequest: false,
  requiresActiveIssuer: false,
} as const satisfies Partial<Profile>;
