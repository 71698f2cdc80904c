import type { CertificateRecord, IssuerRecord, StationRecord } from '@evpki/store';
import { certificateHashData, parseCertificate, nameToString, sha256Hex, toPem } from '@evpki/x509';

/** API shapes (openapi.yaml) of stored records. */
export function stationView(s: StationRecord) {
  return {
    stationId: s.stationId,
    serialNumber: s.serialNumber,
    ...(s.model === undefined ? {} : { model: s.model }),
    allowed: s.allowed,
    ...(s.seccIds?.length ? { seccIds: [...s.seccIds] } : {}),
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
