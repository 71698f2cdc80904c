import { Tag, children, decodeOid, decodeTime, expectTag, readOnly, type Tlv } from './der.js';
import type { ParsedCertificate } from './certificate.js';
import { OID } from './oids.js';

/**
 * Where a certificate says its revocation status is (RFC 5280 4.2.1.13 CRL distribution points,
 * 4.2.2.1 AIA id-ad-ocsp), and the validity of a CRL (RFC 5280 5.1.2.4-5), read with the strict DER
 * reader. Only URIs (GeneralName [6]); anything malformed reads as none.
 */

const URI_TAG = 0x86;

/** The URIs of the certificate's CRL distribution points (fullName only). */
export function crlDistributionUris(cert: ParsedCertificate): string[] {
  const ext = cert.extensions.find((e) => e.oid === OID.crlDistributionPoints);
  if (!ext) return [];
  try {
    const out: string[] = [];
    for (const dp of children(readOnly(ext.value, Tag.SEQUENCE), 16)) {
      const name = children(expectTag(dp, Tag.SEQUENCE, 'DistributionPoint'), 3).find((c) => c.tag === 0xa0);
      const full = name ? children(name, 1).find((c) => c.tag === 0xa0) : undefined;
      if (full) out.push(...uris(full));
    }
    return out;
  } catch {
    return [];
  }
}

/** The OCSP responder URIs of the certificate's authority information access. */
export function ocspUris(cert: ParsedCertificate): string[] {
  const ext = cert.extensions.find((e) => e.oid === OID.authorityInfoAccess);
  if (!ext) return [];
  try {
    const out: string[] = [];
    for (const ad of children(readOnly(ext.value, Tag.SEQUENCE), 16)) {
      const [method, location] = children(expectTag(ad, Tag.SEQUENCE, 'AccessDescription'), 2);
      if (decodeOid(expectTag(method, Tag.OID, 'accessMethod').value) === OID.ocsp && location?.tag === URI_TAG) out.push(location.value.toString('latin1'));
    }
    return out;
  } catch {
    return [];
  }
}

function uris(generalNames: Tlv): string[] {
  return children(generalNames, 16)
    .filter((g) => g.tag === URI_TAG)
    .map((g) => g.value.toString('latin1'));
}

/** A CRL's thisUpdate and nextUpdate (undefined when absent), or undefined when it is no CRL. */
export function crlValidity(der: Buffer): { readonly thisUpdate: Date; readonly nextUpdate?: Date } | undefined {
  try {
    const [tbs] = children(readOnly(der, Tag.SEQUENCE), 3);
    const t = children(expectTag(tbs, Tag.SEQUENCE, 'tbsCertList'), 8);
    let i = t[0]?.tag === Tag.INTEGER ? 1 : 0; // version
    i += 2; // signature, issuer
    const thisUpdate = decodeTime(t[i]!);
    const next = t[i + 1];
    const nextUpdate = next && (next.tag === Tag.UTCTime || next.tag === Tag.GeneralizedTime) ? decodeTime(next) : undefined;
    return nextUpdate ? { thisUpdate, nextUpdate } : { thisUpdate };
  } catch {
    return undefined;
  }
}
