import { Rule } from '@evpki/policy';
import { AppError } from '@evpki/service';
import { buildName, nameToString, randomSerial, serialToHex } from '@evpki/x509';
import type { TbsSigner } from '@evpki/x509';
import type { IssuerFacts, Profile, SubjectFacts } from './profile.js';
import { signCertificate } from './sign.js';
import { validityWindow } from './validity.js';

export interface Certified {
  readonly der: Buffer;
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The subject as text (RFC 4514 order), for records and logs. */
  readonly subject: string;
}

/** Thrown when the issuer cannot give a certificate of this profile the lifetime it needs. */
export class ValidityError extends Error {
  override readonly name = 'ValidityError';
}

// The fixed extensions of each (profile, issuer) pair, encoded once (hot path).
const prepared = new WeakMap<IssuerFacts, Map<Profile, (s: SubjectFacts) => Buffer[]>>();

function extensionsOf(profile: Profile, issuer: IssuerFacts): (s: SubjectFacts) => Buffer[] {
  let perIssuer = prepared.get(issuer);
  if (!perIssuer) prepared.set(issuer, (perIssuer = new Map<Profile, (s: SubjectFacts) => Buffer[]>()));
  let build = perIssuer.get(profile);
  if (!build) perIssuer.set(profile, (build = profile.extensions(issuer)));
  return build;
}

export interface CertifyInput {
  readonly subject: SubjectFacts;
  readonly lifetimeSeconds: number;
  readonly notAfterCap?: Date;
  readonly now: Date;
}

/**
 * The sign stage of the issuance pipeline, shared by the CA (leaves, OCSP signers) and the CLI
 * ceremonies (roots, sub-CAs, cross-certificates, service certificates): the profile's validity
 * under the one clamp, its subject and extensions, a fresh serial (A00.FR.508), signed once.
 * Nothing is recorded here; see issue() for what leaves add.
 */
export async function certify(profile: Profile, issuer: IssuerFacts, signer: TbsSigner, input: CertifyInput): Promise<Certified> {
  const validity = validityWindow(profile.validity, { now: input.now, lifetimeSeconds: input.lifetimeSeconds, issuerNotAfter: issuer.notAfter, notAfterCap: input.notAfterCap });
  if ('error' in validity) throw new ValidityError(validity.error);
  const attributes = profile.subjectAttributes(issuer, input.subject);
  // Re-encoded (UTF8String, PrintableString where the profile has it), never the CSR's string types (issue 14.10).
  const subjectDer = input.subject.subjectName ?? buildName(attributes);
  const serial = randomSerial();
  const der = await signCertificate(signer, issuer.name, {
    serial,
    ...validity,
    subject: subjectDer,
    spki: input.subject.publicKey.common.spki,
    extensions: extensionsOf(profile, issuer)(input.subject),
  });
  // V2G.size (ISO 15118-2 Annex F): what the EV must hold; refused here, so never recorded or answered.
  if (profile.maxDerBytes !== undefined && der.length > profile.maxDerBytes)
    throw new AppError('policy', `the ${profile.requestName} request violates policy`, [
      { rule: Rule.v2gSize, message: `the certificate would be ${der.length} bytes; at most ${profile.maxDerBytes} are allowed (shorter names or URLs)` },
    ]);
  return { der, serial: serialToHex(serial), ...validity, subject: nameToString({ der: subjectDer, rdns: attributes.map((a) => [{ tag: 0x0c, ...a }]) }) };
}
