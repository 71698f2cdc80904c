/**
 * Distinguished name comparison (RFC 5280 7.1, a practical subset of RFC 4518 string preparation):
 * attributes compare by type and by value after Unicode NFKC, case folding, trimming and collapsing
 * inner white space; the attributes of a multi-valued RDN compare as a set.
 */
import type { ParsedName } from '@evpki/x509';

const rdnKey = (rdn: ParsedName['rdns'][number]): string[] =>
  rdn.map((a) => `${a.oid}=${a.value.normalize('NFKC').toLowerCase().trim().replace(/\s+/g, ' ')}`).sort();

/** A string equal for equal names (the key name chaining and path building match on). */
export function nameKey(name: ParsedName): string {
  return JSON.stringify(name.rdns.map(rdnKey));
}

/** 4.2.1.10 directoryName constraint: `base` is `name` or a prefix of its RDN sequence. */
export function nameWithin(name: ParsedName, base: ParsedName): boolean {
  if (base.rdns.length > name.rdns.length) return false;
  return base.rdns.every((rdn, i) => JSON.stringify(rdnKey(rdn)) === JSON.stringify(rdnKey(name.rdns[i]!)));
}
