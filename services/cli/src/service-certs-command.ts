import { serialToHex } from '@evpki/x509';
import type { Command } from './command.js';
import { EXIT } from './exit-codes.js';
import { checkPkiStore } from './open-pki-store.js';
import { DEFAULT_CA_HOSTNAMES, SERVICE_CERT_DAYS, formatServerNames, parseCaHostnames, renewServiceCerts } from './service-certs.js';

export const serviceCertsRenewCommand: Command = {
  name: 'service-certs renew',
  summary: 'new TLS certificates for CA, RA and OCSP from the internal service CA (RA/OCSP -> CA mutual TLS)',
  help: `Usage: pki service-certs renew [--ca-hostnames LIST] [--new-ca] [--json]

Issues the three service certificates again, with new keys, from the internal service CA that
\`pki init\` made: the CA's TLS server certificate (secrets/ca-server.pem, .key.pem) and the client
certificates of the RA (secrets/ra-client.*, CN pki-ra) and of the OCSP responder
(secrets/ocsp-client.*, CN pki-ocsp). They are valid ${SERVICE_CERT_DAYS} days: renew them within the year.
Keys are EC P-256, unencrypted, mode 0600; the service CA key is opened with its passphrase
(PKI_SERVICE_CA_KEY_PASSPHRASE_FILE, else PKI_KEY_PASSPHRASE_FILE or PKI_KEY_PASSPHRASE; --dev PKIs:
secrets/key-passphrase).
Running it again just issues again.

The services read these files at start: restart the CA, the RA and the OCSP responder afterwards
(in Kubernetes: update their TLS Secrets, then \`kubectl rollout restart\`; see k8s/README.md).
Until a service restarts it keeps its old certificate, which stays valid until it expires.

Options:
  --ca-hostnames LIST  comma-separated DNS names and IP addresses for the CA server certificate
                       (default: the names of the current one; pki init's default is
                       ${DEFAULT_CA_HOSTNAMES.join(',')})
  --new-ca             make a new service CA first (after a service key leaked: certificates of the
                       old one are no longer trusted once the services restart; restart all three)
  --json               print the serial numbers and expiry as JSON

Exit 2: no PKI or no service CA in the data directory, no passphrase, bad --ca-hostnames.
`,
  options: {
    'ca-hostnames': { type: 'string' },
    'new-ca': { type: 'boolean', default: false },
  },
  positionals: { min: 0, max: 0 },
  async run(values, _positionals, ctx) {
    const list = values['ca-hostnames'] as string | undefined;
    checkPkiStore(ctx.dataDir, ctx.env);
    const r = await renewServiceCerts({
      dataDir: ctx.dataDir,
      env: ctx.env,
      newCa: values['new-ca'] === true,
      ...(list === undefined ? {} : { names: parseCaHostnames(list) }),
    });
    const certs = Object.fromEntries(Object.entries(r.issued).map(([name, c]) => [name, { serialNumber: serialToHex(c.serial), notAfter: c.notAfter.toISOString() }]));
    if (ctx.json) ctx.out(JSON.stringify({ serviceCa: { serialNumber: serialToHex(r.serviceCa.serial), notAfter: r.serviceCa.notAfter.toISOString(), new: r.newCa }, caHostnames: formatServerNames(r.names), certificates: certs }) + '\n');
    else
      ctx.out(
        `${r.newCa ? 'New service CA; service' : 'Service'} certificates renewed in ${ctx.dataDir}/secrets, valid until ${r.issued['ca-server'].notAfter.toISOString()}; ` +
          `CA server names: ${formatServerNames(r.names).join(', ')}.\nRestart the CA, the RA and the OCSP responder to use them.\n`,
      );
    return EXIT.ok;
  },
};
