import { OID, authorityKeyIdentifier, basicConstraints, extKeyUsage, keyIdentifier, keyUsage, subjectAltName, subjectKeyIdentifier } from '@evpki/x509';
import type { Profile } from '../profile.js';
import { ceremonyNames } from './ca-extensions.js';

/**
 * Internal service TLS certificates (issue 7, RA/OCSP → CA mutual TLS), under the internal service
 * CA: CA:false, Key Usage digitalSignature, EKU serverAuth with the listener's names, or clientAuth
 * (the CA authorizes a client by its CN), SKI, AKI. No AIA or CRL pointers: only our services trust
 * the service CA, and a leaf is replaced (`pki service-certs renew`), never looked up.
 */
function serviceTls(use: 'server' | 'client'): Profile {
  return {
    kind: use === 'server' ? 'ServiceTlsServerCertificate' : 'ServiceTlsClientCertificate',
    requestName: 'service certificate',
    signedBy: { hierarchy: 'service', role: 'service-ca' },
    subject: 'ceremony',
    checks: [],
    validity: { backdateSeconds: 3600 },
    recorded: 'issuer-record',
    status: { ocspPresigned: false, crl: false, tenantRevocable: false },
    replaysIdenticalRequest: false,
    requiresActiveIssuer: false,
    extensions(issuer) {
      const aki = authorityKeyIdentifier(issuer.keyIdentifier);
      const eku = extKeyUsage([use === 'server' ? OID.kpServerAuth : OID.kpClientAuth]);
      return (s) => [
        keyUsage(['digitalSignature']),
        basicConstraints(false),
        eku,
        subjectKeyIdentifier(keyIdentifier(s.publicKey.common.publicKey)),
        aki,
        ...(use === 'server' ? [subjectAltName(s.altNames ?? { dns: [], ipOctets: [] })] : []),
      ];
    },
    subjectAttributes: (_issuer, subject) => ceremonyNames(subject),
  };
}

export const serviceTlsServer = serviceTls('server');
export const serviceTlsClient = serviceTls('client');
