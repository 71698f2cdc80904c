/**
 * An external V2G PKI made by the openssl CLI (as EVerest's and other ISO 15118 PKI scripts do): root
 * (pathLen 2), CPO Sub-CA 1 (1), CPO Sub-CA 2 (0), keyCertSign+cRLSign, SHA-1 key identifiers.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openssl } from './openssl.js';

const EXTENSIONS = `[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical,CA:true,pathlen:2
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[sub1]
basicConstraints = critical,CA:true,pathlen:1
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[sub2]
basicConstraints = critical,CA:true,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

function run(args: string[]): void {
  const r = openssl(args);
  assert.equal(r.code, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

/** A CA of the external PKI: `name`.key and `name`.pem, signed by `parent` (undefined: self-signed). */
export function externalCa(work: string, name: string, section: 'root' | 'sub1' | 'sub2', subject: string, parent?: string, curve = 'P-256'): void {
  const f = (n: string): string => join(work, n);
  writeFileSync(f('ext.cnf'), EXTENSIONS);
  run(['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${curve}`, '-out', f(`${name}.key`)]);
  if (!parent) {
    run(['req', '-x509', '-new', '-config', f('ext.cnf'), '-extensions', section, '-key', f(`${name}.key`), '-subj', subject, '-days', '3650', '-sha256', '-out', f(`${name}.pem`)]);
    return;
  }
  run(['req', '-new', '-config', f('ext.cnf'), '-key', f(`${name}.key`), '-subj', subject, '-sha256', '-out', f(`${name}.csr`)]);
  run(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${parent}.pem`), '-CAkey', f(`${parent}.key`), '-set_serial', String(Date.now()), '-extfile', f('ext.cnf'), '-extensions', section, '-days', '1000', '-sha256', '-out', f(`${name}.pem`)]);
}

