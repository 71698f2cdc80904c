/**
 * A manufacturer PKI made with the real `openssl` CLI (`openssl ca`, one database per CA), for the
 * path validation tests and the manufacturer enrolment tests:
 *
 *   root ("<name> Root CA", self-signed) → intermediate ("<name> Issuing CA", pathlen 0) → leaf (a station, clientAuth)
 *   otherRoot: a second, unrelated self-signed root (never a trust anchor of the manufacturer)
 *
 * Every certificate is an `MfrCert` (PEM, DER, key, files on disk). `issue` makes more certificates
 * (any issuer, CA or end entity, chosen validity dates, pathLen, extra extension lines), `revoke`
 * and `crl` produce CRLs signed with `openssl ca -gencrl`. Keys are P-256, P-384 or P-521 (ECDSA
 * with SHA-256), RSA 2048 (sha256WithRSAEncryption, or RSASSA-PSS with `rsaPss`) or Ed25519.
 * Call `cleanup()` when done.
 *
 * Usage:
 *   const pki = makeManufacturerPki({ keyType: 'p256' });
 *   await validatePath({ leaf: pki.leaf.der, intermediates: [pki.intermediate.der], trustAnchors: [pki.root.der], at: new Date() });
 *   const expired = pki.issue({ subject: '/CN=CP-OLD', issuer: pki.intermediate, notBefore: past, notAfter: lessPast });
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openssl } from './openssl.js';

export type MfrKeyType = 'p256' | 'p384' | 'p521' | 'rsa' | 'ed25519';

export interface MfrCert {
  /** The subject as given to openssl (`/O=.../CN=...`). */
  readonly subject: string;
  readonly pem: string;
  readonly der: Buffer;
  readonly certFile: string;
  readonly keyPem: string;
  readonly keyFile: string;
  /** Set for CA certificates: the `openssl ca` directory that issues with this certificate. */
  readonly caDir?: string;
}

export interface IssueOptions {
  /** openssl -subj form, e.g. '/O=Acme Chargers/CN=CP-0001'. */
  readonly subject: string;
  /** The issuing CA; omitted: self-signed. */
  readonly issuer?: MfrCert;
  /** A CA certificate (basicConstraints cA, keyCertSign and cRLSign unless `keyUsage` says otherwise). */
  readonly ca?: boolean;
  readonly pathLen?: number;
  /** keyUsage value, e.g. 'critical,digitalSignature' (default: CA 'critical,keyCertSign,cRLSign', leaf 'critical,digitalSignature'). */
  readonly keyUsage?: string;
  /** Extra lines of the extension section, e.g. 'nameConstraints=critical,permitted;DNS:example.com'. */
  readonly extensions?: readonly string[];
  /** Extra config sections the extension lines refer to (e.g. a dirName section). */
  readonly sections?: string;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Key of the new certificate (default: the PKI's keyType). */
  readonly keyType?: MfrKeyType;
  /** Digest openssl signs with (default sha256), e.g. 'sha1' for a weak-signature case. */
  readonly md?: string;
  /** Sign with RSASSA-PSS (RSA issuers only). */
  readonly rsaPss?: boolean;
  /** Reuse this key (same subject and key: key rollover, loops) instead of a new one. */
  readonly keyFile?: string;
}

export interface ManufacturerPki {
  readonly dir: string;
  readonly keyType: MfrKeyType;
  readonly root: MfrCert;
  readonly intermediate: MfrCert;
  /** A station certificate: clientAuth, valid from an hour ago for a year. */
  readonly leaf: MfrCert;
  /** An unrelated second root with the same kind of key. */
  readonly otherRoot: MfrCert;
  issue(opts: IssueOptions): MfrCert;
  /** Marks `cert` revoked in its issuer's database (`openssl ca -revoke`). */
  revoke(issuer: MfrCert, cert: MfrCert): void;
  /** A CRL of `issuer` (`openssl ca -gencrl`, cRLNumber and AKI included), DER. */
  crl(issuer: MfrCert, opts?: { days?: number }): Buffer;
  cleanup(): void;
}

const HOUR = 3600_000;
const DAY = 24 * HOUR;

function run(args: string[]): string {
  const r = openssl(args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** openssl ca date form YYYYMMDDHHMMSSZ. */
const caDate = (d: Date): string => d.toISOString().slice(0, 19).replace(/[-:T]/g, '') + 'Z';

function genKey(file: string, type: MfrKeyType): void {
  if (type === 'rsa') run(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', file]);
  else if (type === 'ed25519') run(['genpkey', '-algorithm', 'ED25519', '-out', file]);
  else run(['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${{ p256: 'P-256', p384: 'P-384', p521: 'P-521' }[type]}`, '-out', file]);
}

function caConfig(caDir: string): string {
  return `[ ca ]
default_ca = CA_default
[ CA_default ]
dir = ${caDir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
default_crl_days = 30
crl_extensions = crl_ext
[ policy_any ]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
[ crl_ext ]
authorityKeyIdentifier = keyid:always
[ req ]
distinguished_name = req_dn
[ req_dn ]
`;
}

function makeCaDir(dir: string): string {
  mkdirSync(join(dir, 'newcerts'), { recursive: true });
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString('hex').replace(/^./, '1') + '\n');
  writeFileSync(join(dir, 'crlnumber'), '1000\n');
  writeFileSync(join(dir, 'ca.cnf'), caConfig(dir));
  return dir;
}

/** Builds the PKI in a new temporary folder (or `dir`). Takes about a second (RSA: a few). */
export function makeManufacturerPki(opts: { keyType: MfrKeyType; name?: string; dir?: string }): ManufacturerPki {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'mfr-pki-'));
  const name = opts.name ?? 'Acme Chargers';
  let n = 0;

  const issue = (o: IssueOptions): MfrCert => {
    const id = `c${++n}`;
    const keyFile = o.keyFile ?? join(dir, `${id}.key`);
    if (!o.keyFile) genKey(keyFile, o.keyType ?? opts.keyType);
    const csr = join(dir, `${id}.csr`);
    const caDir = o.ca ? makeCaDir(join(dir, `${id}-ca`)) : undefined;
    const signer = o.issuer?.caDir ?? caDir;
    if (!signer) throw new Error('a self-signed certificate must be a CA (ca: true)');
    run(['req', '-new', '-key', keyFile, '-subj', o.subject, '-out', csr, '-config', join(signer, 'ca.cnf')]);
    const lines = o.ca
      ? [`basicConstraints=critical,CA:true${o.pathLen !== undefined ? `,pathlen:${o.pathLen}` : ''}`, `keyUsage=${o.keyUsage ?? 'critical,keyCertSign,cRLSign'}`]
      : ['basicConstraints=critical,CA:false', `keyUsage=${o.keyUsage ?? 'critical,digitalSignature'}`, 'extendedKeyUsage=clientAuth'];
    lines.push('subjectKeyIdentifier=hash');
    if (o.issuer) lines.push('authorityKeyIdentifier=keyid:always');
    lines.push(...(o.extensions ?? []));
    const extFile = join(dir, `${id}.ext`);
    writeFileSync(extFile, `[ ext ]\n${lines.join('\n')}\n${o.sections ?? ''}\n`);
    const certFile = join(dir, `${id}.pem`);
    const notBefore = o.notBefore ?? new Date(Date.now() - HOUR);
    const notAfter = o.notAfter ?? new Date(notBefore.getTime() + (o.ca ? 3650 : 365) * DAY);
    run([
      'ca', '-batch', '-notext', '-preserveDN', '-config', join(signer, 'ca.cnf'), '-in', csr, '-out', certFile,
      '-extfile', extFile, '-extensions', 'ext', '-startdate', caDate(notBefore), '-enddate', caDate(notAfter),
      ...(o.issuer ? ['-cert', o.issuer.certFile, '-keyfile', o.issuer.keyFile] : ['-selfsign', '-keyfile', keyFile]),
      ...(o.md ? ['-md', o.md] : []),
      ...(o.rsaPss ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'] : []),
    ]);
    const pem = readFileSync(certFile, 'utf8');
    return { subject: o.subject, pem, der: derOf(certFile), certFile, keyPem: readFileSync(keyFile, 'utf8'), keyFile, ...(caDir ? { caDir } : {}) };
  };

  const root = issue({ subject: `/O=${name}/CN=${name} Root CA`, ca: true, notBefore: new Date(Date.now() - DAY) });
  const intermediate = issue({ subject: `/O=${name}/CN=${name} Issuing CA`, issuer: root, ca: true, pathLen: 0, notBefore: new Date(Date.now() - DAY) });
  const leaf = issue({ subject: `/O=${name}/CN=CP-0001`, issuer: intermediate });
  const otherRoot = issue({ subject: `/O=${name}/CN=${name} Root CA`, ca: true, notBefore: new Date(Date.now() - DAY) });

  return {
    dir,
    keyType: opts.keyType,
    root,
    intermediate,
    leaf,
    otherRoot,
    issue,
    revoke(issuer, cert) {
      if (!issuer.caDir) throw new Error('not a CA');
      run(['ca', '-batch', '-config', join(issuer.caDir, 'ca.cnf'), '-cert', issuer.certFile, '-keyfile', issuer.keyFile, '-revoke', cert.certFile, '-crl_reason', 'keyCompromise']);
    },
    crl(issuer, o) {
      if (!issuer.caDir) throw new Error('not a CA');
      const out = join(issuer.caDir, `crl-${++n}.pem`);
      run(['ca', '-batch', '-config', join(issuer.caDir, 'ca.cnf'), '-cert', issuer.certFile, '-keyfile', issuer.keyFile, '-gencrl', '-crldays', String(o?.days ?? 30), '-out', out]);
      return derOf(out);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** DER of the (single) PEM block in a file. */
function derOf(pemFile: string): Buffer {
  return Buffer.from(readFileSync(pemFile, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}
