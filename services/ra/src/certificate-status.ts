import { Pool, type Dispatcher } from 'undici';
import { IssuerIndex, MAX_OCSP_RESULT_CHARS, OcspResponseStatus, buildOcspRequest, certIdFromOcpp, type OcspRequestData } from '@evpki/ocsp';
import { Rule } from '@evpki/policy';
import { AppError, type Logger } from '@evpki/service';
import { signsLeaves, type IssuerRole, type RaStore } from '@evpki/store';
import { OID, Tag, children, decodeOid, expectTag, parseCertificate, readOnly, serialFromHex, serialToHex } from '@evpki/x509';
import type { AllowedHost } from './config.js';
import { checkAllowedUrl, guardedAgent, guardedRequest, type Fetched } from './guarded-http.js';

/** The most a remote responder may send; a one-certificate response is a few KiB at most. */
export const MAX_REMOTE_RESPONSE_BYTES = 16 * 1024;
/** How long a built issuer index is trusted before a miss rebuilds it. */
const INDEX_REFRESH_MS = 10_000;
const OCSP_REQUEST = 'application/ocsp-request';
const OCSP_RESPONSE = 'application/ocsp-response';

/** One of our issuers, as a CertID names it. */
interface OwnIssuer {
  readonly id: string;
  readonly role: IssuerRole;
}

/** GetCertificateStatus.conf material: Accepted with the base64 DER response, or Failed with why. */
export type CertificateStatusResult =
  | { readonly status: 'Accepted'; readonly ocspResult: string }
  | { readonly status: 'Failed'; readonly reason: string };

export interface CertificateStatusConfig {
  /** Base URL of our own responder (answers `POST /ocsp`). */
  readonly ocspUrl: string;
  readonly allowedHosts: readonly AllowedHost[];
  readonly timeoutMs: number;
}

/** Plug&Charge 4.5: the CSMS asks certificate status on behalf of its charge points. */
const violation = (message: string) => [{ rule: Rule.statusOnBehalf, message }];

/**
 * OCPP GetCertificateStatus on behalf of charge points (Plug&Charge 4.5). CertIDs of our own issuers
 * go to our own responder's internal URL whatever responderURL says; others go to responderURL only
 * when its host is allow-listed, with a timeout, a size limit and no redirects.
 */
export function createCertificateStatus(config: CertificateStatusConfig, store: RaStore, log: Logger) {
  const localUrl = new URL(config.ocspUrl);
  const localPath = `${localUrl.pathname.replace(/\/$/, '')}/ocsp`;
  const local = new Pool(localUrl.origin, {
    connections: 16,
    headersTimeout: config.timeoutMs,
    bodyTimeout: config.timeoutMs,
    keepAliveTimeout: 30_000,
    maxResponseSize: MAX_REMOTE_RESPONSE_BYTES,
  });
  const remote = guardedAgent({ timeoutMs: config.timeoutMs, maxBytes: MAX_REMOTE_RESPONSE_BYTES, connections: 4 });

  let index: { readonly builtAt: number; readonly issuers: IssuerIndex<OwnIssuer> } | undefined;
  let building: Promise<IssuerIndex<OwnIssuer>> | undefined;

  /** Every issuer we run (roots and sub-CAs, any state): their CertIDs are ours to answer. */
  function rebuild(): Promise<IssuerIndex<OwnIssuer>> {
    building ??= store
      .listIssuers()
      .then((records) => {
        const issuers = new IssuerIndex<OwnIssuer>();
        for (const r of records) {
          try {
            issuers.add(parseCertificate(r.certificate), { id: r.id, role: r.role });
          } catch (err) {
            log.error({ err, issuer: r.id }, 'stored issuer certificate does not parse');
          }
        }
        index = { builtAt: Date.now(), issuers };
        return issuers;
      })
      .finally(() => {
        building = undefined;
      });
    return building;
  }

  async function ourIssuer(d: OcspRequestData, certId: Buffer): Promise<OwnIssuer | undefined> {
    const hash = d.hashAlgorithm.toLowerCase() as 'sha256' | 'sha384' | 'sha512';
    const wanted = {
      hash,
      issuerNameHash: Buffer.from(d.issuerNameHash, 'hex'),
      issuerKeyHash: Buffer.from(d.issuerKeyHash, 'hex'),
      serialHex: serialToHex(serialFromHex(d.serialNumber)),
      der: certId,
    };
    const hit = (index ?? { issuers: await rebuild() }).issuers.match(wanted);
    if (hit !== undefined || (index && Date.now() - index.builtAt < INDEX_REFRESH_MS)) return hit;
    return (await rebuild()).match(wanted);
  }

  /** The responderURL, if the RA may ask it; a 422 naming PnC-4.5 otherwise. */
  function allowedRemote(responderURL: string): URL {
    const checked = checkAllowedUrl(responderURL, config.allowedHosts, 'responderURL');
    if ('url' in checked) return checked.url;
    const message = checked.notAllowed
      ? config.allowedHosts.length
        ? `the issuer is not ours and ${checked.notAllowed} is not an allowed OCSP responder (RA_OCSP_ALLOWED_HOSTS)`
        : 'the issuer is not ours and no remote OCSP responders are configured (RA_OCSP_ALLOWED_HOSTS)'
      : checked.problem;
    throw new AppError('policy', checked.notAllowed ? message : checked.title, violation(message));
  }

  /** One OCSP POST; any transport or HTTP-level problem becomes a reason, never a throw. */
  const fetchOcsp = (dispatcher: Dispatcher, origin: string, path: string, body: Buffer): Promise<Fetched> =>
    guardedRequest(dispatcher, { origin, path, method: 'POST', body, contentType: OCSP_REQUEST, accept: OCSP_RESPONSE }, { timeoutMs: config.timeoutMs, maxBytes: MAX_REMOTE_RESPONSE_BYTES, what: 'the OCSP responder', response: 'the OCSP response' });

  return {
    /** `requestLog`: the logger of the request being served (its lines carry the request id). */
    async query(d: OcspRequestData, requestLog: Logger = log): Promise<CertificateStatusResult> {
      let certId: Buffer;
      try {
        certId = certIdFromOcpp(d);
      } catch (e) {
        const message = (e as Error).message;
        throw new AppError('malformed', `OCSPRequestData: ${message}`, violation(message));
      }
      const request = buildOcspRequest([certId]);
      const own = await ourIssuer(d, certId);
      const issuerId = own?.id;
      // A sub-CA's status (issued by a root or a V2G CPO Sub-CA 1): those CAs sign no OCSP
      // responses, only their CRLs (the responder answers leaf-signing CAs' certificates).
      if (own && !signsLeaves(own.role)) {
        const reason = `issued by ${own.id}, a ${own.role} CA that signs CRLs, not OCSP responses: its status is in GET /crl/${own.id}.crl of our OCSP responder`;
        requestLog.info({ issuer: own.id, serial: d.serialNumber }, 'certificate status of a CA certificate: CRL only');
        return { status: 'Failed', reason };
      }
      let fetched: Fetched;
      if (issuerId !== undefined) {
        // Ours: our responder is the authority (A00.FR.702); responderURL is never fetched.
        fetched = await fetchOcsp(local, localUrl.origin, localPath, request);
        if ('failed' in fetched) {
          requestLog.error({ issuer: issuerId, reason: fetched.failed }, 'own OCSP responder failed');
          throw new AppError('unavailable', 'our OCSP responder is unavailable; try again later', undefined, 5);
        }
      } else {
        const url = allowedRemote(d.responderURL);
        fetched = await fetchOcsp(remote, url.origin, url.pathname + url.search, request);
        if ('refused' in fetched) {
          const message = `${fetched.refused}: an allow-listed host name is only asked at a public address (allow-list the IP literal to ask it there)`;
          throw new AppError('policy', message, violation(message));
        }
      }
      const result = 'failed' in fetched ? { status: 'Failed' as const, reason: fetched.failed } : 'der' in fetched ? checkOcspResponse(fetched.der) : { status: 'Failed' as const, reason: fetched.refused };
      if (result.status === 'Failed') requestLog.warn({ issuer: issuerId ?? 'remote', serial: d.serialNumber, reason: result.reason }, 'certificate status failed');
      return result;
    },
    async close(): Promise<void> {
      await Promise.all([local.close(), remote.close()]);
    },
  };
}
export type CertificateStatus = ReturnType<typeof createCertificateStatus>;

const STATUS_NAMES = new Map<number, string>(Object.entries(OcspResponseStatus).map(([name, code]) => [code, name]));

/**
 * Checks what is handed to the charge point: a DER OCSPResponse with status successful and a basic
 * response (RFC 6960 4.2.1), small enough for GetCertificateStatus.conf. The charge point verifies
 * the signature and the CertID itself.
 */
export function checkOcspResponse(der: Buffer): CertificateStatusResult {
  let status: number;
  let basic = false;
  try {
    const [statusT, bytesT] = children(readOnly(der, Tag.SEQUENCE), 2);
    const st = expectTag(statusT, Tag.ENUMERATED, 'responseStatus').value;
    if (st.length !== 1) return { status: 'Failed', reason: 'the OCSP response has a bad responseStatus' };
    status = st[0]!;
    if (bytesT) {
      if (bytesT.tag !== 0xa0) return { status: 'Failed', reason: 'the OCSP response is malformed' };
      const [inner] = children(bytesT, 1);
      const [typeT, respT] = children(expectTag(inner, Tag.SEQUENCE, 'responseBytes'), 2);
      expectTag(respT, Tag.OCTET_STRING, 'response');
      basic = decodeOid(expectTag(typeT, Tag.OID, 'responseType').value) === OID.ocspBasic;
    }
  } catch {
    return { status: 'Failed', reason: 'the OCSP responder answered something that is not a DER OCSPResponse' };
  }
  if (status !== OcspResponseStatus.successful)
    return { status: 'Failed', reason: `the OCSP responder answered ${STATUS_NAMES.get(status) ?? `status ${status}`}` };
  if (!basic) return { status: 'Failed', reason: 'the OCSP response is not a basic OCSP response' };
  const ocspResult = der.toString('base64');
  if (ocspResult.length > MAX_OCSP_RESULT_CHARS)
    return { status: 'Failed', reason: `the OCSP response is ${ocspResult.length} characters of base64, more than OCPP's ${MAX_OCSP_RESULT_CHARS}` };
  return { status: 'Accepted', ocspResult };
}
