import { buildCrl, type CrlEntry, type TbsSigner } from '@evpki/x509';
import type { IssuerFacts } from './profile.js';
import { notPastIssuer } from './validity.js';

export interface SignedCrl {
  readonly der: Buffer;
  readonly number: number;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
}

/**
 * A CRL of `issuer` (RFC 5280 section 5): thisUpdate now (whole seconds: DER times carry seconds),
 * nextUpdate `lifetimeSeconds` ahead but never past the issuer (the one clamp). Refused when the
 * issuer has expired: a CRL past its issuer's life is not one.
 */
export async function signCrl(issuer: IssuerFacts, signer: TbsSigner, c: { number: number; entries: readonly CrlEntry[]; now: Date; lifetimeSeconds: number }): Promise<SignedCrl> {
  const thisUpdate = new Date(Math.floor(c.now.getTime() / 1000) * 1000);
  const nextUpdate = notPastIssuer(new Date(thisUpdate.getTime() + c.lifetimeSeconds * 1000), issuer.notAfter);
  if (nextUpdate <= thisUpdate) throw new Error(`issuer ${issuer.id} expired at ${issuer.notAfter?.toISOString()}: no CRL can be issued`);
  const der = await buildCrl({ signer, issuerName: issuer.name, issuerKeyId: issuer.keyIdentifier, number: c.number, thisUpdate, nextUpdate, entries: c.entries });
  return { der, number: c.number, thisUpdate, nextUpdate };
}
