/**
 * CRLs for 6.1.3(a)(3): strict reading and the reasons a CRL cannot be used. This library supports
 * complete, direct CRLs only: a CRL with an issuingDistributionPoint, a deltaCRLIndicator, an
 * unknown critical extension or a critical entry extension is unusable (RFC 5280 5.2, 5.3), as is
 * one without a CRL number (5.2.3) or a nextUpdate (5.1.2.5).
 */
import { createHash } from 'node:crypto';
import { DerError, Tag, bitStringBytes, children, decodeOid, decodeTime, expectTag, parseName, raw, readOnly, type ParsedName, type Tlv } from '@evpki/x509';
import { nameKey } from './names.js';

export interface ParsedCrl {
  readonly der: Buffer;
  readonly hash: string;
  readonly tbs: Buffer;
  readonly signatureAlgorithm: Buffer;
  readonly signature: Buffer;
  readonly issuer: ParsedName;
  readonly issuerKey: string;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly akiKeyId?: Buffer;
  /** Revoked serial numbers, hex of the INTEGER contents. */
  readonly revoked: ReadonlySet<string>;
  /** Why the CRL cannot be used whatever its issuer (empty when it can). */
  readonly unusable: readonly string[];
}

const CRL_NUMBER = '2.5.29.20';
const DELTA_CRL_INDICATOR = '2.5.29.27';
const ISSUING_DISTRIBUTION_POINT = '2.5.29.28';
const AKI = '2.5.29.35';
const KNOWN_CRL_EXTENSIONS = new Set([CRL_NUMBER, AKI, '2.5.29.18' /* issuerAltName */, '1.3.6.1.5.5.7.1.1' /* AIA */]);

interface Ext { oid: string; critical: boolean; value: Buffer }

function readExts(t: Tlv): Ext[] {
  return children(expectTag(children(t, 1)[0], Tag.SEQUENCE, 'Extensions'), 64).map((e) => {
    const p = children(expectTag(e, Tag.SEQUENCE, 'Extension'), 3);
    const critical = p.length === 3 && p[1]!.tag === Tag.BOOLEAN && p[1]!.value[0] === 0xff;
    return { oid: decodeOid(expectTag(p[0], Tag.OID, 'extnID').value), critical, value: expectTag(p[p.length - 1], Tag.OCTET_STRING, 'extnValue').value };
  });
}

export function readCrl(der: Buffer): ParsedCrl {
  const top = readOnly(der, Tag.SEQUENCE);
  const [tbsT, algT, sigT, extra] = children(top, 4);
  if (extra) throw new DerError('CertificateList has extra elements');
  const f = children(expectTag(tbsT, Tag.SEQUENCE, 'tbsCertList'), 8);
  const unusable: string[] = [];
  let i = 0;
  let v2 = false;
  if (f[0]?.tag === Tag.INTEGER) {
    if (f[0].value.length !== 1 || f[0].value[0] !== 1) throw new DerError('CRL version must be v2');
    v2 = true;
    i++;
  }
  const tbsAlg = raw(tbsT!.value, expectTag(f[i++], Tag.SEQUENCE, 'signature'));
  const issuer = parseName(raw(tbsT!.value, expectTag(f[i++], Tag.SEQUENCE, 'issuer')));
  const thisT = f[i++];
  if (!thisT) throw new DerError('thisUpdate missing');
  const thisUpdate = decodeTime(thisT);
  let nextUpdate: Date | undefined;
  if (f[i] && (f[i]!.tag === Tag.UTCTime || f[i]!.tag === Tag.GeneralizedTime)) nextUpdate = decodeTime(f[i++]!);
  const revoked = new Set<string>();
  if (f[i]?.tag === Tag.SEQUENCE) {
    for (const entry of children(f[i++]!, 1_000_000)) {
      const [serial, date, entryExts] = children(expectTag(entry, Tag.SEQUENCE, 'revokedCertificate'), 3);
      revoked.add(expectTag(serial, Tag.INTEGER, 'userCertificate').value.toString('hex'));
      decodeTime(date!);
      if (entryExts) {
        const exts = children(expectTag(entryExts, Tag.SEQUENCE, 'crlEntryExtensions'), 16);
        for (const e of exts) {
          const p = children(e, 3);
          if (p.length === 3 && p[1]!.value[0] === 0xff) unusable.push('a critical CRL entry extension (indirect CRLs are not supported, 5.3)');
        }
      }
    }
  }
  let akiKeyId: Buffer | undefined;
  let crlNumber = false;
  if (f[i]?.tag === 0xa0) {
    if (!v2) unusable.push('extensions in a v1 CRL (5.1.2.1)');
    for (const e of readExts(f[i++]!)) {
      if (e.oid === CRL_NUMBER) {
        crlNumber = true;
        if (e.critical) unusable.push('cRLNumber is critical (5.2.3: non-critical)');
      } else if (e.oid === ISSUING_DISTRIBUTION_POINT) unusable.push('issuingDistributionPoint scopes are not supported (5.2.5)');
      else if (e.oid === DELTA_CRL_INDICATOR) unusable.push('delta CRLs are not supported (5.2.4)');
      else if (e.oid === AKI) akiKeyId = children(readOnly(e.value, Tag.SEQUENCE), 3).find((x) => x.tag === 0x80)?.value;
      else if (e.critical && !KNOWN_CRL_EXTENSIONS.has(e.oid)) unusable.push(`unknown critical CRL extension ${e.oid} (5.2)`);
    }
  }
  if (i !== f.length) throw new DerError('unexpected field in tbsCertList');
  if (!crlNumber) unusable.push('no cRLNumber (5.2.3)');
  if (!nextUpdate) unusable.push('no nextUpdate (5.1.2.5)');
  const signatureAlgorithm = raw(top.value, expectTag(algT, Tag.SEQUENCE, 'signatureAlgorithm'));
  if (!signatureAlgorithm.equals(tbsAlg)) unusable.push('signatureAlgorithm differs from the tbsCertList signature field (5.1.1.2)');
  return {
    der,
    hash: createHash('sha256').update(der).digest('hex'),
    tbs: raw(top.value, tbsT!),
    signatureAlgorithm,
    signature: bitStringBytes(expectTag(sigT, Tag.BIT_STRING, 'signatureValue').value),
    issuer,
    issuerKey: nameKey(issuer),
    thisUpdate,
    ...(nextUpdate ? { nextUpdate } : {}),
    ...(akiKeyId ? { akiKeyId } : {}),
    revoked,
    unusable,
  };
}
