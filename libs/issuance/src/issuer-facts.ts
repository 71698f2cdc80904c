import { OID, attributeValues, keyIdentifier, type IssuerUrls, type ParsedCertificate } from '@evpki/x509';
import type { IssuerFacts } from './profile.js';

/** What profiles read of an issuer, from its certificate (and the URLs where its status is published). */
export function issuerFacts(id: string, cert: ParsedCertificate, urls?: IssuerUrls): IssuerFacts {
  return {
    id,
    name: cert.subject.der,
    organization: attributeValues(cert.subject, OID.organizationName)[0] ?? 'EV PKI',
    keyIdentifier: keyIdentifier(cert.publicKey),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    ...(urls ? { urls } : {}),
  };
}
