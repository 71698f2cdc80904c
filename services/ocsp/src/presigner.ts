import { encodeCertId, type CertIdHash } from '@evpki/ocsp';
import type { Logger } from '@evpki/service';
import type { OcspResponseRecord, OcspStore } from '@evpki/store';
import { serialFromHex } from '@evpki/x509';
import { etagOf, signedStatusOf, statusOf, type Responder } from './responder.js';
import type { DelegatedSigners, ServedIssuer } from './signers.js';

/** CertID hashes signed ahead: SHA-256 (what charge points send) and SHA-1 (RFC 5019 clients). */
const PRESIGNED_HASHES: readonly CertIdHash[] = ['sha256', 'sha1'];
const BATCH = 256;
const IN_FLIGHT = 32;
/** A claimed certificate not re-signed within this (e.g. its instance died) is taken by another. */
const CLAIM_LEASE_MS = 60_000;

export interface PresignerOptions {
  readonly store: OcspStore;
  readonly signers: DelegatedSigners;
  readonly responder: Responder;
  readonly issuers: () => ReadonlyMap<string, ServedIssuer>;
  readonly now: () => Date;
  readonly log: Logger;
}

/**
 * Makes the pre-signed responses that requests without a nonce are answered from: for new
 * certificates, for revoked ones (the revocation queued them), and again at half of each
 * response's life, so that a fresh response always reaches days ahead. Expired certificates
 * leave the schedule; a request for one is still answered, signed at that moment.
 */
export class Presigner {
  /**
   * When a run last left nothing due (epoch ms; the start until then): every pre-signed answer due
   * by then was re-signed (pki_ocsp_presigned_oldest_age_seconds).
   */
  private drainedAt: number;

  constructor(private readonly o: PresignerOptions) {
    this.drainedAt = o.now().getTime();
  }

  /**
   * An upper bound of the age of the oldest pre-signed answer, in seconds, without reading the store:
   * an answer is re-signed when half its life (at most `lifetimeSeconds`, OCSP_NEXT_UPDATE_HOURS) is
   * over, so after the last drain none was older than half a life, and since then all have aged
   * by the time elapsed. It grows without limit when the pre-signer stops keeping up.
   */
  oldestAgeSeconds(lifetimeSeconds: number): number {
    return lifetimeSeconds / 2 + Math.max(0, this.o.now().getTime() - this.drainedAt) / 1000;
  }

  /** Signs everything due now; returns how many certificates were handled. */
  async runOnce(): Promise<number> {
    let handled = 0;
    for (;;) {
      const now = this.o.now();
      // Claimed, so that several responder instances do not sign the same certificates.
      const due = await this.o.store.claimOcspDue(now.getTime(), BATCH, CLAIM_LEASE_MS);
      // Several in flight: with a networked store each certificate costs round trips, not CPU.
      let progressed = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(IN_FLIGHT, due.length) }, async () => {
          while (next < due.length) if (await this.presign(due[next++]!.serial, now)) progressed++;
        }),
      );
      handled += progressed;
      if (due.length < BATCH && progressed === due.length) this.drainedAt = now.getTime();
      if (due.length < BATCH || progressed === 0) return handled;
    }
  }

  private async presign(serial: string, now: Date): Promise<boolean> {
    const cert = await this.o.store.getCertificate(serial);
    if (!cert) return false;
    const signed = signedStatusOf(cert);
    const issuer = this.o.issuers().get(cert.issuerId);
    // An issuer this responder no longer serves (retired): nothing to pre-sign, ever.
    if (!issuer) return this.o.store.putOcspResponses(serial, signed, [], { nextDue: undefined });
    const signer = this.o.signers.get(issuer.id);
    if (!signer) return false; // no signer yet: due again when the claim lapses
    const nextUpdate = this.o.responder.nextUpdate(now, signer.certificate.notAfter);
    const serialBytes = serialFromHex(serial);
    const records: OcspResponseRecord[] = PRESIGNED_HASHES.map((hash) => {
      const certId = encodeCertId(hash, issuer.hashes[hash].name, issuer.hashes[hash].key, serialBytes);
      const der = signer.sign([{ certId, status: statusOf(cert), thisUpdate: now, nextUpdate }], { producedAt: now });
      return { issuerId: issuer.id, serial, hash, certId, der, thisUpdate: now.getTime(), nextUpdate: nextUpdate.getTime(), etag: etagOf(der), tenant: cert.tenant };
    });
    const expired = new Date(cert.notAfter) < now;
    const nextDue = expired ? undefined : now.getTime() + (nextUpdate.getTime() - now.getTime()) / 2;
    // A revocation committed since the read above wins: nothing is written and it stays due.
    return this.o.store.putOcspResponses(serial, signed, records, { nextDue });
  }
}
