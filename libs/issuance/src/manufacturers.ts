import { X509Certificate } from 'node:crypto';
import type { RuleViolation } from '@evpki/service';
import type { ManufacturerMapping, ManufacturerRecord, ManufacturerRevocation } from '@evpki/store';
import { pemBlocks, sha256Hex, toPem } from '@evpki/x509';

/**
 * A tenant's trusted manufacturers (issue 21, zero-touch onboarding): what `pki manufacturers add`
 * and POST /v1/manufacturers accept, checked here once for both, and how a record is shown.
 * No I/O: the caller reads the files or the request body.
 */

/** Product rules of a manufacturer's definition. */
export const ManufacturerRule = {
  name: 'Manufacturer.name',
  /** Roots are self-issued CA certificates, intermediates CA certificates: never a device certificate. */
  root: 'Manufacturer.root',
  intermediate: 'Manufacturer.intermediate',
  revocation: 'Manufacturer.revocation',
  mapping: 'Manufacturer.mapping',
} as const;

/** A manufacturer's name within its tenant. */
export const MANUFACTURER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** At most this many roots and intermediates each (a manufacturer's PKI, not a trust store). */
export const MANUFACTURER_MAX_CERTIFICATES = 16;
/** Subject attributes a serial number or a model may be read from, by their short names. */
export const NAME_ATTRIBUTE_OIDS: Readonly<Record<string, string>> = {
  CN: '2.5.4.3',
  serialNumber: '2.5.4.5',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  title: '2.5.4.12',
  description: '2.5.4.13',
  name: '2.5.4.41',
  pseudonym: '2.5.4.65',
};
const DOTTED_OID = /^[0-2](\.(0|[1-9][0-9]{0,9})){1,20}$/;

/** What a manufacturer is made of, as the CLI and the API receive it (certificates as PEM text). */
export interface ManufacturerInput {
  readonly tenant: string;
  readonly name: string;
  /** PEM text holding one or more root CA certificates. */
  readonly roots: string;
  /** PEM text holding intermediate CA certificates (may be empty). */
  readonly intermediates?: string;
  readonly crlUrls?: readonly string[];
  readonly crlDistributionPoints?: boolean;
  readonly ocsp?: boolean;
  readonly failOpen?: boolean;
  readonly serialFrom?: string;
  /** 'any' or the allowed models. */
  readonly models?: 'any' | readonly string[];
  readonly modelFrom?: string;
  readonly autoRegister?: boolean;
}

/** The record, or every reason it cannot be one. */
export function manufacturerFromInput(input: ManufacturerInput, now: Date): { record: ManufacturerRecord } | { violations: RuleViolation[] } {
  const violations: RuleViolation[] = [];
  const bad = (rule: string, message: string): void => void violations.push({ rule, message });
  if (!MANUFACTURER_NAME.test(input.name)) bad(ManufacturerRule.name, `manufacturer name "${input.name.slice(0, 80)}" must be 1-64 characters A-Z, a-z, 0-9, '.', '_', '-', starting with a letter or digit`);
  const roots = caCertificates(input.roots, 'root', bad);
  if (roots.length === 0 && !violations.some((v) => v.rule === ManufacturerRule.root)) bad(ManufacturerRule.root, 'no root certificate given (PEM "CERTIFICATE" blocks)');
  const intermediates = input.intermediates ? caCertificates(input.intermediates, 'intermediate', bad) : [];
  const revocation = revocationOf(input, bad);
  const mapping = mappingOf(input, bad);
  if (violations.length) return { violations };
  const at = now.toISOString();
  return {
    record: {
      tenant: input.tenant,
      name: input.name,
      roots,
      intermediates,
      revocation,
      mapping,
      autoRegister: input.autoRegister ?? false,
      createdAt: at,
      updatedAt: at,
    },
  };
}

/** The CA certificates of a PEM text: roots must be self-issued and self-signed; none may be an end entity. */
function caCertificates(pem: string, kind: 'root' | 'intermediate', bad: (rule: string, message: string) => void): Buffer[] {
  const rule = kind === 'root' ? ManufacturerRule.root : ManufacturerRule.intermediate;
  let blocks: Buffer[];
  try {
    blocks = pemBlocks(pem, 'CERTIFICATE');
  } catch (e) {
    bad(rule, `${kind} certificates: ${(e as Error).message}`);
    return [];
  }
  if (blocks.length > MANUFACTURER_MAX_CERTIFICATES) {
    bad(rule, `at most ${MANUFACTURER_MAX_CERTIFICATES} ${kind} certificates`);
    return [];
  }
  const out: Buffer[] = [];
  for (const der of blocks) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch (e) {
      bad(rule, `a ${kind} certificate cannot be read: ${(e as Error).message}`);
      continue;
    }
    const who = `${kind} "${cert.subject.replace(/\n/g, ', ')}"`;
    if (!cert.ca) {
      bad(rule, `${who} is not a CA certificate (basicConstraints cA is not true): give the manufacturer's ${kind} CA certificate, not a device certificate`);
      continue;
    }
    if (kind === 'root' && !(cert.checkIssued(cert) && cert.verify(cert.publicKey))) {
      bad(rule, `${who} is not self-signed: a trust anchor is the manufacturer's root (give its issuing CAs with --intermediate)`);
      continue;
    }
    out.push(Buffer.from(der));
  }
  return out;
}

function revocationOf(input: ManufacturerInput, bad: (rule: string, message: string) => void): ManufacturerRevocation {
  const crlUrls = input.crlUrls ?? [];
  for (const u of crlUrls) {
    let url: URL | undefined;
    try {
      url = new URL(u);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password) bad(ManufacturerRule.revocation, `CRL URL "${u.slice(0, 200)}" must be an http or https URL without credentials`);
  }
  if (crlUrls.length > 8) bad(ManufacturerRule.revocation, 'at most 8 CRL URLs');
  return {
    ...(crlUrls.length ? { crlUrls: [...crlUrls] } : {}),
    ...(input.crlDistributionPoints ? { crlDistributionPoints: true } : {}),
    ...(input.ocsp ? { ocsp: true } : {}),
    failMode: input.failOpen ? 'open' : 'closed',
  };
}

function mappingOf(input: ManufacturerInput, bad: (rule: string, message: string) => void): ManufacturerMapping {
  const serialFrom = input.serialFrom ?? 'CN';
  if (serialFrom !== 'CN' && serialFrom !== 'serialNumber') bad(ManufacturerRule.mapping, `the serial number comes from CN or serialNumber, not "${serialFrom.slice(0, 40)}"`);
  const models = input.models ?? 'any';
  if (models !== 'any') {
    if (models.length === 0 || models.length > 256) bad(ManufacturerRule.mapping, 'models: "any", or 1 to 256 model names');
    for (const m of models) if (m.length === 0 || m.length > 128) bad(ManufacturerRule.mapping, 'a model name is 1-128 characters');
    if (input.modelFrom === undefined) bad(ManufacturerRule.mapping, 'allowed models need the field the model comes from (a subject attribute such as OU or title, or ext:<OID>)');
  }
  if (input.modelFrom !== undefined && !modelSource(input.modelFrom)) {
    bad(ManufacturerRule.mapping, `model field "${input.modelFrom.slice(0, 80)}" must be a subject attribute (${Object.keys(NAME_ATTRIBUTE_OIDS).join(', ')} or a dotted OID) or ext:<dotted OID>`);
  }
  return { serialFrom: serialFrom === 'serialNumber' ? 'serialNumber' : 'CN', models: models === 'any' ? 'any' : [...models], ...(input.modelFrom !== undefined ? { modelFrom: input.modelFrom } : {}) };
}

/** Where a model is read: a subject attribute's OID, or an extension's OID. */
export function modelSource(field: string): { readonly attribute: string } | { readonly extension: string } | undefined {
  if (field.startsWith('ext:')) return DOTTED_OID.test(field.slice(4)) ? { extension: field.slice(4) } : undefined;
  const oid = NAME_ATTRIBUTE_OIDS[field] ?? (DOTTED_OID.test(field) ? field : undefined);
  return oid ? { attribute: oid } : undefined;
}

/** A manufacturer as the CLI (--json) and the API show it: certificates PEM, with their subjects and fingerprints. */
export function manufacturerView(m: ManufacturerRecord) {
  const cert = (der: Buffer) => {
    const x = new X509Certificate(der);
    return { subject: x.subject.replace(/\n/g, ', '), sha256Fingerprint: sha256Hex(der), notAfter: new Date(x.validTo).toISOString(), certificate: toPem('CERTIFICATE', der) };
  };
  return {
    name: m.name,
    roots: m.roots.map(cert),
    intermediates: m.intermediates.map(cert),
    revocation: { ...m.revocation },
    mapping: { ...m.mapping },
    autoRegister: m.autoRegister,
    createdAt: m.createdAt,
    updatedAt: m.updatedAt,
  };
}
export type ManufacturerView = ReturnType<typeof manufacturerView>;
