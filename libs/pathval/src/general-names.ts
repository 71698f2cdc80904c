/**
 * GeneralNames (RFC 5280 4.2.1.6) and name constraints (4.2.1.10): decoding with syntax checks,
 * and the matching rules of 6.1.3(b),(c) for dNSName, rfc822Name, URI, iPAddress and
 * directoryName. Other name forms (otherName, x400Address, ediPartyName, registeredID) are not
 * matched: a certificate holding one under a constraint of the same form is refused.
 */
import { DerError, Tag, children, readOnly, type Tlv } from '@evpki/x509';
import { parseName, type ParsedName } from '@evpki/x509';
import { nameWithin } from './names.js';

export type GeneralName =
  | { readonly kind: 'email' | 'dns' | 'uri'; readonly text: string }
  | { readonly kind: 'ip'; readonly octets: Buffer }
  | { readonly kind: 'dn'; readonly name: ParsedName }
  | { readonly kind: 'other'; readonly tag: number };

export interface NameConstraints {
  readonly permitted: readonly GeneralName[];
  readonly excluded: readonly GeneralName[];
}

const KNOWN_TAGS = new Set([0xa0, 0x81, 0x82, 0xa3, 0xa4, 0xa5, 0x86, 0x87, 0x88]);
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/** Preferred name syntax (RFC 1034 3.5 as relaxed by RFC 1123 2.1), with an optional leading `*.` label when `wildcard`. */
export function isHostname(s: string, wildcard = false): boolean {
  if (wildcard && s.startsWith('*.')) s = s.slice(2);
  if (s.length === 0 || s.length > 253) return false;
  return s.split('.').every((l) => LABEL.test(l));
}

/** An RFC 5321 mailbox in the dot-atom form, the only form 4.2.1.6 expects in rfc822Name. */
export function isMailbox(s: string): boolean {
  const at = s.lastIndexOf('@');
  if (at <= 0) return false;
  const local = s.slice(0, at);
  return /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(local) && isHostname(s.slice(at + 1));
}

function ia5(t: Tlv): string {
  const s = t.value.toString('latin1');
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(s)) throw new DerError('IA5String holds non-ASCII octets');
  return s;
}

function readGeneralName(t: Tlv): GeneralName {
  if (!KNOWN_TAGS.has(t.tag)) throw new DerError(`tag 0x${t.tag.toString(16)} is not a GeneralName`);
  switch (t.tag) {
    case 0x81:
      return { kind: 'email', text: ia5(t) };
    case 0x82:
      return { kind: 'dns', text: ia5(t) };
    case 0x86:
      return { kind: 'uri', text: ia5(t) };
    case 0x87:
      return { kind: 'ip', octets: t.value };
    case 0xa4: {
      const inner = children(t, 1)[0];
      if (!inner) throw new DerError('empty directoryName');
      return { kind: 'dn', name: parseName(t.value.subarray(inner.start, inner.end)) };
    }
    default:
      return { kind: 'other', tag: t.tag };
  }
}

/** subjectAltName names, each checked against its syntax (4.2.1.6): a malformed one throws. */
export function parseGeneralNames(seqT: Tlv): GeneralName[] {
  return children(seqT, 256).map((t) => {
    const gn = readGeneralName(t);
    if (gn.kind === 'dns' && !isHostname(gn.text, true)) throw new DerError(`dNSName "${gn.text}" is not in the preferred name syntax`);
    if (gn.kind === 'email' && !isMailbox(gn.text)) throw new DerError(`rfc822Name "${gn.text}" is not a mailbox`);
    if (gn.kind === 'ip' && gn.octets.length !== 4 && gn.octets.length !== 16) throw new DerError(`iPAddress of ${gn.octets.length} octets`);
    if (gn.kind === 'uri' && !/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(gn.text)) throw new DerError(`URI "${gn.text}" is not a URI`);
    return gn;
  });
}

function isContiguousMask(mask: Buffer): boolean {
  let bits = '';
  for (const b of mask) bits += b.toString(2).padStart(8, '0');
  return /^1*0*$/.test(bits);
}

function readSubtrees(t: Tlv): GeneralName[] {
  const out: GeneralName[] = [];
  for (const st of children(t, 256)) {
    const [base, ...rest] = children(st, 3);
    if (!base) throw new DerError('GeneralSubtree without base');
    if (rest.length) throw new DerError('minimum and maximum must be absent (4.2.1.10)');
    const gn = readGeneralName(base);
    if (gn.kind === 'dns' && gn.text !== '' && !isHostname(gn.text)) throw new DerError(`dNSName constraint "${gn.text}" is not a domain name`);
    if (gn.kind === 'email') {
      const host = gn.text.includes('@') ? gn.text.slice(gn.text.lastIndexOf('@') + 1) : gn.text.replace(/^\./, '');
      if ((gn.text.includes('@') && !isMailbox(gn.text)) || !isHostname(host)) throw new DerError(`rfc822Name constraint "${gn.text}" is neither a mailbox nor a host`);
    }
    if (gn.kind === 'uri' && !isHostname(gn.text.replace(/^\./, ''))) throw new DerError(`URI constraint "${gn.text}" is not a host or domain`);
    if (gn.kind === 'ip') {
      if (gn.octets.length !== 8 && gn.octets.length !== 32) throw new DerError(`iPAddress constraint of ${gn.octets.length} octets`);
      if (!isContiguousMask(gn.octets.subarray(gn.octets.length / 2))) throw new DerError('iPAddress constraint mask is not contiguous');
    }
    out.push(gn);
  }
  if (out.length === 0) throw new DerError('empty GeneralSubtrees');
  return out;
}

export function parseNameConstraints(value: Buffer): NameConstraints {
  let permitted: GeneralName[] = [];
  let excluded: GeneralName[] = [];
  const fields = children(readOnly(value, Tag.SEQUENCE), 2);
  if (fields.length === 0) throw new DerError('nameConstraints holds neither permittedSubtrees nor excludedSubtrees');
  for (const f of fields) {
    if (f.tag === 0xa0) permitted = readSubtrees(f);
    else if (f.tag === 0xa1) excluded = readSubtrees(f);
    else throw new DerError('unexpected field in nameConstraints');
  }
  return { permitted, excluded };
}

const lower = (s: string): string => s.toLowerCase();

function dnsWithin(name: string, c: string): boolean {
  name = lower(name);
  c = lower(c);
  return c === '' || name === c || name.endsWith('.' + c);
}

function emailWithin(mailbox: string, c: string): boolean {
  const at = mailbox.lastIndexOf('@');
  const local = mailbox.slice(0, at);
  const host = lower(mailbox.slice(at + 1));
  if (c.includes('@')) {
    const cat = c.lastIndexOf('@');
    return c.slice(0, cat) === local && lower(c.slice(cat + 1)) === host;
  }
  return c.startsWith('.') ? host.endsWith(lower(c)) : host === lower(c);
}

function uriHost(uri: string): string | undefined {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/?#]*@)?([^:/?#[\]]+)(?::\d*)?(?:[/?#]|$)/.exec(uri);
  return m?.[1];
}

function ipWithin(ip: Buffer, c: Buffer): boolean {
  const n = c.length / 2;
  if (ip.length !== n) return false;
  for (let i = 0; i < n; i++) if ((ip[i]! & c[n + i]!) !== (c[i]! & c[n + i]!)) return false;
  return true;
}

/** Whether `name` lies within the subtree `c`: undefined when the two are of different forms. */
export function within(name: GeneralName, c: GeneralName): boolean | undefined {
  if (name.kind !== c.kind) return undefined;
  switch (name.kind) {
    case 'dns':
      return dnsWithin(name.text, (c as typeof name).text);
    case 'email':
      return emailWithin(name.text, (c as typeof name).text);
    case 'uri': {
      const host = uriHost(name.text);
      const ct = lower((c as typeof name).text);
      if (host === undefined) return false;
      return ct.startsWith('.') ? lower(host).endsWith(ct) : lower(host) === ct;
    }
    case 'ip':
      return ipWithin(name.octets, (c as typeof name).octets);
    case 'dn':
      return nameWithin(name.name, (c as typeof name).name);
    case 'other':
      return undefined;
  }
}

/**
 * Whether an excluded subtree may cover `name`. A wildcard dNSName `*.example.com` is treated as
 * every name it would accept (CVE-2025-61727): excluding `bar.example.com` excludes it.
 */
export function excludedBy(name: GeneralName, c: GeneralName): boolean {
  if (within(name, c)) return true;
  if (name.kind === 'dns' && c.kind === 'dns' && name.text.startsWith('*.')) {
    const base = lower(name.text.slice(2));
    const ct = lower(c.text);
    const dot = ct.indexOf('.');
    return dot > 0 && ct.slice(dot + 1) === base;
  }
  return false;
}

export const sameForm = (a: GeneralName, b: GeneralName): boolean => a.kind === b.kind && (a.kind !== 'other' || a.tag === (b as { tag: number }).tag);

export function describe(gn: GeneralName): string {
  switch (gn.kind) {
    case 'dns':
    case 'email':
    case 'uri':
      return `${gn.kind}:${gn.text}`;
    case 'ip':
      return `ip:${gn.octets.toString('hex')}`;
    case 'dn':
      return `dn:${gn.name.rdns.flat().map((a) => a.value).join('/')}`;
    case 'other':
      return `name form 0x${gn.tag.toString(16)}`;
  }
}
