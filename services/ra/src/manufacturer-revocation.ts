import { X509Certificate } from 'node:crypto';
import * as pkijs from 'pkijs';
import type { Agent } from 'undici';
import type { ManufacturerRevocationStatus } from '@evpki/ca-client';
import { ManufacturerChainRule } from '@evpki/issuance';
import { buildOcspRequest, encodeCertId, issuerHashes } from '@evpki/ocsp';
import type { RuleViolation } from '@evpki/service';
import type { ManufacturerRecord } from '@evpki/store';
import { OID, Tag, children, crlDistributionUris, crlValidity, decodeOid, expectTag, ocspUris, parseCertificate, raw, readOnly, readSignatureAlgorithm, verifySignature, type ParsedCertificate } from '@evpki/x509';
import type { AllowedHost } from './config.js';
import { checkAllowedUrl, guardedAgent, guardedRequest, type Fetched } from './guarded-http.js';

/**
 * Revocation of manufacturer chains (issue 21): the manufacturer's CRLs (its crlUrls, and with
 * crlDistributionPoints the ones its certificates name) and OCSP responders (AIA), fetched through
 * the RA's SSRF-guarded client (guarded-http.ts: allow-listed hosts only, RA_OCSP_ALLOWED_HOSTS),
 * CRLs cached until their nextUpdate. The CRLs go to the path validator, which checks their
 * signatures and the entries; OCSP answers are verified here (signed by the issuer or its
 * delegated responder, for this certificate, current). What cannot be fetched fails closed, or,
 * for a fail-open manufacturer, is noted and leaves the status unknown.
 */

/** A manufacturer CRL may be long; an OCSP answer is small. */
export const MAX_MANUFACTURER_CRL_BYTES = 4 * 1024 * 1024;
const MAX_OCSP_BYTES = 16 * 1024;
/** CRLs held at most (the least recently used goes), and at most this long whatever their nextUpdate. */
const CRL_CACHE_ENTRIES = 256;
const CRL_CACHE_MAX_MS = 24 * 3_600_000;
/** Clock skew allowed on an OCSP answer's thisUpdate. */
const OCSP_SKEW_MS = 5 * 60_000;

/** The one definition is the CA contract's: the RA hands it on with an enrolment. */
export type RevocationStatus = ManufacturerRevocationStatus;

export interface RevocationOutcome {
  /** DER CRLs for the path validator. */
  readonly crls: readonly Buffer[];
  readonly status: RevocationStatus;
  /** Refusals (revoked by OCSP, or unreachable and fail-closed). */
  readonly refusals: readonly RuleViolation[];
  /** Fail-open: what could not be checked. */
  readonly notes: readonly RuleViolation[];
}

export interface ManufacturerRevocationConfig {
  readonly allowedHosts: readonly AllowedHost[];
  readonly timeoutMs: number;
}

export function createManufacturerRevocation(config: ManufacturerRevocationConfig, now: () => Date) {
  const crlAgent: Agent = guardedAgent({ timeoutMs: config.timeoutMs, maxBytes: MAX_MANUFACTURER_CRL_BYTES, connections: 4 });
  const ocspAgent: Agent = guardedAgent({ timeoutMs: config.timeoutMs, maxBytes: MAX_OCSP_BYTES, connections: 4 });
  /** url → CRL and until when it is used (Map order: least recently used first). */
  const crlCache = new Map<string, { readonly der: Buffer; readonly until: number }>();
  /** One fetch per URL at a time. */
  const inFlight = new Map<string, Promise<Fetched>>();

  async function fetchCrl(url: string): Promise<Fetched> {
    const cached = crlCache.get(url);
    const t = now().getTime();
    if (cached && cached.until > t) {
      crlCache.delete(url);
      crlCache.set(url, cached);
      return { der: cached.der };
    }
    const checked = checkAllowedUrl(url, config.allowedHosts, 'the CRL URL');
    if (!('url' in checked)) return { refused: checked.notAllowed ? `${checked.notAllowed} is not an allowed host (RA_OCSP_ALLOWED_HOSTS)` : checked.problem };
    let pending = inFlight.get(url);
    if (!pending) {
      const u = checked.url;
      pending = guardedRequest(crlAgent, { origin: u.origin, path: u.pathname + u.search, method: 'GET', accept: ['application/pkix-crl', 'application/octet-stream'] }, { timeoutMs: config.timeoutMs, maxBytes: MAX_MANUFACTURER_CRL_BYTES, what: `the CRL server of ${u.host}`, response: 'the CRL' }).finally(() => inFlight.delete(url));
      inFlight.set(url, pending);
    }
    const fetched = await pending;
    if (!('der' in fetched)) return fetched;
    const validity = crlValidity(fetched.der);
    if (!validity) return { failed: `${url} did not answer a DER CRL` };
    const until = Math.min(validity.nextUpdate?.getTime() ?? t, t + CRL_CACHE_MAX_MS);
    if (validity.nextUpdate && validity.nextUpdate.getTime() < t) return { failed: `the CRL of ${url} is stale (nextUpdate ${validity.nextUpdate.toISOString()})` };
    if (until > t) {
      crlCache.set(url, { der: fetched.der, until });
      while (crlCache.size > CRL_CACHE_ENTRIES) crlCache.delete(crlCache.keys().next().value!);
    }
    return { der: fetched.der };
  }

  /** The OCSP status of `cert` (issued by `issuer`): good, revoked, or why it is not known. */
  async function ocspStatus(cert: ParsedCertificate, issuer: ParsedCertificate, url: string): Promise<{ readonly status: 'good' | 'revoked' } | { readonly failed: string }> {
    const checked = checkAllowedUrl(url, config.allowedHosts, 'the OCSP responder URL');
    if (!('url' in checked)) return { failed: checked.notAllowed ? `${checked.notAllowed} is not an allowed host (RA_OCSP_ALLOWED_HOSTS)` : checked.problem };
    const h = issuerHashes(issuer).sha256;
    const request = buildOcspRequest([encodeCertId('sha256', h.name, h.key, cert.serial)]);
    const u = checked.url;
    const fetched = await guardedRequest(ocspAgent, { origin: u.origin, path: u.pathname + u.search, method: 'POST', body: request, contentType: 'application/ocsp-request', accept: 'application/ocsp-response' }, { timeoutMs: config.timeoutMs, maxBytes: MAX_OCSP_BYTES, what: `the OCSP responder ${u.host}`, response: 'the OCSP response' });
    if (!('der' in fetched)) return { failed: 'failed' in fetched ? fetched.failed : fetched.refused };
    return readOcspAnswer(fetched.der, cert, issuer, now());
  }

  return {
    /**
     * The revocation material and verdict for a validated path (leaf … anchor) of manufacturer `m`.
     * Each certificate but the anchor is looked up in the CRLs and asked of its responder.
     */
    async check(m: ManufacturerRecord, path: readonly Buffer[]): Promise<RevocationOutcome> {
      const rev = m.revocation;
      if (!rev.crlUrls?.length && !rev.crlDistributionPoints && !rev.ocsp) return { crls: [], status: 'not-checked', refusals: [], notes: [] };
      const certs = path.map((d) => parseCertificate(d));
      const crlUrls = new Set(rev.crlUrls ?? []);
      if (rev.crlDistributionPoints) for (const c of certs.slice(0, -1)) for (const u of crlDistributionUris(c)) if (/^https?:/i.test(u)) crlUrls.add(u);
      if (!crlUrls.size && !rev.ocsp) return { crls: [], status: 'not-checked', refusals: [], notes: [] };
      const unreachable: string[] = [];
      const refusals: RuleViolation[] = [];
      const crls: Buffer[] = [];
      for (const [url, fetched] of await Promise.all([...crlUrls].map(async (u) => [u, await fetchCrl(u)] as const))) {
        if ('der' in fetched) crls.push(fetched.der);
        else unreachable.push(`CRL ${url}: ${'failed' in fetched ? fetched.failed : fetched.refused}`);
      }
      if (rev.ocsp) {
        const asked = await Promise.all(
          certs.slice(0, -1).map(async (c, i) => {
            const url = ocspUris(c)[0];
            if (!url) return undefined; // a certificate that names no responder has nothing to ask
            return { i, url, answer: await ocspStatus(c, certs[i + 1]!, url) };
          }),
        );
        for (const a of asked) {
          if (!a) continue;
          if ('failed' in a.answer) unreachable.push(`OCSP ${a.url}: ${a.answer.failed}`);
          else if (a.answer.status === 'revoked') refusals.push({ rule: ManufacturerChainRule.revocation, message: `the OCSP responder ${a.url} says certificate ${a.i} of the path (0 = the station's) is revoked` });
        }
      }
      const notes: RuleViolation[] = [];
      for (const u of unreachable) {
        if (rev.failMode === 'open') notes.push({ rule: ManufacturerChainRule.revocation, message: `revocation unknown (fail-open): ${u}` });
        else refusals.push({ rule: ManufacturerChainRule.revocation, message: `revocation could not be checked (fail-closed): ${u}` });
      }
      return { crls, status: unreachable.length ? 'unknown' : 'good', refusals, notes };
    },
    async close(): Promise<void> {
      await Promise.all([crlAgent.close(), ocspAgent.close()]);
    },
  };
}
export type ManufacturerRevocation = ReturnType<typeof createManufacturerRevocation>;

/**
 * An OCSP answer for `cert`: successful, a basic response (pkijs reads it) signed by the issuer or by
 * a responder certificate the issuer signed for OCSP signing (RFC 6960 4.2.2.2), current, and
 * naming this certificate by its issuer and serial.
 */
async function readOcspAnswer(der: Buffer, cert: ParsedCertificate, issuer: ParsedCertificate, at: Date): Promise<{ readonly status: 'good' | 'revoked' } | { readonly failed: string }> {
  try {
    const response = pkijs.OCSPResponse.fromBER(der);
    const status = response.responseStatus.valueBlock.valueDec;
    if (status !== 0 || !response.responseBytes) return { failed: `the OCSP responder answered status ${status}` };
    const basic = pkijs.BasicOCSPResponse.fromBER(response.responseBytes.response.valueBlock.valueHexView);
    if (!signedByIssuer(basic, issuer, at)) return { failed: 'the OCSP response is not signed by the issuer or a responder it certified for OCSP signing' };
    const single = basic.tbsResponseData.responses.find((r) => Buffer.from(r.certID.serialNumber.valueBlock.valueHexView).equals(cert.serial));
    if (!single) return { failed: 'the OCSP response does not answer for the certificate' };
    if (single.thisUpdate.getTime() > at.getTime() + OCSP_SKEW_MS || (single.nextUpdate && single.nextUpdate.getTime() < at.getTime())) return { failed: 'the OCSP response is not current' };
    const answer = await basic.getCertificateStatus(pkijs.Certificate.fromBER(cert.der), pkijs.Certificate.fromBER(issuer.der));
    if (!answer.isForCertificate) return { failed: 'the OCSP response does not answer for the certificate' };
    if (answer.status === 1) return { status: 'revoked' };
    if (answer.status === 0) return { status: 'good' };
    return { failed: 'the OCSP responder does not know the certificate' };
  } catch (e) {
    return { failed: `the OCSP response cannot be read: ${(e as Error).message.slice(0, 120)}` };
  }
}

/** The response's signature verifies with the issuer's key, or with a current id-kp-OCSPSigning certificate the issuer signed. */
function signedByIssuer(basic: pkijs.BasicOCSPResponse, issuer: ParsedCertificate, at: Date): boolean {
  const algDer = Buffer.from(basic.signatureAlgorithm.toSchema().toBER(false));
  const top = readOnly(algDer, Tag.SEQUENCE);
  const [oidT, paramsT] = children(top, 2);
  const alg = readSignatureAlgorithm(decodeOid(expectTag(oidT, Tag.OID, 'algorithm').value), paramsT ? raw(top.value, paramsT) : undefined);
  if (!alg) return false;
  const tbs = Buffer.from(basic.tbsResponseData.tbsView);
  const signature = Buffer.from(basic.signature.valueBlock.valueHexView);
  const issuerX = new X509Certificate(issuer.der);
  if (verifySignature(alg, issuerX.publicKey, tbs, signature)) return true;
  for (const c of basic.certs ?? []) {
    const responder = new X509Certificate(Buffer.from(c.toSchema().toBER(false)));
    const current = Date.parse(responder.validFrom) <= at.getTime() && at.getTime() <= Date.parse(responder.validTo);
    const delegated = responder.checkIssued(issuerX) && responder.verify(issuerX.publicKey) && (responder.keyUsage ?? []).includes(OCSP_SIGNING);
    if (current && delegated && verifySignature(alg, responder.publicKey, tbs, signature)) return true;
  }
  return false;
}
const OCSP_SIGNING = OID.kpOcspSigning;
