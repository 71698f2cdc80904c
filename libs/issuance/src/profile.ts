import type { Signer } from '@evpki/keys';
import type { CsrCheck, CsrCheckContext } from '@evpki/policy';
import type { CertificateKind } from '@evpki/store';
import type { IssuerUrls, KeyInfo, NameAttribute, ParsedCertificate, ParsedCsr } from '@evpki/x509';

/**
 * A certificate kind, in one place (docs/architecture.md "Profiles"): who signs it, what a request
 * must pass, what the certificate carries, how long it lives, what is recorded and whether OCSP/CRL
 * cover it. Adding a kind is a file under profiles/ and a line in registry.ts.
 */
export interface Profile {
  /** Recorded with the certificate and used as the metrics label. */
  readonly kind: CertificateKind;
  /** How errors name a request for it ("the certificate request violates policy"). */
  readonly requestName: string;
  /** The OCPP CertificateSigningUse a station asks for it by, if stations ask for it. */
  readonly ocppCertificateType?: string;
  /** The issuer role that signs it, in its hierarchy (`pki rotate-* --hierarchy`). */
  readonly signedBy: { readonly hierarchy: string; readonly role: IssuerRoleName };
  /** What a request is bound to: a registered station of the tenant, the tenant, a service (no tenant), or a CLI ceremony (no CSR). */
  readonly subject: 'station' | 'tenant' | 'service' | 'ceremony';
  /** The libs/policy rules a CSR must pass, run by the RA (early) and again by the CA. */
  readonly checks: readonly CsrCheck[];
  readonly validity: ValidityRule;
  /** Recorded as a certificate of the store (leaves) or by the ceremony that made it (CA certificates, in the issuer records). */
  readonly recorded: 'certificate' | 'issuer-record';
  /** Status services: pre-signed OCSP answers, the issuer's CRL, and a tenant may revoke it (A00 revocation API). */
  readonly status: { readonly ocspPresigned: boolean; readonly crl: boolean; readonly tenantRevocable: boolean };
  /** A request identical to one already answered gets that certificate again (issue 14.13). */
  readonly replaysIdenticalRequest: boolean;
  /** The most DER bytes a certificate of this kind may have (V2G PKI: 800, rule V2G.size); certify refuses a larger one. */
  readonly maxDerBytes?: number;
  /** Certificates whose issuer must be the active one of its hierarchy (leaves of enrolment). */
  readonly requiresActiveIssuer: boolean;
  /**
   * The extensions, prepared once per issuer (everything fixed is encoded once: hot path), then
   * completed per certificate from what the request brought.
   */
  extensions(issuer: IssuerFacts): (subject: SubjectFacts) => Buffer[];
  /** The certificate's subject name attributes (re-encoded: issue 14.10), from the request or the issuer. */
  subjectAttributes(issuer: IssuerFacts, subject: SubjectFacts): readonly SubjectAttribute[];
}

/** A subject Name attribute; `tag` is the CSR's string type, replaced when the name is built (buildName). */
export type SubjectAttribute = Pick<NameAttribute, 'oid' | 'value'> & { readonly tag?: number };

export type IssuerRoleName = 'root' | 'sub-ca-1' | 'sub-ca-2' | 'issuing' | 'service-ca';

/** What a profile reads of the certificate's issuer (for a self-signed root: itself). */
export interface IssuerFacts {
  readonly id: string;
  /** DER Name: the certificate's issuer field. */
  readonly name: Buffer;
  readonly organization: string;
  /** The issuer's key identifier: the certificate's authorityKeyIdentifier. */
  readonly keyIdentifier: Buffer;
  readonly notBefore?: Date;
  /** undefined: a self-signed root being made, which has no issuer to outlive. */
  readonly notAfter?: Date;
  /** Where relying parties find status and the issuer's certificate (leaves of a published issuer). */
  readonly urls?: IssuerUrls;
}

/** What the certificate certifies: the key, and what the request (or the ceremony) names. */
export interface SubjectFacts {
  /** The key certified, as inspectSpki read it (its SPKI is copied as it came). */
  readonly publicKey: KeyInfo & { type: 'ec' | 'rsa' };
  readonly csr?: ParsedCsr;
  /** Names given by the ceremony (CA certificates, service certificates), not by a CSR. */
  readonly names?: { readonly organization: string; readonly commonName: string };
  /** The subject Name exactly as another certificate has it (a cross-certificate), not rebuilt. */
  readonly subjectName?: Buffer;
  /** serverAuth certificates: DNS names and IP addresses for the subjectAltName. */
  readonly altNames?: { readonly dns: readonly string[]; readonly ipOctets: readonly Buffer[] };
}

/**
 * How long a certificate lives: `lifetimeSeconds` asked or configured, notBefore backdated by
 * `backdateSeconds` for clock skew, never past the issuer (validity.ts: the one clamp), refused
 * when the issuer leaves less than `minSeconds`.
 */
export interface ValidityRule {
  readonly backdateSeconds: number;
  /** undefined: any remainder of the issuer's life is accepted (a CA certificate). */
  readonly minSeconds?: number | ((lifetimeSeconds: number) => number);
}

/** The lookups verifyRequest needs, given by the RA and the CA from their own reads. */
export type RequestContext = CsrCheckContext;

/** An issuer ready to sign: its facts, its Signer and the chain it returns. */
export interface SigningIssuer extends IssuerFacts {
  readonly hierarchy: string;
  readonly cert: ParsedCertificate;
  readonly signer: Signer;
  /** PEM of the issuer certificate and its parents, root left out (Plug&Charge 2.3). */
  readonly chainPem: string;
}
