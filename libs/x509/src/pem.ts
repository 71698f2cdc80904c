import { DerError } from './der.js';

/** PEM armour (RFC 7468, strict form) around DER. A00.FR.507: certificates travel as PEM. */
export function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += b64.slice(i, i + 64) + '\n';
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/**
 * The DER of the single PEM block labelled `labels[i]` in `text`. Refuses other labels, several
 * blocks, bad base64 and text around the block (other than whitespace).
 */
export function fromPem(text: string, labels: readonly string[]): { label: string; der: Buffer } {
  const m = /^\s*-----BEGIN ([A-Z0-9 ]{1,40})-----\r?\n([A-Za-z0-9+/=\s]*?)-----END ([A-Z0-9 ]{1,40})-----\s*$/.exec(text);
  if (!m || m[1] !== m[3]) throw new DerError('not a single PEM block');
  const label = m[1]!;
  if (!labels.includes(label)) throw new DerError(`PEM label "${label}" is not one of ${labels.join(', ')}`);
  const b64 = m[2]!.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) throw new DerError('bad base64 in PEM');
  return { label, der: Buffer.from(b64, 'base64') };
}

/** All PEM blocks of a label in a bundle, in order (chains, trust stores). */
export function pemBlocks(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}
