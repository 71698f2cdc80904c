import type { KeyObject } from 'node:crypto';
import type { IssuerRecord, CaStore } from '@evpki/store';
import {
  chargePointProfile,
  keyIdentifier,
  parseCertificate,
  serverProfile,
  signerFor,
  toPem,
  type ParsedCertificate,
  type Signer,
} from '@evpki/x509';
import { issuerUrls } from '@evpki/service';

/** An issuing CA ready to sign: its key, its precomputed profile pieces and the chain it returns. */
export interface LoadedIssuer {
  readonly id: string;
  readonly cert: ParsedCertificate;
  readonly signer: Signer;
  readonly leafExtensions: ReturnType<typeof chargePointProfile>;
  /** CSMS server certificates (A00.FR.701) chain to the same root the charge points trust. */
  readonly serverExtensions: ReturnType<typeof serverProfile>;
  /** PEM of the issuing CA certificate(s) in chain order, root left out (Plug&Charge 2.3). */
  readonly chainPem: string;
}

export async function loadIssuer(store: CaStore, issuerId: string, key: KeyObject, publicOcspBase: string): Promise<LoadedIssuer> {
  const record = await store.getIssuer(issuerId);
  if (!record) throw new Error(`issuer ${issuerId} is not in the store`);
  const cert = parseCertificate(record.certificate);
  return {
    id: issuerId,
    cert,
    signer: signerFor(key),
    leafExtensions: chargePointProfile(keyIdentifier(cert.publicKey), issuerUrls(publicOcspBase, issuerId)),
    serverExtensions: serverProfile(keyIdentifier(cert.publicKey), issuerUrls(publicOcspBase, issuerId).caIssuers),
    chainPem: await issuerChainPem(store, issuerId),
  };
}

/** The issuer's certificate and its parents up to, not including, the root, as PEM. */
export async function issuerChainPem(store: CaStore, issuerId: string): Promise<string> {
  let pem = '';
  for (let r: IssuerRecord | undefined = await store.getIssuer(issuerId); r && r.role !== 'root'; r = await store.getIssuer(r.parentId))
    pem += toPem('CERTIFICATE', r.certificate);
  return pem;
}
