import { certifiedSubjectAttributes, keyRules, serverAltNames, serverSubject } from '@evpki/policy';
import {
  OID,
  authorityInfoAccess,
  authorityKeyIdentifier,
  basicConstraints,
  extKeyUsage,
  keyIdentifier,
  keyKind,
  keyUsage,
  subjectAltName,
  subjectKeyIdentifier,
  type KeyKind,
} from '@evpki/x509';
import type { Profile } from '../profile.js';

/** Seconds of clock-skew backdating, counted inside the < 24 h (A00.FR.701). */
export const SERVER_BACKDATE_SECONDS = 60;

/**
 * CSMS server certificate (A00.FR.512, A00.FR.701): Key Usage critical digitalSignature (plus
 * keyEncipherment for RSA, not RSA-PSS), EKU serverAuth, CA:false, SKI, AKI, the names as
 * subjectAltName (the CN first), and the issuer URL. No OCSP or CRL pointers: these certificates
 * are revoked by expiring within a day. Chains to the same root the charge points trust.
 */
export const csmsServer: Profile = {
  kind: 'CSMSServerCertificate',
  requestName: 'server certificate',
  signedBy: { hierarchy: 'csms', role: 'issuing' },
  subject: 'tenant',
  checks: [keyRules, serverSubject],
  // The requested lifetime must fit whole: never shortened by the issuer's end.
  validity: { backdateSeconds: SERVER_BACKDATE_SECONDS, minSeconds: (lifetime) => lifetime },
  recorded: 'certificate',
  status: { ocspPresigned: false, crl: false, tenantRevocable: false },
  // A server certificate is replayed by Idempotency-Key only (the RA cannot compute its request hash).
  replaysIdenticalRequest: false,
  requiresActiveIssuer: true,
  extensions(issuer) {
    const caIssuers = issuer.urls?.caIssuers ?? '';
    const ku: Record<KeyKind, Buffer> = {
      ec: keyUsage(['digitalSignature']),
      rsa: keyUsage(['digitalSignature', 'keyEncipherment']),
      'rsa-pss': keyUsage(['digitalSignature']),
    };
    const head = [basicConstraints(false), extKeyUsage([OID.kpServerAuth])];
    const tail = [authorityKeyIdentifier(issuer.keyIdentifier), authorityInfoAccess({ caIssuers })];
    return ({ publicKey, csr }) => [ku[keyKind(publicKey)], ...head, subjectKeyIdentifier(keyIdentifier(publicKey.common.publicKey)), subjectAltName(serverAltNames(csr!)), ...tail];
  },
  subjectAttributes: (_issuer, s) => certifiedSubjectAttributes(s.csr!),
};
