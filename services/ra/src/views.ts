import type { CertificateRecord, IssuerRecord, StationRecord } from '@evpki/store';
import { OID, attributeValues, certificateHashData, parseCertificate, nameToString, sha256Hex, toPem } from '@evpki/x509';

/** API shapes (openapi.yaml) of stored records. */
export function stationView(s: StationRecord) {
  return {
    stationId: s.stationId,
    serialNumber: s.serialNumber,
    ...(s.model === undefined ? {} : { model: s.model }),
    allowed: s.allowed,
    ...(s.seccIds?.length ? { seccIds: [...s.seccIds] } : {}),
    ...(s.manufacturer ? { manufacturer: { ...s.manufacturer } } : {}),
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

export function certificateView(c: CertificateRecord, now: Date) {
  const status = c.status === 'revoked' ? 'revoked' : new Date(c.notAfter) < now ? 'expired' : 'good';
  return {
    serialNumber: c.serial,
    certificateType: c.kind,
    ...(c.stationId ? { stationId: c.stationId } : {}),
    issuerId: c.issuerId,
    subject: c.subject,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    issuedAt: c.issuedAt,
    status,
    sha256Fingerprint: c.sha256Fingerprint,
    spkiSha256: c.spkiSha256,
    certificate: toPem('CERTIFICATE', c.der),
    ...(c.revokedAt ? { revokedAt: c.revokedAt } : {}),
    ...(c.revocationReason ? { revocationReason: c.revocationReason } : {}),
  };
}

/** A root as InstallCertificate.req needs it, with its OCPP CertificateHashData (SHA-256). */
/** A V2G root as the OPCP root certificate pool lists it (caCertificate: base64 DER). */
export function opcpRootView(r: IssuerRecord) {
  const cert = parseCertificate(r.certificate);
  const cn = attributeValues(cert.subject, OID.commonName)[0];
  const o = attributeValues(cert.subject, OID.organizationName)[0];
  return {
    rootCertificateId: r.id,
    rootType: 'V2G',
    caCertificate: r.certificate.toString('base64'),
    distinguishedName: nameToString(cert.subject),
    ...(cn === undefined ? {} : { commonName: cn }),
    ...(o === undefined ? {} : { organizationName: o }),
    validFrom: cert.notBefore.toISOString(),
    validTo: cert.notAfter.toISOString(),
  };
}

export function trustAnchorView(r: IssuerRecord) {
  const cert = parseCertificate(r.certificate);
  return {
    id: r.id,
    certificate: toPem('CERTIFICATE', r.certificate),
    subject: nameToString(cert.subject),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    sha256Fingerprint: sha256Hex(r.certificate),
    certificateHashData: certificateHashData(cert, cert),
    state: r.state === 'published' ? 'published' : r.state === 'retiring' ? 'retiring' : 'active',
    // This root's name and key signed by the other root of a rotation: an intermediate for devices
    // that trust only the other one.
    crossCertificates: (r.crossCertificates ?? []).map((der) => toPem('CERTIFICATE', der)),
  };
}
