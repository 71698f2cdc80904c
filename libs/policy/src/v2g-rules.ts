import { OID, attributeValues, readSignatureAlgorithm } from '@evpki/x509';
import type { CsrCheck } from './csr-checks.js';
import { checkSubjectEncoding } from './csr-policy.js';
import { Rule, type Violation } from './violations.js';

/**
 * ISO 15118 (Plug&Charge) SECC certificate rules, under CPO Sub-CA 2 of a V2G PKI. Sources:
 * ISO 15118-2 Annex F (certificate profiles: P-256 with ECDSA-SHA256, DC=CPO, at most 800 bytes),
 * ISO 15118-2 Annex H and DIN SPEC 91286 (EVSEID syntax of the SECC-ID), the Plug&Charge RA
 * document 4.3 (registered SECC-IDs, allow-listed operator IDs).
 */

/** The SECC-ID (an EVSEID): country, optional '*', 3-character operator, optional '*', 'E', 1..30 characters. */
export const SECC_ID = /^[A-Za-z]{2}[*]?[A-Za-z0-9]{3}[*]?E[A-Za-z0-9*]{1,30}$/;
/** An operator ID as `pki tenants` takes it: country, optional '*', 3 characters. */
export const OPERATOR_ID = /^[A-Za-z]{2}[*]?[A-Za-z0-9]{3}$/;
/** The most DER bytes a V2G PKI certificate may have (ISO 15118-2 Annex F). */
export const V2G_MAX_CERTIFICATE_BYTES = 800;

/** An operator ID in its stored form (uppercase, with the '*': "DE*ABC"), or undefined when it is not one. */
export function normalizeOperatorId(raw: string): string | undefined {
  if (!OPERATOR_ID.test(raw)) return undefined;
  const id = raw.toUpperCase().replace('*', '');
  return `${id.slice(0, 2)}*${id.slice(2)}`;
}

/** The operator ID a SECC-ID names (normalised), or undefined when the SECC-ID has no EVSEID syntax. */
export function operatorIdOf(seccId: string): string | undefined {
  const m = /^([A-Za-z]{2})[*]?([A-Za-z0-9]{3})[*]?E/.exec(seccId);
  return m && SECC_ID.test(seccId) ? `${m[1]!.toUpperCase()}*${m[2]!.toUpperCase()}` : undefined;
}

/** SECC-IDs compare without the optional '*' separators and case-insensitively (DIN SPEC 91286). */
export const seccIdKey = (id: string): string => id.replace(/\*/g, '').toUpperCase();

/** V2G.curve: the key is EC P-256 and the CSR is signed ECDSA with SHA-256 (nothing else in a V2G PKI). */
export const v2gCurve: CsrCheck = (csr, key) => {
  const out: Violation[] = [];
  if (key && !(key.type === 'ec' && key.curve === 'P-256'))
    out.push({ rule: Rule.v2gCurve, message: `a V2G certificate key must be EC P-256 (secp256r1), not ${key.type === 'ec' ? key.curve : key.type === 'unsupported' ? key.algorithm : 'RSA'}` });
  let alg;
  try {
    alg = readSignatureAlgorithm(csr.signatureAlgorithm.oid, csr.signatureAlgorithm.params);
  } catch {
    alg = undefined; // reported by keyRules (A02.FR.03)
  }
  if (alg && !(alg.kind === 'ecdsa' && alg.hash === 'sha256')) out.push({ rule: Rule.v2gCurve, message: 'a V2G certificate request must be signed ECDSA with SHA-256' });
  return out;
};

/**
 * The SECC subject: exactly one DC and it is CPO (V2G.dc-cpo), one CN of SECC-ID syntax
 * (V2G.secc-id) whose operator ID is the tenant's (V2G.operator-id) and which is registered for the
 * station (PnC-4.3), O = the CPO name (A02.FR.13), C (optional) two letters.
 */
export const seccSubject: CsrCheck = (csr, _key, ctx) => {
  const out: Violation[] = [];
  const dcs = attributeValues(csr.subject, OID.domainComponent);
  if (dcs.length !== 1 || dcs[0] !== 'CPO')
    out.push({ rule: Rule.v2gDcCpo, message: dcs.length ? `subject DC "${dcs.join(', ')}" must be exactly CPO` : 'subject DC=CPO is missing (ISO 15118-2 SECC certificate)' });

  const cns = attributeValues(csr.subject, OID.commonName);
  const cn = cns.length === 1 ? cns[0]! : undefined;
  if (cn === undefined) out.push({ rule: Rule.v2gSeccId, message: cns.length ? 'subject has several CNs' : 'subject CN is missing; it must be the SECC-ID' });
  else if (!SECC_ID.test(cn)) out.push({ rule: Rule.v2gSeccId, message: `subject CN "${cn.slice(0, 80)}" is not a SECC-ID (EVSEID syntax, e.g. DE*ABC*E123456)` });
  else {
    const operator = operatorIdOf(cn)!;
    const allowed = ctx.tenant?.operatorIds ?? [];
    if (!allowed.includes(operator))
      out.push({ rule: Rule.v2gOperatorId, message: `SECC-ID operator ${operator} is not one of this tenant's operator IDs (${allowed.join(', ') || 'none configured'})` });
    if (ctx.station && !(ctx.station.seccIds ?? []).some((id) => seccIdKey(id) === seccIdKey(cn)))
      out.push({ rule: Rule.registeredIdentity, message: `SECC-ID "${cn}" is not registered for this station (PUT /v1/stations/{id} seccIds)` });
  }

  const os = attributeValues(csr.subject, OID.organizationName);
  const cpoName = ctx.tenant?.cpoName ?? '';
  if (os.length !== 1 || os[0] !== cpoName)
    out.push({ rule: Rule.cpoName, message: os.length ? `subject O "${os.join(', ')}" is not the CPO name "${cpoName}"` : 'subject O is missing; it must be the CPO name' });
  const cs = attributeValues(csr.subject, OID.countryName);
  if (cs.length > 1 || (cs.length === 1 && !/^[A-Z]{2}$/.test(cs[0]!))) out.push({ rule: Rule.v2gSeccId, message: 'subject C must be one two-letter country code' });
  const known: readonly string[] = [OID.domainComponent, OID.commonName, OID.organizationName, OID.countryName];
  const others = csr.subject.rdns.flat().filter((a) => !known.includes(a.oid));
  if (others.length) out.push({ rule: Rule.v2gSeccId, message: 'an SECC subject holds only CN, O, C and DC' });
  out.push(...checkSubjectEncoding(csr, Rule.v2gSeccId));
  return out;
};

/** Violations of SECC-IDs registered for a station (V2G.secc-id): each of EVSEID syntax, none twice. */
export function seccIdViolations(ids: readonly string[]): Violation[] {
  const out: Violation[] = ids
    .filter((id) => !SECC_ID.test(id))
    .map((id) => ({ rule: Rule.v2gSeccId, message: `seccIds: "${id.slice(0, 80)}" is not a SECC-ID (EVSEID syntax, e.g. DE*ABC*E123456)` }));
  if (new Set(ids.map(seccIdKey)).size !== ids.length) out.push({ rule: Rule.v2gSeccId, message: 'seccIds: a SECC-ID is listed twice' });
  return out;
}
