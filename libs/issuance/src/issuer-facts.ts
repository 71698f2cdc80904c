import { OID, Tag, attributeValues, keyIdentifier, readOnly, type IssuerUrls, type ParsedCertificate } from '@evpki/x509';
import type { IssuerFacts } from './profile.js';

/** What profiles read of an issuer, from its certificate (and the URLs where its status is published). */
export function issuerFacts(id: string, cert: ParsedCertificate, urls?: IssuerUrls): IssuerFacts {
  return {
    id,
    name: cert.subject.der,
    organization: attributeValues(cert.subject, OID.organizationName)[0] ?? 'EV PKI',
    keyIdentifier: subjectKeyIdOf(cert),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    ...(urls ? { urls } : {}),
  };
}

/**
 * The issuer's own subjectKeyIdentifier, which its leaves' authorityKeyIdentifier must repeat (RFC
 * 5280 4.2.1.1): an imported CA (pki v2g import) may use SHA-1; ours are computed the same way.
 */
function subjectKeyIdOf(cert: ParsedCertificate): Buffer {
  const e = cert.extensions.find((x) => x.oid === OID.subjectKeyIdentifier);
  return e ? readOnly(e.value, Tag.OCTET_STRING).value : keyIdentifier(cert.publicKey);
}
