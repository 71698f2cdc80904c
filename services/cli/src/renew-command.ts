import type { Command } from './command.js';
import type { RenewArgs } from './renew.js';

export const renewCommand: Command = {
  name: 'renew',
  summary: 'get a CSMS server certificate (under 24 h) with a fresh key; --daemon keeps renewing',
  help: `Usage: pki renew --ra-url URL --token-file F --org NAME --cn FQDN [--san NAME,...] [--key-type ec-p256|ec-p384|rsa-3072]
                 [--validity-hours N] [--key-out F --cert-out F] [--bundle-out F] [--k8s-secret NAME] [--daemon]
                 [--require-https] [--json]

Gets a CSMS server certificate (under 24 h, A00.FR.701) with a fresh key: writes the key (0600) and
the chain (leaf, issuing CA) atomically, the key first, the chain last; --bundle-out writes both to
one file; --k8s-secret NAME writes a kubernetes.io/tls Secret through the in-cluster API.
--ra-url and --token-file default to $PKI_RA_URL and $PKI_RA_TOKEN_FILE; the token file is re-read on
every attempt. --daemon renews at about 2/3 of each lifetime (±10 %), retries with backoff
(1 s doubling to 5 min), keeps the old files until a new pair is written, stops on SIGTERM/SIGINT.

Options:
  --ra-url URL          the RA (default $PKI_RA_URL)
  --token-file F        the bearer token file (default $PKI_RA_TOKEN_FILE)
  --org NAME            the tenant's CPO name (subject O)
  --cn FQDN             the server name (CN and first subjectAltName)
  --san NAME,...        more DNS names
  --key-type T          ec-p256 (default), ec-p384 or rsa-3072
  --validity-hours N    ask for a shorter lifetime (above 0, below 24)
  --key-out F --cert-out F, --bundle-out F, --k8s-secret NAME   where to write
  --daemon              keep renewing
  --require-https       refuse a plain-http --ra-url (without it, plain http is warned about on
                        stderr: the bearer token is sent in clear)
  --json                print the result as JSON

Exit 2: bad options or the RA refusing (4xx); 75: the RA unreachable or answering 5xx (retry later).
`,
  options: {
    'ra-url': { type: 'string' },
    'token-file': { type: 'string' },
    org: { type: 'string' },
    cn: { type: 'string' },
    san: { type: 'string' },
    'key-type': { type: 'string' },
    'validity-hours': { type: 'string' },
    'key-out': { type: 'string' },
    'cert-out': { type: 'string' },
    'bundle-out': { type: 'string' },
    'k8s-secret': { type: 'string' },
    daemon: { type: 'boolean', default: false },
    'require-https': { type: 'boolean', default: false },
  },
  positionals: { min: 0, max: 0 },
  run: async (values, _positionals, ctx) => (await import('./renew.js')).runRenew({ ...(values as RenewArgs), json: ctx.json }, ctx.env),
};
