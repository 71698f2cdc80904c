import type { RotationKind, RotationStep } from '@evpki/store';
import { ROTATION_STEPS } from '@evpki/store/rotation-steps';
import type { Command } from './command.js';
import { PKCS11_OPTIONS, PKCS11_OPTIONS_HELP } from './pkcs11-options-help.js';

// The rotation commands' options and help; their implementation (rotation-run.ts) is imported when they run.

const STEP_HELP: Record<RotationStep, Record<RotationKind, string>> = {
  prepare: {
    root: `Creates a new root CA (key and certificate), cross-certificates between the old and the new root
(each signed by the other's key) and a new issuing CA under the new root, all inactive. The new keys
are written encrypted (the root's with PKI_ROOT_KEY_PASSPHRASE_FILE, the issuing CA's with
PKI_ISSUING_KEY_PASSPHRASE_FILE, each else PKI_KEY_PASSPHRASE_FILE) to <data-dir>/keys/; the CA picks up the issuing CA's
key from its keys/ directory (with --k8s-secret NAME also added to that Secret). With --pkcs11-*
the new issuing CA key is generated in the token instead (the new root key stays a file), and
keys/<issuer>.pkcs11.json (with --k8s-secret: in that Secret) names it.

PKCS#11 options:
${PKCS11_OPTIONS_HELP}`,
    issuer: `Creates a new issuing CA (charge point and CSMS server certificates) under the active root,
inactive (the root key is opened with PKI_ROOT_KEY_PASSPHRASE_FILE). Its key is written encrypted
(PKI_ISSUING_KEY_PASSPHRASE_FILE) to <data-dir>/keys/ (and with --k8s-secret NAME to that Secret).
With --pkcs11-* it is generated in the token instead, and keys/<issuer>.pkcs11.json (with
--k8s-secret: in that Secret) names it; the CA needs PKI_PKCS11_PIN_FILE.
With --hierarchy v2g the new CA is a CPO Sub-CA 2 (EC P-256) signed by the active CPO Sub-CA 1 (its
key is opened with the root passphrase); \`pki rotate-root --hierarchy v2g\` is refused.

PKCS#11 options:
${PKCS11_OPTIONS_HELP}`,
  },
  publish: {
    root: `Publishes the new root: GET /v1/trust-anchors returns both roots, each with its CertificateHashData
and cross-certificate, so the CSMS can install the new root on every station (InstallCertificate.req).
Activate only when every station has it.`,
    issuer: 'Publishes the new issuing CA (its certificate is served at /issuers/<id>.der; the OCSP responder gets its signer).',
  },
  activate: {
    root: `New charge point and CSMS server certificates are issued under the new root and issuing CA (the
chain returned is the new leaf and the new issuing CA). The old hierarchy stays valid. Refused unless
the CA at --ca-url (its ops listener: default $PKI_CA_URL, http://127.0.0.1:8083) holds the new issuing
CA key.`,
    issuer: `New certificates are issued by the new issuing CA. Refused unless the CA at --ca-url (its ops
listener: default $PKI_CA_URL, http://127.0.0.1:8083) holds its key.`,
  },
  retire: {
    root: `The old issuing CA signs no more; its OCSP responses and CRLs are served until its last certificate
expires. The old root leaves /v1/trust-anchors when no valid certificate depends on it, or now with
--force.`,
    issuer: 'The old issuing CA signs no more; its OCSP responses and CRLs are served until its last certificate expires.',
  },
};

const STEP_SUMMARY: Record<RotationStep, Record<RotationKind, string>> = {
  prepare: { root: 'root rotation 1/4: new root, cross-certificates, new issuing CA (inactive)', issuer: 'issuing CA rotation 1/4: new issuing CA under the root (inactive)' },
  publish: { root: 'root rotation 2/4: list both roots in /v1/trust-anchors', issuer: 'issuing CA rotation 2/4: publish the new issuing CA' },
  activate: { root: 'root rotation 3/4: issue new certificates under the new hierarchy', issuer: 'issuing CA rotation 3/4: issue new certificates from the new issuing CA' },
  retire: { root: 'root rotation 4/4: retire the old issuing CA and root', issuer: 'issuing CA rotation 4/4: retire the old issuing CA' },
};

const STEP_OPTIONS = {
  prepare: { algorithm: { type: 'string' }, 'k8s-secret': { type: 'string' }, ...PKCS11_OPTIONS },
  publish: {},
  activate: { 'ca-url': { type: 'string' }, 'skip-ca-check': { type: 'boolean' } },
  retire: { force: { type: 'boolean' } },
} as const;

const STEP_USAGE: Record<RotationStep, string> = {
  prepare: '[--algorithm ecdsa-p256|ecdsa-p384|rsa-pss-3072] [--k8s-secret NAME] [--pkcs11-module PATH --pkcs11-token-label LABEL [--pkcs11-pin-file FILE]]',
  publish: '',
  activate: '[--ca-url URL | --skip-ca-check]',
  retire: '[--force]',
};

const COMMON_HELP = `
Every step is idempotent: run again after a crash or a timeout and it resumes, or says it was done.
Each step is written to the audit log. Run \`pki status\` to see where a rotation stands.

Options:
  --hierarchy NAME  The CA hierarchy to rotate (default csms: charge point and CSMS server
                 certificates); only its CAs and its rotation are read and written
  --dry-run      Show the state changes without writing anything
  --json         Print the result as JSON
  --data-dir DIR PKI data directory (default: $PKI_DATA_DIR or ./data)

Exit codes: 0 done (or already done), 1 failure, 2 out of order or bad state (e.g. the CA lacks the
new key), 75 temporary (store or CA unreachable, or another rotation command ran concurrently): retry.
`;

function stepCommand(kind: RotationKind, step: RotationStep): Command {
  return {
    name: `rotate-${kind} ${step}`,
    summary: STEP_SUMMARY[step][kind],
    help: `Usage: pki rotate-${kind} ${step} ${STEP_USAGE[step]} [--hierarchy NAME] [--dry-run] [--json]\n\n${STEP_HELP[step][kind]}\n${COMMON_HELP}`,
    options: { ...STEP_OPTIONS[step], hierarchy: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    run: async (values, _positionals, ctx) => (await import('./rotation-run.js')).rotationStep(kind, step, values, ctx),

  };
}

const statusCommand: Command = {
  name: 'status',
  summary: 'every CA of a hierarchy with its state, and where its rotation stands',
  help: `Usage: pki status [--hierarchy NAME] [--json]

Lists every root and issuing CA of the hierarchy (default csms; state, trust anchor or not, notAfter,
the latest expiry of the certificates it signed) and its current or last rotation with the next
step to run.

Exit codes: 0, 1 failure, 75 store unreachable.
`,
  options: { hierarchy: { type: 'string' } },
  run: async (values, positionals, ctx) => (await import('./rotation-run.js')).rotationStatus(values, positionals, ctx),

};

export const rotationCommands: Command[] = [
  ...(['root', 'issuer'] as const).flatMap((kind) => ROTATION_STEPS.map((step) => stepCommand(kind, step))),
  statusCommand,
];
