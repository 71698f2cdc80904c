import type { Command } from './command.js';
import { DEFAULT_CA_HOSTNAMES, SERVICE_CERT_DAYS } from './service-cert-defaults.js';

export const serviceCertsRenewCommand: Command = {
  name: 'service-certs renew',
  summary: 'new TLS certificates for CA, RA and OCSP from the internal service CA (RA/OCSP -> CA mutual TLS)',
  help: `Usage: pki service-certs renew [--if-expiring-within DURATION] [--ca-hostnames LIST] [--new-ca] [--k8s-secrets] [--json]

Issues the three service certificates again, with new keys, from the internal service CA that
\`pki init\` made: the CA's TLS server certificate (secrets/ca-server.pem, .key.pem) and the client
certificates of the RA (secrets/ra-client.*, CN pki-ra) and of the OCSP responder
(secrets/ocsp-client.*, CN pki-ocsp). They are valid ${SERVICE_CERT_DAYS} days: renew them within the year.
Keys are EC P-256, unencrypted, mode 0600; the service CA key is opened with its passphrase
(PKI_SERVICE_CA_KEY_PASSPHRASE_FILE, else PKI_KEY_PASSPHRASE_FILE or PKI_KEY_PASSPHRASE; --dev PKIs:
secrets/key-passphrase).
Running it again just issues again; with --if-expiring-within it issues only when one of the three
expires within that time (or is missing), else changes nothing (exit 0): what the CronJob
pki-service-certs-renew runs.

The running CA, RA and OCSP responder pick the new files up without a restart (they compare them
every PKI_SERVICE_TLS_RELOAD_INTERVAL_MS, default 5 s): the CA's next handshakes present its new
certificate, the RA's and the responder's next connections theirs; requests under way finish on the
old connections. Each file is replaced atomically (key first); a service that sees a new key with
the old certificate keeps what it has until the pair matches. With the Redis overlay the services
read Secrets: --k8s-secrets writes them (k8s/README.md, "Service certificates").

Options:
  --ca-hostnames LIST  comma-separated DNS names and IP addresses for the CA server certificate
                       (default: the names of the current one; pki init's default is
                       ${DEFAULT_CA_HOSTNAMES.join(',')})
  --if-expiring-within DURATION  renew only when a service certificate expires within DURATION
                       (e.g. 30d, 720h, 4w; 1h to 3650d)
  --new-ca             make a new service CA first (after a service key leaked: certificates of the
                       old one are no longer trusted once the services reload; calls to the CA may
                       fail until all three have reloaded, about PKI_SERVICE_TLS_RELOAD_INTERVAL_MS)
  --k8s-secrets        then write the files into the Secrets pki-ca-tls, pki-ra-tls and pki-ocsp-tls
                       (ca.crt, tls.crt, tls.key; one merge patch each) through the in-cluster API, on
                       every run, renewed or not (a failed update is completed by the next run)
  --json               print the serial numbers and expiry as JSON

Exit 2: no PKI or no service CA in the data directory, no passphrase, bad --ca-hostnames or
--if-expiring-within.
`,
  options: {
    'ca-hostnames': { type: 'string' },
    'new-ca': { type: 'boolean', default: false },
    'if-expiring-within': { type: 'string' },
    'k8s-secrets': { type: 'boolean', default: false },
  },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./service-certs-run.js')).serviceCertsRenew(values, positionals, ctx),
};

