import { readFileSync } from 'node:fs';
import type { Request, Response } from 'express';
import { parse } from 'yaml';
import { AUTHZ_RULES, AppError, AuthError, requireScopes, type AuditTrail, type Caller, type Metrics } from '@evpki/service';
import type { RaStore, TenantRecord } from '@evpki/store';
import { CSR_LIMITS, OID, attributeValues, ctx, integer, oid, parseCsr, pemBlocks, seq, set, tlv, toPem, type ParsedName } from '@evpki/x509';
import { actorOf, contextOf, requestOf, type RequestContext } from './authenticate.js';
import type { Enrolment } from './enrol.js';
import { authenticateSeccCertificate, checkReenrollSubject, presentedCertificate, type SeccCertificatePrincipal } from './secc-client-cert.js';

/**
 * EST (RFC 7030) for ISO 15118 SECC certificates: /.well-known/est/cacerts (the V2G chain, no
 * authentication, 4.1) and simpleenroll / simplereenroll (4.2) with a bearer token of the RA
 * (an OAuth2 client's, POST /oauth/token, or the identity provider's) naming certificates:sign. The
 * station is the tenant's one that lists the CSR's CN among its seccIds (PnC-4.3); the CSR then
 * goes through the enrolment core as a V2GCertificate request, every V2G rule included.
 */

const SIGNED_DATA = '1.2.840.113549.1.7.2';
const DATA = '1.2.840.113549.1.7.1';

/** A degenerate ("certs-only") CMS SignedData (RFC 5652 5.1, RFC 7030 4.1.3): certificates, no signers. */
export function certsOnlyPkcs7(certs: readonly Buffer[]): Buffer {
  const signedData = seq(integer(1), set(), seq(oid(DATA)), ctx(0, Buffer.concat(certs)), set());
  return seq(oid(SIGNED_DATA), ctx(0, signedData));
}

/** RFC 7030 4.1.3 / RFC 8951: base64 (here in 64-character lines) of the DER. */
const base64Lines = (der: Buffer): string => der.toString('base64').replace(/.{64}/g, '$&\r\n').replace(/\r\n$/, '') + '\r\n';

const certsOf = (chainPem: string): Buffer[] => pemBlocks(chainPem, 'CERTIFICATE');

/** The active V2G CAs, Sub-CA 2 first, root last; [] without a V2G hierarchy. */
export async function v2gChain(store: Pick<RaStore, 'listIssuers'>): Promise<Buffer[]> {
  const issuers = (await store.listIssuers('v2g')).filter((i) => i.state === 'active');
  const chain = (['sub-ca-2', 'sub-ca-1', 'root'] as const).map((role) => issuers.find((i) => i.role === role)?.certificate);
  return chain.every((c): c is Buffer => c !== undefined) ? chain : [];
}

export const EST_ENROL_SCOPES = ['certificates:sign'] as const;

/**
 * RFC 7030 4.5.2 CsrAttrs (SEQUENCE OF AttrOrOID) of an SECC CSR (ISO 15118-2 Annex F, V2G.curve and
 * V2G.dc-cpo): signed ecdsa-with-SHA256, an id-ecPublicKey key on secp256r1 (the attribute form of
 * RFC 7030's own example), and the subject attribute DC = "CPO" (IA5String, RFC 4519 2.4).
 */
export const SECC_CSR_ATTRS: Buffer = seq(
  oid(OID.ecdsaWithSHA256),
  seq(oid(OID.ecPublicKey), set(oid(OID.prime256v1))),
  seq(oid(OID.domainComponent), set(tlv(0x16, Buffer.from('CPO', 'ascii')))),
);

/** What each EST route does; openapi.yaml names it per path with `x-est` (one declaration per path). */
export const EST_OPERATIONS = ['cacerts', 'csrattrs', 'simpleenroll', 'simplereenroll'] as const;
export type EstOperation = (typeof EST_OPERATIONS)[number];
export interface EstRoute {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly operation: EstOperation;
  /** The metrics and log label, as for /v1 routes: 'GET /.well-known/est/cacerts'. */
  readonly label: string;
  /** Query parameters the path requires (the OPNC form's caDomain and iso15118Version). */
  readonly requiredQuery: readonly string[];
}

/**
 * The OPNC form's query (`?caDomain=cpo&iso15118Version=ISO15118-2`), checked wherever it is given:
 * this PKI is a CPO Sub-CA 2 of ISO 15118-2 (the -20 profiles and the other domains, MO and OEM,
 * are not served), so another value is refused naming it rather than answered from the wrong PKI.
 */
const EST_QUERY: Readonly<Record<string, { readonly value: string; readonly rule: string; readonly why: string }>> = {
  caDomain: { value: 'cpo', rule: 'EST.ca-domain', why: 'this PKI issues only in the CPO domain (caDomain=cpo)' },
  iso15118Version: { value: 'ISO15118-2', rule: 'EST.iso15118-version', why: 'this PKI issues only ISO 15118-2 SECC certificates (iso15118Version=ISO15118-2)' },
};

export function checkEstQuery(query: Request['query'], required: readonly string[]): void {
  for (const [name, want] of Object.entries(EST_QUERY)) {
    const got = query[name];
    if (got === undefined && !required.includes(name)) continue;
    if (got !== want.value) throw new AppError('malformed', `${name} ${typeof got === 'string' ? `'${got.slice(0, 32)}' ` : ''}is not served: ${want.why}`, [{ rule: want.rule, message: want.why }]);
  }
}

/**
 * The EST routes of openapi.yaml (each path with `x-est: <operation>`; the OPCP spellings are more
 * paths of the same operations): the RA serves exactly these. A wrong method, an unknown operation,
 * or security other than none (cacerts, csrattrs) or bearerAuth certificates:sign (the enrolments)
 * stops the start.
 */
export function loadEstRoutes(specPath: string): EstRoute[] {
  type Param = { $ref?: string; in?: string; name?: string; required?: boolean };
  type Op = { 'x-est'?: unknown; security?: Record<string, string[]>[]; parameters?: Param[] };
  const spec = parse(readFileSync(specPath, 'utf8')) as { paths: Record<string, Record<string, Op>>; components?: { parameters?: Record<string, Param> } };
  const resolve = (p: Param): Param => (p.$ref ? (spec.components?.parameters?.[p.$ref.replace('#/components/parameters/', '')] ?? {}) : p);
  const routes: EstRoute[] = [];
  for (const [path, item] of Object.entries(spec.paths))
    for (const [method, op] of Object.entries(item)) {
      if (op?.['x-est'] === undefined) continue;
      const operation = op['x-est'] as EstOperation;
      const label = `${method.toUpperCase()} ${path}`;
      if (!EST_OPERATIONS.includes(operation)) throw new Error(`openapi.yaml: ${label} x-est must be one of ${EST_OPERATIONS.join(', ')}`);
      const enrol = operation === 'simpleenroll' || operation === 'simplereenroll';
      if (method !== (enrol ? 'post' : 'get')) throw new Error(`openapi.yaml: ${label} must be ${enrol ? 'POST' : 'GET'} (RFC 7030 3.2.2)`);
      const security = JSON.stringify(op.security ?? null);
      if (security !== (enrol ? JSON.stringify([{ bearerAuth: EST_ENROL_SCOPES }]) : '[]'))
        throw new Error(`openapi.yaml: ${label} security must be ${enrol ? `bearerAuth ${EST_ENROL_SCOPES.join(' ')}` : 'none ([])'}`);
      const requiredQuery = (op.parameters ?? []).map(resolve).filter((p) => p.in === 'query' && p.required).map((p) => String(p.name));
      routes.push({ method: enrol ? 'POST' : 'GET', path, operation, label, requiredQuery });
    }
  return routes;
}
/** RFC 7030 4.2.1 (RFC 8951 2): a base64 DER PKCS#10 body; whitespace and line breaks are tolerated. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export interface EstDeps {
  readonly store: Pick<RaStore, 'listIssuers' | 'getTenant' | 'findStationBySeccId' | 'getCertificate' | 'getStation'>;
  readonly now: () => Date;
  readonly enrolment: Enrolment;
  readonly verify: (authorization: string | undefined) => Promise<Caller>;
  readonly audit: AuditTrail;
  readonly metrics: Metrics;
}

/** The request context of an authorized EST enrolment (the error handler audits refusals with it). */
const contextFor = (caller: Caller, tenant: TenantRecord, actor: string, route: string, res: Response): RequestContext => ({
  caller,
  tenant,
  actor,
  requestId: requestOf(res).id,
  params: {},
  operation: { route, method: 'POST', scopes: EST_ENROL_SCOPES, match: /^$/ },
});

export function estRoutes(d: EstDeps) {
  async function cacerts(_req: Request, res: Response): Promise<void> {
    const chain = await v2gChain(d.store);
    if (!chain.length) throw new AppError('not-found', 'this PKI has no V2G hierarchy (pki v2g init)');
    res.status(200).type('application/pkcs7-mime').send(base64Lines(certsOnlyPkcs7(chain)));
  }

  /** RFC 7030 4.5: the attributes an SECC CSR needs; no authentication (4.5.1); 404 as cacerts without a V2G hierarchy. */
  async function csrattrs(_req: Request, res: Response): Promise<void> {
    if (!(await v2gChain(d.store)).length) throw new AppError('not-found', 'this PKI has no V2G hierarchy (pki v2g init)');
    res.status(200).type('application/csrattrs').send(base64Lines(SECC_CSR_ATTRS));
  }

  /**
   * The gate's checks for these routes, before the body is read: a valid token (401), its scopes
   * (403), an enabled tenant (403). simplereenroll without an Authorization header on a TLS
   * connection that presented a client certificate: that certificate instead (secc-client-cert.ts).
   * Leaves the request context the error handler audits refusals with.
   */
  async function authorize(req: Request, res: Response, operation: EstOperation): Promise<void> {
    const route = `POST ${req.path}`;
    const presented = operation === 'simplereenroll' && req.get('authorization') === undefined ? presentedCertificate(req) : undefined;
    if (presented) {
      let principal: SeccCertificatePrincipal;
      try {
        principal = await authenticateSeccCertificate(d.store, presented, d.now());
      } catch (e) {
        d.metrics.authFailures.inc({ reason: 'claims' });
        await d.audit.recordAuthFailure({ event: 'auth.failed', actor: 'anonymous', outcome: 'refused', details: { reason: 'secc-certificate', route, remoteAddress: req.socket.remoteAddress ?? null } });
        throw e;
      }
      res.locals.seccCertificate = principal;
      res.locals.ctx = contextFor(principal.caller, principal.tenant, principal.caller.subject!, route, res);
      return;
    }
    let c: Caller;
    try {
      c = await d.verify(req.get('authorization'));
    } catch (e) {
      if (e instanceof AuthError) {
        d.metrics.authFailures.inc({ reason: e.reason });
        await d.audit.recordAuthFailure({ event: 'auth.failed', actor: 'anonymous', outcome: 'refused', details: { reason: e.reason, route, remoteAddress: req.socket.remoteAddress ?? null } });
      }
      throw e;
    }
    requireScopes(c, EST_ENROL_SCOPES);
    const tenant = await d.store.getTenant(c.tenant);
    if (!tenant || tenant.disabled)
      throw new AppError('forbidden', `the token's tenant ${c.tenant} is unknown or disabled`, [{ rule: AUTHZ_RULES.tenant, message: 'the tenant claim names no enabled tenant' }]);
    res.locals.ctx = contextFor(c, tenant, actorOf(c), route, res);
  }

  async function enroll(req: Request, res: Response): Promise<void> {
    const principal = contextOf(res);
    const type = (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/pkcs10') throw new AppError('unsupported-media-type', 'the body must be application/pkcs10: a base64 DER PKCS#10 CSR (RFC 7030 4.2.1)');
    const text = typeof req.body === 'string' ? req.body.replace(/\s+/g, '') : '';
    if (!text || !BASE64.test(text)) throw new AppError('malformed', 'the body is not base64 (RFC 7030 4.2.1: a base64 DER PKCS#10 CSR)');
    const der = Buffer.from(text, 'base64');
    if (der.length > CSR_LIMITS.maxDerBytes) throw new AppError('malformed', `the CSR is larger than ${CSR_LIMITS.maxDerBytes} bytes`, [{ rule: 'A02.FR.03', message: 'the CSR is too large' }]);
    let subject: ParsedName;
    try {
      subject = parseCsr(der).subject;
    } catch (e) {
      throw new AppError('malformed', `the body is no PKCS#10 CSR: ${(e as Error).message}`, [{ rule: 'A02.FR.03', message: 'the CSR cannot be parsed' }]);
    }
    const names = attributeValues(subject, OID.commonName);
    const cn = names.length === 1 ? names[0] : undefined;
    const byCertificate = res.locals.seccCertificate as SeccCertificatePrincipal | undefined;
    if (byCertificate) checkReenrollSubject(byCertificate, subject);
    if (cn === undefined) throw new AppError('policy', 'the CSR must have exactly one CN, the SECC-ID', [{ rule: 'V2G.secc-id', message: 'one CN of SECC-ID syntax' }]);
    // PnC-4.3: the SECC-ID is registered for one of the tenant's stations (compared without *, any case).
    const station = await d.store.findStationBySeccId(principal.tenant.id, cn);
    if (!station || (byCertificate && station.stationId !== byCertificate.stationId))
      throw new AppError('policy', `no station of tenant ${principal.tenant.id} has the SECC-ID ${cn.slice(0, 64)}`, [{ rule: 'PnC-4.3', message: "the CSR's CN is none of the tenant's stations' seccIds" }]);
    const signed = await d.enrolment.station(principal, { stationId: station.stationId, csr: toPem('CERTIFICATE REQUEST', der), certificateType: 'V2GCertificate' });
    // RFC 7030 4.2.3: a certs-only PKCS#7 of the issued certificate.
    const leaf = certsOf(signed.certificateChain)[0]!;
    res.status(200).type('application/pkcs7-mime; smime-type=certs-only').send(base64Lines(certsOnlyPkcs7([leaf])));
  }

  return { cacerts, csrattrs, authorize, enroll };
}
