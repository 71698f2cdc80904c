import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { loadPassphrase, readPrivateKey, writeFileAtomic, writePrivateKey } from '@evpki/keys';
import { SERVICE_CERT_NAMES, dataPaths, readManifest, type ServiceCertName } from '@evpki/service';
import { OID, attributeValues, certificateFromPem, ipAddressOctets, parseSubjectAltNames, toPem, type ParsedCertificate } from '@evpki/x509';
import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';
import { makeRoot, makeServiceCert } from './hierarchy.js';
import { addToSecret, type K8sApiTarget } from './k8s-secret.js';
import { DEFAULT_CA_HOSTNAMES, SERVICE_CERT_DAYS } from './service-cert-defaults.js';

/**
 * The internal service CA of RA → CA and OCSP → CA mutual TLS (issue 7): its own self-signed EC
 * P-256 root, used only by the CLI, issuing the CA's server certificate and the RA's and OCSP
 * responder's client certificates. Services read these files at start.
 */

const SERVICE_CA_YEARS = 10;
export { DEFAULT_CA_HOSTNAMES, SERVICE_CERT_DAYS } from './service-cert-defaults.js';

export interface ServiceCa {
  readonly cert: ParsedCertificate;
  readonly key: KeyObject;
}

export interface ServerNames {
  readonly dns: readonly string[];
  readonly ipOctets: readonly Buffer[];
}

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** `--ca-hostnames`: comma-separated DNS names and IP addresses; exit 2 on anything else. */
export function parseCaHostnames(list: string | readonly string[]): ServerNames {
  const entries = (typeof list === 'string' ? list.split(',') : list).map((e) => e.trim()).filter(Boolean);
  if (!entries.length) throw new CliError('--ca-hostnames names no host', EXIT.badInput);
  const dns: string[] = [];
  const ipOctets: Buffer[] = [];
  for (const e of entries) {
    if (isIP(e)) {
      try {
        ipOctets.push(ipAddressOctets(e));
      } catch (err) {
        throw new CliError(`--ca-hostnames: ${(err as Error).message}`, EXIT.badInput);
      }
    } else if (DNS_NAME.test(e)) dns.push(e.toLowerCase());
    else throw new CliError(`--ca-hostnames: "${e}" is neither a DNS name nor an IP address`, EXIT.badInput);
  }
  return { dns, ipOctets };
}

/** An IP address in its usual text form (IPv6 compressed), for messages. */
function formatIp(octets: Buffer): string {
  if (octets.length === 4) return [...octets].join('.');
  const groups = Array.from({ length: 8 }, (_, i) => octets.readUInt16BE(i * 2).toString(16));
  const text = groups.join(':');
  const zeros = (text.match(/(^|:)0(:0)+(:|$)/g) ?? []).sort((a, b) => b.length - a.length)[0];
  return zeros ? text.replace(zeros, '::') : text;
}

export function formatServerNames(names: ServerNames): string[] {
  return [...names.dns, ...names.ipOctets.map(formatIp)];
}

/** A new service CA (self-signed, EC P-256, 10 years); its key encrypted with the service CA key passphrase. */
export async function createServiceCa(dataDir: string, organization: string, passphrase: string, now: Date): Promise<ServiceCa> {
  const paths = dataPaths(dataDir);
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const cert = await makeRoot(key, { organization, commonName: `${organization} Internal Service CA` }, now, SERVICE_CA_YEARS);
  writePrivateKey(paths.serviceCaKey, key, passphrase);
  writeFileAtomic(paths.serviceCaCert, toPem('CERTIFICATE', cert.der));
  return { cert, key };
}

/**
 * New keys (EC P-256, unencrypted, mode 0600: each goes to one service) and certificates for the CA
 * server (serverAuth, `names`) and the RA and OCSP clients (clientAuth, CN pki-ra / pki-ocsp).
 */
export async function issueServiceCerts(dataDir: string, ca: ServiceCa, names: ServerNames, now: Date): Promise<Record<ServiceCertName, ParsedCertificate>> {
  const paths = dataPaths(dataDir);
  if (ca.cert.notAfter <= now) throw new CliError(`the service CA expired on ${ca.cert.notAfter.toISOString()}: use \`pki service-certs renew --new-ca\``, EXIT.badInput);
  const organization = attributeValues(ca.cert.subject, OID.organizationName)[0] ?? 'EV PKI';
  const issued = {} as Record<ServiceCertName, ParsedCertificate>;
  for (const [name, { commonName, use }] of Object.entries(SERVICE_CERT_NAMES) as [ServiceCertName, (typeof SERVICE_CERT_NAMES)[ServiceCertName]][]) {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const cert = await makeServiceCert(key, { organization, commonName }, ca.cert, ca.key, now, SERVICE_CERT_DAYS, use === 'server' ? { server: names } : { client: true });
    const files = paths.serviceCert(name);
    writePrivateKey(files.key, key);
    writeFileAtomic(files.cert, toPem('CERTIFICATE', cert.der));
    issued[name] = cert;
  }
  return issued;
}

export interface RenewServiceCertsOptions {
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** The CA server certificate's names; default: those of the current one (else DEFAULT_CA_HOSTNAMES). */
  readonly names?: ServerNames;
  /** Replace the service CA too (after a leaked service key: the old certificates stop being trusted). */
  readonly newCa?: boolean;
  readonly now?: Date;
}

export interface RenewedServiceCerts {
  readonly serviceCa: ParsedCertificate;
  readonly newCa: boolean;
  readonly names: ServerNames;
  readonly issued: Record<ServiceCertName, ParsedCertificate>;
}

/** The names of the current CA server certificate, if there is one. */
function currentServerNames(dataDir: string): ServerNames | undefined {
  const file = dataPaths(dataDir).serviceCert('ca-server').cert;
  if (!existsSync(file)) return undefined;
  const san = certificateFromPem(readFileSync(file, 'utf8')).extensions.find((e) => e.oid === OID.subjectAltName);
  if (!san) return undefined;
  const { dns, ipOctets } = parseSubjectAltNames(san.value);
  return { dns, ipOctets };
}

function readServiceCaKey(path: string, passphrase: string): KeyObject {
  try {
    return readPrivateKey(path, passphrase);
  } catch (e) {
    throw new CliError((e as Error).message, EXIT.badInput);
  }
}

/** The Secrets the services read their mutual TLS files from in the Redis overlay (k8s/overlays/redis patch-*.yaml). */
export const SERVICE_TLS_SECRETS: Record<ServiceCertName, string> = { 'ca-server': 'pki-ca-tls', 'ra-client': 'pki-ra-tls', 'ocsp-client': 'pki-ocsp-tls' };

/**
 * `--k8s-secrets`: the service CA certificate and each service's certificate and key, from the data
 * directory, into that service's Secret (`ca.crt`, `tls.crt`, `tls.key`) with one merge patch each,
 * so a service never sees a new key with an old certificate. Done on every run, due or not: a run
 * whose Secret update failed after the files were written is completed by the next one (the same
 * content again changes nothing a service sees).
 */
export async function writeServiceTlsSecrets(dataDir: string, target: K8sApiTarget): Promise<string[]> {
  const paths = dataPaths(dataDir);
  const ca = readFileSync(paths.serviceCaCert, 'utf8');
  const written: string[] = [];
  for (const [name, secret] of Object.entries(SERVICE_TLS_SECRETS) as [ServiceCertName, string][]) {
    const files = paths.serviceCert(name);
    await addToSecret(target, secret, { 'ca.crt': ca, 'tls.crt': readFileSync(files.cert, 'utf8'), 'tls.key': readFileSync(files.key, 'utf8') });
    written.push(secret);
  }
  return written;
}

export interface ServiceCertExpiry {
  readonly name: ServiceCertName;
  /** undefined: missing or unreadable (due). */
  readonly notAfter: Date | undefined;
}

/** The notAfter of each of the three service certificates now in the data directory. */
export function serviceCertExpiries(dataDir: string): ServiceCertExpiry[] {
  const paths = dataPaths(dataDir);
  return (Object.keys(SERVICE_CERT_NAMES) as ServiceCertName[]).map((name) => {
    try {
      return { name, notAfter: certificateFromPem(readFileSync(paths.serviceCert(name).cert, 'utf8')).notAfter };
    } catch {
      return { name, notAfter: undefined };
    }
  });
}

/**
 * `--if-expiring-within`: the certificates that expire before `now + withinMs` (or cannot be read).
 * Empty: nothing is due, and the renewal does nothing (a CronJob can run it every week).
 */
export function dueServiceCerts(dataDir: string, withinMs: number, now: Date): ServiceCertExpiry[] {
  const limit = now.getTime() + withinMs;
  return serviceCertExpiries(dataDir).filter((c) => c.notAfter === undefined || c.notAfter.getTime() <= limit);
}

/**
 * `pki service-certs renew`: the three service certificates again, with new keys and serials, from
 * the service CA `pki init` made (or from a new one with `newCa`). Safe to repeat. The services read
 * the files at start: restart them afterwards.
 */
export async function renewServiceCerts(o: RenewServiceCertsOptions): Promise<RenewedServiceCerts> {
  const manifest = readManifest(o.dataDir);
  const paths = dataPaths(o.dataDir);
  if (!existsSync(paths.serviceCaCert) || !existsSync(paths.serviceCaKey))
    throw new CliError(`no service CA in ${o.dataDir} (${paths.serviceCaCert}, ${paths.serviceCaKey}): it is made by \`pki init\``, EXIT.badInput);
  let passphrase: string;
  try {
    passphrase = loadPassphrase(o.env, 'service-ca', manifest.dev ? paths.devPassphrase : undefined);
  } catch (e) {
    throw new CliError((e as Error).message, EXIT.badInput);
  }
  const now = o.now ?? new Date();
  const current = certificateFromPem(readFileSync(paths.serviceCaCert, 'utf8'));
  const organization = attributeValues(current.subject, OID.organizationName)[0] ?? 'EV PKI';
  const ca = o.newCa ? await createServiceCa(o.dataDir, organization, passphrase, now) : { cert: current, key: readServiceCaKey(paths.serviceCaKey, passphrase) };
  const names = o.names ?? currentServerNames(o.dataDir) ?? parseCaHostnames(DEFAULT_CA_HOSTNAMES);
  const issued = await issueServiceCerts(o.dataDir, ca, names, now);
  return { serviceCa: ca.cert, newCa: o.newCa === true, names, issued };
}
