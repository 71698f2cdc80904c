import { ecdsaKeyOnly, keyRules, notReservedKey } from '@evpki/policy';
import { OID, authorityKeyIdentifier, basicConstraints, extKeyUsage, extension, keyIdentifier, keyUsage, nullDer, subjectKeyIdentifier } from '@evpki/x509';
import type { Profile } from '../profile.js';

/**
 * Delegated OCSP signer (RFC 6960 4.2.2.2) for the responder's own ECDSA key, so that it never
 * holds a CA key: EKU id-kp-OCSPSigning, and id-pkix-ocsp-nocheck so that clients do not ask for
 * the signer's own status (4.2.2.2.1); its short validity (CA_OCSP_SIGNER_VALIDITY_HOURS) is the
 * revocation mechanism, and at most CA_OCSP_SIGNERS_PER_ISSUER_PER_HOUR are made per issuer.
 * Signed by any issuer the CA holds, active or not (a retiring issuer's answers are still signed).
 */
export const ocspSigner: Profile = {
  kind: 'OcspSigningCertificate',
  requestName: 'OCSP signer',
  signedBy: { hierarchy: '*', role: 'issuing' },
  subject: 'service',
  checks: [keyRules, ecdsaKeyOnly, notReservedKey],
  validity: { backdateSeconds: 60 },
  recorded: 'certificate',
  status: { ocspPresigned: false, crl: false, tenantRevocable: false },
  replaysIdenticalRequest: false,
  requiresActiveIssuer: false,
  extensions(issuer) {
    const fixed = [basicConstraints(false), keyUsage(['digitalSignature']), extKeyUsage([OID.kpOcspSigning]), extension(OID.ocspNoCheck, false, nullDer())];
    const aki = authorityKeyIdentifier(issuer.keyIdentifier);
    return ({ publicKey }) => [...fixed, subjectKeyIdentifier(keyIdentifier(publicKey.common.publicKey)), aki];
  },
  subjectAttributes: (issuer) => [
    { oid: OID.organizationName, value: issuer.organization },
    { oid: OID.commonName, value: `OCSP Signer ${issuer.id}` },
  ],
};
