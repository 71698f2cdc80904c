import { parseArgs } from 'node:util';
import type { IssuerKeyAlgorithm } from '@evpki/keys';
import { CliError } from './cli-error.js';
import { initPki } from './init.js';
import { mintToken } from './token.js';
import { runRenew } from './renew.js';

const USAGE = `pki: administer the EV charging PKI

Usage:
  pki init [--dev] [--force] [--algorithm ecdsa-p256|ecdsa-p384|rsa-pss-3072] [--org NAME] [--ocsp-url URL] [--json]
      Create a root CA, an issuing sub-CA for charge point certificates and the service credentials.
      --dev also creates tenant "demo" (CPO name "Demo CPO") and a JWT key for \`pki token\`.
      Issuer keys are encrypted with the passphrase from PKI_KEY_PASSPHRASE_FILE or PKI_KEY_PASSPHRASE
      (--dev without either writes a random one to <data>/secrets/key-passphrase).
  pki token --tenant ID [--ttl SECONDS]
      Print a bearer token for the RA (dev PKI only).
  pki renew --ra-url URL --token-file F --org NAME --cn FQDN [--san NAME,...] [--key-type ec-p256|ec-p384|rsa-3072]
            [--validity-hours N] [--key-out F --cert-out F] [--bundle-out F] [--k8s-secret NAME] [--daemon] [--json]
      Get a CSMS server certificate (under 24 h, A00.FR.701) with a fresh key: writes the key (0600) and
      the chain (leaf, issuing CA) atomically, the key first, the chain last; --bundle-out writes both to
      one file; --k8s-secret NAME writes a kubernetes.io/tls Secret through the in-cluster API.
      --ra-url and --token-file default to $PKI_RA_URL and $PKI_RA_TOKEN_FILE; the token file is re-read on
      every attempt. --daemon renews at about 2/3 of each lifetime (±10 %), retries with backoff
      (1 s doubling to 5 min), keeps the old files until a new pair is written, stops on SIGTERM/SIGINT.

Options:
  --data-dir DIR   PKI data directory (default: $PKI_DATA_DIR or ./data)
  -h, --help       This help

Exit codes: 0 success, 1 failure, 2 bad input or state (for example a PKI that already exists, or the
RA refusing a request with 4xx), 75 temporary failure (RA unreachable or answering 5xx: retry later).
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string' },
      dev: { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      algorithm: { type: 'string', default: 'ecdsa-p256' },
      org: { type: 'string' },
      'ocsp-url': { type: 'string' },
      tenant: { type: 'string' },
      ttl: { type: 'string', default: '3600' },
      'ra-url': { type: 'string' },
      'token-file': { type: 'string' },
      cn: { type: 'string' },
      san: { type: 'string' },
      'key-type': { type: 'string' },
      'validity-hours': { type: 'string' },
      'key-out': { type: 'string' },
      'cert-out': { type: 'string' },
      'bundle-out': { type: 'string' },
      'k8s-secret': { type: 'string' },
      daemon: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const dataDir = values['data-dir'] ?? process.env.PKI_DATA_DIR ?? './data';
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  switch (command) {
    case 'init': {
      const organization = values.org ?? (values.dev ? 'Demo CPO' : undefined);
      if (!organization) throw new CliError('--org is required (the CPO organisation name for the CA certificates)', 2);
      const m = await initPki({
        dataDir,
        dev: values.dev,
        force: values.force,
        algorithm: values.algorithm as IssuerKeyAlgorithm,
        organization,
        publicOcspBase: (values['ocsp-url'] ?? `http://127.0.0.1:${process.env.OCSP_PORT ?? 8082}`).replace(/\/$/, ''),
        env: process.env,
      });
      if (values.json) process.stdout.write(JSON.stringify(m) + '\n');
      else process.stdout.write(`PKI created in ${dataDir}: root ${m.issuers.root}, charge point CA ${m.issuers.chargePoint} (${m.algorithm})\n`);
      return 0;
    }
    case 'token': {
      if (!values.tenant) throw new CliError('--tenant is required', 2);
      const ttl = Number(values.ttl);
      if (!Number.isInteger(ttl) || ttl < 60 || ttl > 86400) throw new CliError('--ttl must be 60..86400 seconds', 2);
      process.stdout.write((await mintToken({ dataDir, tenant: values.tenant, ttlSeconds: ttl })) + '\n');
      return 0;
    }
    case 'renew':
      return runRenew(values, process.env);
    default:
      throw new CliError(`unknown command "${command}"; see pki --help`, 2);
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    const err = e as Error & { code?: string };
    if (e instanceof CliError) {
      process.stderr.write(`pki: ${e.message}\n`);
      process.exitCode = e.exitCode;
    } else if (err.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`pki: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`pki: ${err.message ?? String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
