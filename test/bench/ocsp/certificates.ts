/** Certificates: CSRs in worker threads (never timed), signed by the CA over HTTP; the delegated signer for `openssl ocsp`. */
import { generateKeyPairSync } from 'node:crypto';
import { Agent, Pool, request } from 'undici';
import { serviceClientTlsOptions, type ServiceTls } from '@evpki/service';
import { buildCsr, parseCertificate, pemBlocks } from '@evpki/x509';
import { CERT_TYPE, TENANT, type CsrItem } from '../bench-kit.js';

export interface Issued {
  readonly serialHex: string;
  readonly notAfter: Date;
  readonly station: number;
}

/** Issues at the CA directly, as the RA does (its client certificate: mutual TLS). */
export async function issueAll(caUrl: string, raTls: ServiceTls, csrs: readonly CsrItem[]): Promise<Issued[]> {
  const pool = new Pool(caUrl, { connections: 16, connect: serviceClientTlsOptions(raTls) });
  const out: Issued[] = [];
  let i = 0;
  try {
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (i < csrs.length) {
          const c = csrs[i++]!;
          const r = await pool.request({
            path: '/v1/sign',
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ tenant: TENANT, stationId: `bench-${c.station}`, csr: c.csr, certificateType: CERT_TYPE, actor: 'bench' }),
          });
          const text = await r.body.text();
          if (r.statusCode !== 201) throw new Error(`CA /v1/sign answered ${r.statusCode}: ${text.slice(0, 400)}`);
          const der = pemBlocks((JSON.parse(text) as { certificateChain: string }).certificateChain, 'CERTIFICATE')[0]!;
          const cert = parseCertificate(der);
          out.push({ serialHex: cert.serialHex, notAfter: cert.notAfter, station: c.station });
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return out;
}

/** A delegated OCSP signer for `issuerId`, certified by the CA the way our responder gets its own. */
export async function obtainSigner(caUrl: string, ocspTls: ServiceTls, issuerId: string): Promise<{ certPem: string; keyPem: string }> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const dispatcher = new Agent({ connect: serviceClientTlsOptions(ocspTls) });
  let status: number;
  let text: string;
  try {
    const res = await request(`${caUrl}/v1/ocsp-signers`, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ issuerId, csr: buildCsr(privateKey, { cn: `OCSP Signer ${issuerId} (openssl bench)` }) }),
    });
    status = res.statusCode;
    text = await res.body.text();
  } finally {
    await dispatcher.close();
  }
  if (status !== 201) throw new Error(`CA /v1/ocsp-signers answered ${status}: ${text.slice(0, 400)}`);
  return { certPem: (JSON.parse(text) as { certificate: string }).certificate, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** openssl's index.txt time format. */
export function indexTime(d: Date): string {
  return d.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z');
}
export const evenHex = (h: string): string => (h.length % 2 ? '0' + h : h);
