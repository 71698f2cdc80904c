import { OID } from './oids.js';
import { nullDer } from './der.js';
import {
  extension,
  authorityInfoAccess,
  authorityKeyIdentifier,
  basicConstraints,
  crlDistributionPoints,
  extKeyUsage,
  keyUsage,
  subjectAltName,
  subjectKeyIdentifier,
} from './extensions.js';
import { keyIdentifier, type KeyKind } from './keys.js';

/** Where relying parties find status and issuer certificates for certificates of one issuer. */
export interface IssuerUrls {
  readonly ocsp: string;
  readonly caIssuers: string;
  readonly crl: string;
}

/** Root CA: CA:true, keyCertSign + cRLSign, self-identified. */
export function rootExtensions(publicKey: Buffer): Buffer[] {
  const kid = keyIdentifier(publicKey);
  return [basicConstraints(true), keyUsage(['keyCertSign', 'cRLSign']), subjectKeyIdentifier(kid), authorityKeyIdentifier(kid)];
}

/**
 * Cross-certificate (root rotation): another root's name and key, CA:true without a path length
 * (the issuing sub-CA below it still has pathLen 0), under `issuerKeyId`.
 */
export function crossCertificateExtensions(publicKey: Buffer, issuerKeyId: Buffer): Buffer[] {
  return [basicConstraints(true), keyUsage(['keyCertSign', 'cRLSign']), subjectKeyIdentifier(keyIdentifier(publicKey)), authorityKeyIdentifier(issuerKeyId)];
}

/** Issuing sub-CA: CA:true with pathLen 0, under `issuerKeyId`. */
export function subCaExtensions(publicKey: Buffer, issuerKeyId: Buffer, urls?: { crl?: string; caIssuers?: string }): Buffer[] {
  const exts = [
    basicConstraints(true, 0),
    keyUsage(['keyCertSign', 'cRLSign']),
    subjectKeyIdentifier(keyIdentifier(publicKey)),
    authorityKeyIdentifier(issuerKeyId),
  ];
  if (urls?.caIssuers) exts.push(authorityInfoAccess({ caIssuers: urls.caIssuers }));
  if (urls?.crl) exts.push(crlDistributionPoints(urls.crl));
  return exts;
}

/**
 * Charge point certificate profile (A00.FR.512): Key Usage critical digitalSignature plus
 * keyAgreement (EC) or keyEncipherment (RSA; not for an RSA-PSS key, which only signs, RFC 4055
 * 1.2); EKU clientAuth; CA:false; SKI, AKI; AIA with OCSP and issuer URLs; CRL distribution point.
 * Everything but the SKI is fixed per issuer, so it is encoded once here.
 */
export function chargePointProfile(issuerKeyId: Buffer, urls: IssuerUrls): (keyKind: KeyKind, publicKey: Buffer) => Buffer[] {
  const ku: Record<KeyKind, Buffer> = {
    ec: keyUsage(['digitalSignature', 'keyAgreement']),
    rsa: keyUsage(['digitalSignature', 'keyEncipherment']),
    'rsa-pss': keyUsage(['digitalSignature']),
  };
  const fixedHead = [basicConstraints(false), extKeyUsage([OID.kpClientAuth])];
  const fixedTail = [
    authorityKeyIdentifier(issuerKeyId),
    authorityInfoAccess({ ocsp: urls.ocsp, caIssuers: urls.caIssuers }),
    crlDistributionPoints(urls.crl),
  ];
  return (kind, publicKey) => [ku[kind], ...fixedHead, subjectKeyIdentifier(keyIdentifier(publicKey)), ...fixedTail];
}

/**
 * Delegated OCSP signer (RFC 6960 4.2.2.2): EKU id-kp-OCSPSigning, and id-pkix-ocsp-nocheck so
 * that clients do not ask for the signer's own status (4.2.2.2.1); its short validity is the
 * revocation mechanism.
 */
export function ocspSignerExtensions(publicKey: Buffer, issuerKeyId: Buffer): Buffer[] {
  return [
    basicConstraints(false),
    keyUsage(['digitalSignature']),
    extKeyUsage([OID.kpOcspSigning]),
    extension(OID.ocspNoCheck, false, nullDer()),
    subjectKeyIdentifier(keyIdentifier(publicKey)),
    authorityKeyIdentifier(issuerKeyId),
  ];
}

/**
 * CSMS server certificate profile (A00.FR.512, A00.FR.701): Key Usage critical digitalSignature
 * (plus keyEncipherment for RSA, not RSA-PSS), EKU serverAuth, CA:false, SKI, AKI, the names as
 * subjectAltName, and the issuer URL. No OCSP or CRL pointers: these certificates are revoked by
 * expiring within a day.
 */
export function serverProfile(issuerKeyId: Buffer, caIssuersUrl: string) {
  const ku: Record<KeyKind, Buffer> = {
    ec: keyUsage(['digitalSignature']),
    rsa: keyUsage(['digitalSignature', 'keyEncipherment']),
    'rsa-pss': keyUsage(['digitalSignature']),
  };
  const fixedHead = [basicConstraints(false), extKeyUsage([OID.kpServerAuth])];
  const fixedTail = [authorityKeyIdentifier(issuerKeyId), authorityInfoAccess({ caIssuers: caIssuersUrl })];
  return (kind: KeyKind, publicKey: Buffer, names: { dns: readonly string[]; ipOctets: readonly Buffer[] }): Buffer[] => [
    ku[kind],
    ...fixedHead,
    subjectKeyIdentifier(keyIdentifier(publicKey)),
    subjectAltName(names),
    ...fixedTail,
  ];
}

/**
 * Internal service TLS certificate (issue 7, RA/OCSP → CA mutual TLS): CA:false, Key Usage
 * digitalSignature, EKU serverAuth with the listener's names, or clientAuth (the CA authorizes a
 * client by its CN), SKI, AKI. No AIA or CRL pointers: only our services trust the service CA, and
 * a leaf is replaced (`pki service-certs renew`), never looked up.
 */
export function serviceTlsExtensions(
  publicKey: Buffer,
  issuerKeyId: Buffer,
  use: { readonly server: { readonly dns: readonly string[]; readonly ipOctets: readonly Buffer[] } } | { readonly client: true },
): Buffer[] {
  const exts = [
    keyUsage(['digitalSignature']),
    basicConstraints(false),
    extKeyUsage(['server' in use ? OID.kpServerAuth : OID.kpClientAuth]),
    subjectKeyIdentifier(keyIdentifier(publicKey)),
    authorityKeyIdentifier(issuerKeyId),
  ];
  if ('server' in use) exts.push(subjectAltName(use.server));
  return exts;
}
