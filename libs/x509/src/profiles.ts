/** Where relying parties find status and issuer certificates for certificates of one issuer. */
export interface IssuerUrls {
  readonly ocsp: string;
  readonly caIssuers: string;
  readonly crl: string;
}
