import { createHash } from 'node:crypto';
import type { PathInput, PathVerdict } from '@evpki/pathval';
import { Rule } from '@evpki/policy';
import type { RuleViolation } from '@evpki/service';
import type { ManufacturerMapping, ManufacturerRecord, StationRecord } from '@evpki/store';
import { OID, Tag, attributeValues, children, keySha256, parseCertificate, pemBlocks, readOnly, type ParsedCertificate } from '@evpki/x509';
import { modelSource, NAME_ATTRIBUTE_OIDS } from './manufacturers.js';

/**
 * A station's manufacturer certificate chain (issue 21): validated (RFC 5280 6.1, @evpki/pathval)
 * against a tenant's manufacturers, mapped to the station it names, and checked against an
 * enrolment. No I/O: revocation material (CRLs) is fetched by the caller and passed in; the RA
 * and the CA run the same checks.
 */

export const ManufacturerChainRule = {
  /** The chain cannot be read, or the tenant trusts no manufacturer. */
  chain: 'Manufacturer.chain',
  /** Its certificate does not name a serial number as the manufacturer's mapping says. */
  mapping: 'Manufacturer.mapping',
  /** Its model is not one the manufacturer's entry allows. */
  model: 'Manufacturer.model',
  /** A CRL or OCSP responder said revoked, or could not be reached (fail-closed). */
  revocation: 'Manufacturer.revocation',
  /** A station registered through a manufacturer takes a chain only of the same manufacturer and certificate. */
  identity: 'Manufacturer.identity',
} as const;

/** At most this many certificates in a chain a station presents. */
export const MAX_MANUFACTURER_CHAIN = 8;

export interface PathValidator {
  validate(input: PathInput): Promise<PathVerdict>;
}

/** A chain that validated, and what it says of the station. */
export interface ManufacturerIdentity {
  readonly manufacturer: ManufacturerRecord;
  readonly leaf: ParsedCertificate;
  /** leaf … trust anchor, DER. */
  readonly path: readonly Buffer[];
  /** SHA-256 (hex) of the leaf's DER. */
  readonly certificateSha256: string;
  /** The station's serial number, from the leaf's subject as the mapping says. */
  readonly serialNumber: string;
  readonly model?: string;
}

export type ManufacturerChainVerdict = { readonly valid: true; readonly identity: ManufacturerIdentity } | { readonly valid: false; readonly manufacturer?: string; readonly reasons: readonly RuleViolation[] };

const refused = (rule: string, message: string, manufacturer?: string): ManufacturerChainVerdict => ({ valid: false, ...(manufacturer ? { manufacturer } : {}), reasons: [{ rule, message }] });

/** The chain's certificates (leaf first), or why it cannot be read. */
export function readManufacturerChain(chainPem: string): { readonly certs: Buffer[] } | { readonly violation: RuleViolation } {
  let certs: Buffer[];
  try {
    certs = pemBlocks(chainPem, 'CERTIFICATE');
  } catch (e) {
    return { violation: { rule: ManufacturerChainRule.chain, message: `the manufacturer certificate chain is not PEM: ${(e as Error).message}` } };
  }
  if (!certs.length) return { violation: { rule: ManufacturerChainRule.chain, message: 'the manufacturer certificate chain holds no PEM CERTIFICATE' } };
  if (certs.length > MAX_MANUFACTURER_CHAIN) return { violation: { rule: ManufacturerChainRule.chain, message: `the manufacturer certificate chain holds more than ${MAX_MANUFACTURER_CHAIN} certificates` } };
  return { certs };
}

/**
 * Validates the chain against every manufacturer of the tenant at once (their roots the trust
 * anchors, their intermediates offered with the station's), then maps the leaf to the station
 * through the manufacturer whose root anchors the path.
 */
export async function verifyManufacturerChain(
  input: { readonly chainPem: string; readonly manufacturers: readonly ManufacturerRecord[]; readonly at: Date; readonly crls?: readonly Uint8Array[] },
  validator: PathValidator,
  leaves?: LeafCache,
): Promise<ManufacturerChainVerdict> {
  const read = readManufacturerChain(input.chainPem);
  if ('violation' in read) return { valid: false, reasons: [read.violation] };
  if (!input.manufacturers.length) return refused(ManufacturerChainRule.chain, 'the tenant trusts no manufacturer (pki manufacturers add, POST /v1/manufacturers)');
  const [leafDer, ...presented] = read.certs;
  let verdict: PathVerdict;
  try {
    verdict = await validator.validate({
      leaf: leafDer!,
      intermediates: [...presented, ...input.manufacturers.flatMap((m) => m.intermediates)],
      trustAnchors: input.manufacturers.flatMap((m) => m.roots),
      at: input.at,
      ...(input.crls?.length ? { crls: input.crls } : {}),
      // The station presents it as its TLS client certificate: an extKeyUsage, when present, must allow that.
      requiredExtendedKeyUsage: [OID.kpClientAuth],
    });
  } catch (e) {
    // The validator refuses what it cannot read; anything it throws is still a refusal, never a 500.
    return refused(ManufacturerChainRule.chain, `the manufacturer certificate chain cannot be validated: ${(e as Error).message.slice(0, 200)}`);
  }
  if (!verdict.ok) return { valid: false, reasons: verdict.reasons.map((r) => ({ rule: r.rule, message: r.depth === undefined ? r.message : `${r.message} (certificate ${r.depth} of the path, 0 = the station's)` })) };
  const path = verdict.path.map((c) => Buffer.from(c));
  const anchor = path[path.length - 1]!;
  // Two entries of a tenant may share a root (e.g. one per model line): the first whose mapping takes the certificate.
  const candidates = input.manufacturers.filter((m) => m.roots.some((r) => r.equals(anchor)));
  if (!candidates.length) return refused(ManufacturerChainRule.chain, 'the path ends at a certificate that is no manufacturer root');
  let leaf: ParsedCertificate;
  let certificateSha256: string;
  try {
    ({ leaf, certificateSha256 } = leaves ? leaves.read(path[0]!) : readLeaf(path[0]!));
  } catch (e) {
    return refused(ManufacturerChainRule.chain, `the manufacturer certificate cannot be read: ${(e as Error).message}`, candidates[0]!.name);
  }
  const mappings = candidates.map((m) => ({ m, mapped: stationIdentityOf(leaf, m.mapping) }));
  const taken = mappings.find((x) => !('violation' in x.mapped));
  if (!taken || 'violation' in taken.mapped) {
    const several = mappings.length > 1;
    const reasons = mappings.flatMap((x) => ('violation' in x.mapped ? [several ? { ...x.mapped.violation, message: `${x.m.name}: ${x.mapped.violation.message}` } : x.mapped.violation] : []));
    return { valid: false, manufacturer: candidates[0]!.name, reasons };
  }
  const { m: manufacturer, mapped } = taken;
  return {
    valid: true,
    identity: {
      manufacturer,
      leaf,
      path,
      certificateSha256,
      serialNumber: mapped.serialNumber,
      ...(mapped.model === undefined ? {} : { model: mapped.model }),
    },
  };
}

function readLeaf(der: Buffer): { readonly leaf: ParsedCertificate; readonly certificateSha256: string } {
  return { leaf: parseCertificate(der), certificateSha256: createHash('sha256').update(der).digest('hex') };
}

/**
 * Station certificates already read (parsed, hashed), by their DER: a CSMS verifies the same
 * stations again and again (every TLS handshake). Bounded; the least recently used goes.
 */
export function createLeafCache(size: number) {
  const cache = new Map<string, { readonly leaf: ParsedCertificate; readonly certificateSha256: string }>();
  return {
    read(der: Buffer): { readonly leaf: ParsedCertificate; readonly certificateSha256: string } {
      const key = der.toString('latin1');
      const hit = cache.get(key);
      if (hit) {
        cache.delete(key);
        cache.set(key, hit);
        return hit;
      }
      const read = readLeaf(der);
      cache.set(key, read);
      if (cache.size > size) cache.delete(cache.keys().next().value!);
      return read;
    },
  };
}
export type LeafCache = ReturnType<typeof createLeafCache>;

/** A key as what it is (keySha256); a key the policy cannot inspect falls back to its SPKI bytes' hash. */
function keyIdentity(spki: Buffer): string {
  try {
    return keySha256(spki);
  } catch {
    return createHash('sha256').update(spki).digest('hex');
  }
}

/** The station's serial number and model as the manufacturer's mapping reads them from its certificate. */
export function stationIdentityOf(leaf: ParsedCertificate, mapping: ManufacturerMapping): { readonly serialNumber: string; readonly model?: string } | { readonly violation: RuleViolation } {
  const serials = attributeValues(leaf.subject, NAME_ATTRIBUTE_OIDS[mapping.serialFrom]!);
  if (serials.length !== 1 || !serials[0]) return { violation: { rule: ManufacturerChainRule.mapping, message: `the manufacturer certificate must have exactly one subject ${mapping.serialFrom} (the station's serial number); it has ${serials.length}` } };
  const serialNumber = serials[0];
  if (mapping.modelFrom === undefined) return { serialNumber };
  const source = modelSource(mapping.modelFrom);
  const model = source === undefined ? undefined : 'attribute' in source ? attributeValues(leaf.subject, source.attribute)[0] : extensionString(leaf, source.extension);
  if (mapping.models !== 'any' && (model === undefined || !mapping.models.includes(model))) {
    return { violation: { rule: ManufacturerChainRule.model, message: model === undefined ? `the manufacturer certificate has no model in ${mapping.modelFrom}` : `model "${model.slice(0, 128)}" is not one the manufacturer's entry allows` } };
  }
  return model === undefined ? { serialNumber } : { serialNumber, model };
}

const STRING_TAGS: ReadonlySet<number> = new Set([Tag.UTF8String, Tag.PrintableString, Tag.IA5String]);

/** An extension whose value is one DER string (UTF8String, PrintableString, IA5String), or a SEQUENCE of one; else undefined. */
function extensionString(leaf: ParsedCertificate, oid: string): string | undefined {
  const ext = leaf.extensions.find((e) => e.oid === oid);
  if (!ext?.value.length) return undefined;
  try {
    const tag = ext.value[0]!;
    if (STRING_TAGS.has(tag)) return readOnly(ext.value, tag).value.toString('utf8');
    const [first, extra] = children(readOnly(ext.value, Tag.SEQUENCE), 2);
    return first && !extra && STRING_TAGS.has(first.tag) ? first.value.toString('utf8') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An enrolment with a manufacturer chain (A00.FR.511, A02.FR.02, issue 21): the violations of a CSR
 * (its CN and canonical key hash) and the station as registered (undefined: not registered) against
 * the validated identity. `register` is the station to create in the issuance write, when the
 * station is not registered and the manufacturer auto-registers.
 */
export function checkManufacturerEnrolment(
  identity: ManufacturerIdentity,
  csr: { readonly commonNames: readonly string[]; readonly keySha256: string },
  target: { readonly tenant: string; readonly stationId: string; readonly station: StationRecord | undefined; readonly now: Date },
): { readonly violations: RuleViolation[]; readonly forbidden: boolean; readonly notFound: boolean; readonly register?: StationRecord } {
  const violations: RuleViolation[] = [];
  const { station } = target;
  if (csr.commonNames.length !== 1 || csr.commonNames[0] !== identity.serialNumber) {
    violations.push({ rule: Rule.chargePointName, message: `the CSR's CN must be the serial number the manufacturer certificate names ("${identity.serialNumber}")` });
  }
  if (csr.keySha256 === keyIdentity(identity.leaf.spki)) {
    violations.push({ rule: Rule.newKeyPair, message: "the CSR's key is the manufacturer certificate's: the station must generate a new key pair for its certificate" });
  }
  if (station && station.serialNumber !== identity.serialNumber) {
    violations.push({ rule: Rule.chargePointName, message: `the station is registered with serial number "${station.serialNumber}", the manufacturer certificate names "${identity.serialNumber}"` });
  }
  let forbidden = false;
  if (station?.manufacturer && (station.manufacturer.name !== identity.manufacturer.name || station.manufacturer.certificateSha256 !== identity.certificateSha256)) {
    forbidden = true;
    violations.push({ rule: ManufacturerChainRule.identity, message: 'the station was registered through another manufacturer certificate: only that one, or the normal flow, may re-key it' });
  }
  if (station) return { violations, forbidden, notFound: false };
  if (!identity.manufacturer.autoRegister) {
    return { violations: [...violations, { rule: Rule.registeredIdentity, message: `station is not registered for this tenant, and manufacturer ${identity.manufacturer.name} does not register stations on first enrolment` }], forbidden, notFound: true };
  }
  const at = target.now.toISOString();
  const register: StationRecord = {
    tenant: target.tenant,
    stationId: target.stationId,
    serialNumber: identity.serialNumber,
    ...(identity.model === undefined ? {} : { model: identity.model }),
    allowed: true,
    manufacturer: { name: identity.manufacturer.name, certificateSha256: identity.certificateSha256, certificateSerial: identity.leaf.serialHex },
    createdAt: at,
    updatedAt: at,
  };
  return { violations, forbidden, notFound: false, register };
}
