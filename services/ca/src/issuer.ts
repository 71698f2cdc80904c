import { createPublicKey } from 'node:crypto';
import { KeyLoadError, type Signer } from '@evpki/keys';
import { issuerFacts, type SigningIssuer } from '@evpki/issuance';
import type { IssuerRecord, CaStore } from '@evpki/store';
import { parseCertificate, toPem } from '@evpki/x509';
import { issuerUrls } from '@evpki/service';

/** An issuing CA ready to sign: its facts for the profiles, its Signer and the chain it returns. */
export type LoadedIssuer = SigningIssuer;

/**
 * A key file or PKCS#11 reference that names another key than the issuer certificate's is refused
 * (issue 15): everything it signed would fail verification under that certificate.
 */
export function checkSignerMatches(issuerId: string, certificateDer: Buffer, signer: Signer): void {
  const certified = createPublicKey({ key: parseCertificate(certificateDer).spki, format: 'der', type: 'spki' });
  if (!signer.publicKey.equals(certified))
    throw new KeyLoadError(
      `${signer.backend === 'pkcs11' ? `keys/${issuerId}.pkcs11.json names a token key` : `keys/${issuerId}.key.pem holds a key`} other than the one the certificate of ${issuerId} certifies: refused (whatever it signed would not verify)`,
    );
}

export async function loadIssuer(store: CaStore, issuerId: string, signer: Signer, publicOcspBase: string): Promise<LoadedIssuer> {
  const record = await store.getIssuer(issuerId);
  if (!record) throw new Error(`issuer ${issuerId} is not in the store`);
  const cert = parseCertificate(record.certificate);
  return {
    ...issuerFacts(issuerId, cert, issuerUrls(publicOcspBase, issuerId)),
    hierarchy: record.hierarchy,
    cert,
    signer,
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
