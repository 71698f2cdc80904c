import { X509Certificate, createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import type { CaClient } from '@evpki/ca-client';
import { OcspResponseSigner, issuerHashes, type CertIdHash } from '@evpki/ocsp';
import { AppError, type Logger } from '@evpki/service';
import { issuingCasInService, type OcspStore } from '@evpki/store';
import { buildCsr, fromPem, parseCertificate, type ParsedCertificate } from '@evpki/x509';

/** An issuing CA this responder answers for, with its CertID hashes precomputed. */
export interface ServedIssuer {
  readonly id: string;
  readonly hierarchy: string;
  readonly cert: ParsedCertificate;
  readonly hashes: Record<CertIdHash, { name: Buffer; key: Buffer }>;
}

/**
 * Issuers whose certificates this responder answers for: charge point CAs in service, including a
 * rotation's new one before its activation (its signer is ready when the first leaf is) and old
 * ones until their last certificate expires.
 */
export async function loadServedIssuers(store: OcspStore, now: number): Promise<ServedIssuer[]> {
  return (await issuingCasInService(store, now))
    .map((i) => {
      const cert = parseCertificate(i.certificate);
      return { id: i.id, hierarchy: i.hierarchy, cert, hashes: issuerHashes(cert) };
    });
}

interface Current {
  readonly signer: OcspResponseSigner;
  /** Two thirds into the signer's life: well before responses signed with it could outlive it. */
  readonly renewAt: number;
}

/**
 * The responder's delegated signing keys, one per issuer. Each key is made here, in memory only,
 * and certified by the CA through a CSR; the responder never holds a CA key (RFC 6960 4.2.2.2).
 * A signer is renewed two thirds into its life; if renewal fails the old one stays in use and
 * the next check tries again. The CA is reached over mutual TLS with the responder's client
 * certificate (issue 7), which lets it ask for signer certificates and nothing else (CA_API.ocspSigner).
 */
export class DelegatedSigners {
  private readonly current = new Map<string, Current>();
  /** Issuers the CA said to ask again for only later (429 Retry-After), by issuer: epoch ms. */
  private readonly notBefore = new Map<string, number>();

  constructor(
    private readonly ca: Pick<CaClient, 'ocspSigner'>,
    private readonly log: Logger,
    private readonly now: () => Date,
  ) {}

  get(issuerId: string): OcspResponseSigner | undefined {
    return this.current.get(issuerId)?.signer;
  }

  /** True when every issuer has a signer that is valid now. */
  ready(issuers: readonly ServedIssuer[]): boolean {
    const t = this.now().getTime();
    return issuers.every((i) => {
      const s = this.get(i.id);
      return s !== undefined && s.certificate.notAfter.getTime() > t;
    });
  }

  /** Obtains or renews the signers that need it. Never throws; failures are logged. */
  async refresh(issuers: readonly ServedIssuer[]): Promise<void> {
    const t = this.now().getTime();
    for (const issuer of issuers) {
      const c = this.current.get(issuer.id);
      if (c && c.renewAt > t) continue;
      if ((this.notBefore.get(issuer.id) ?? 0) > t) continue;
      // A request id of its own (no request to take one from): the CA's log lines of this call and
      // the responder's below carry the same one. Given explicitly, not through withRequestId: an
      // AsyncLocalStorage once run stays enabled for the process, and its async hook then runs for
      // every async resource of every OCSP request (~1 µs of CPU each: issue 17).
      const requestId = randomUUID();
      const log = this.log.child({ requestId });
      try {
        const signer = await this.obtain(issuer, requestId);
        const { notBefore, notAfter } = signer.certificate;
        this.current.set(issuer.id, { signer, renewAt: notBefore.getTime() + ((notAfter.getTime() - notBefore.getTime()) * 2) / 3 });
        log.info({ event: 'ocsp-signer.installed', issuer: issuer.id, serial: signer.certificate.serialHex, notAfter }, 'delegated OCSP signer installed');
      } catch (err) {
        log.warn({ err, issuer: issuer.id }, 'could not obtain a delegated OCSP signer; will retry');
      }
    }
  }

  private async obtain(issuer: ServedIssuer, requestId: string): Promise<OcspResponseSigner> {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let certificate: string;
    try {
      ({ certificate } = await this.ca.ocspSigner({ issuerId: issuer.id, csr: buildCsr(privateKey, { cn: `OCSP Signer ${issuer.id}` }) }, { requestId }));
    } catch (e) {
      // Over the CA's per-issuer limit (CA_OCSP_SIGNERS_PER_ISSUER_PER_HOUR): ask again when it says.
      if (e instanceof AppError && e.kind === 'rate-limited' && e.retryAfterSeconds) this.notBefore.set(issuer.id, this.now().getTime() + e.retryAfterSeconds * 1000);
      throw e;
    }
    const der = fromPem(certificate, ['CERTIFICATE']).der;
    // Trust but verify: the certificate must be for our key and signed by the issuer we serve.
    const x = new X509Certificate(der);
    const ours = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
    if (!x.publicKey.export({ type: 'spki', format: 'der' }).equals(ours)) throw new Error('CA returned a certificate for another key');
    if (!x.verify(createPublicKey({ key: issuer.cert.spki, format: 'der', type: 'spki' }))) throw new Error('signer certificate is not signed by its issuer');
    return new OcspResponseSigner(privateKey, der);
  }
}
