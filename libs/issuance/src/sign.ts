import { buildTbs, signTbs, type TbsFields, type TbsSigner } from '@evpki/x509';

/**
 * The one place a certificate is built and signed (issue 15): every profile, every caller (CA,
 * CLI ceremonies, OCSP signers) ends here. The signer may be a file key or a PKCS#11 token.
 */
export async function signCertificate(signer: TbsSigner, issuerName: Buffer, fields: TbsFields): Promise<Buffer> {
  return signTbs(buildTbs(signer.algorithmDer, issuerName, fields), signer);
}
