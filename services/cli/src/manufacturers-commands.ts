import type { Command } from './command.js';

/**
 * `pki manufacturers add|list|remove`: the manufacturers whose device certificates a tenant trusts
 * for a station's first enrolment (issue 21, zero-touch onboarding). The same records as the RA's
 * /v1/manufacturers; every change goes to the audit log (actor "cli").
 * Options and help here; each command's implementation (manufacturers-run.ts) is imported when it runs.
 */

const EXIT_HELP = 'Exit codes: 0 done, 2 bad input or state (unknown tenant or manufacturer, a certificate refused), 75 the store is unreachable, 1 anything else.';

const addCommand: Command = {
  name: 'manufacturers add',
  summary: "trust a manufacturer's root for a tenant's stations' first enrolment (zero-touch onboarding)",
  help: `Usage: pki manufacturers add --tenant ID --name NAME --root FILE [options] [--json]

A station leaves the factory with a manufacturer certificate; with this, the tenant's CSMS may send
that certificate's chain with the station's first CSR (POST /v1/stations/{id}/certificates,
manufacturerCertificateChain) or check it (POST /v1/manufacturer-certificates/verify). Adding a
name that exists replaces it.

Options:
  --tenant ID             an existing tenant
  --name NAME             the manufacturer (A-Z a-z 0-9 . _ -, at most 64)
  --root FILE             PEM: the manufacturer's root CA certificate(s), self-signed; a device
                          (non-CA) certificate is refused
  --intermediate FILE     PEM: intermediate CA certificates (repeat); stations may also send them
  --crl-url URL           check every certificate of the chain against this CRL (repeat)
  --crl-dp                check the CRLs the certificates name (CRL distribution points)
  --ocsp                  ask the OCSP responder each certificate names (AIA)
  --fail-open             accept (noting "revocation unknown") when a CRL or responder cannot be
                          reached; default: refuse (fail closed)
  --serial-from FIELD     CN (default) or serialNumber: the subject attribute holding the station's
                          serial number, which the CSR's CN must equal (A00.FR.511)
  --models LIST           any (default), or the models allowed, comma-separated
  --model-from FIELD      where the model is: a subject attribute (OU, title, ...), or ext:<OID>
  --auto-register         a station not registered is registered by its first enrolment
  --json                  the manufacturer as stored

${EXIT_HELP}
`,
  options: {
    tenant: { type: 'string' },
    name: { type: 'string' },
    root: { type: 'string', multiple: true },
    intermediate: { type: 'string', multiple: true },
    'crl-url': { type: 'string', multiple: true },
    'crl-dp': { type: 'boolean' },
    ocsp: { type: 'boolean' },
    'fail-open': { type: 'boolean' },
    'serial-from': { type: 'string' },
    models: { type: 'string' },
    'model-from': { type: 'string' },
    'auto-register': { type: 'boolean' },
  },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./manufacturers-run.js')).manufacturersAdd(values, positionals, ctx),
};

const listCommand: Command = {
  name: 'manufacturers list',
  summary: "list the manufacturers a tenant trusts",
  help: `Usage: pki manufacturers list --tenant ID [--json]

${EXIT_HELP}
`,
  options: { tenant: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./manufacturers-run.js')).manufacturersList(values, positionals, ctx),
};

const removeCommand: Command = {
  name: 'manufacturers remove',
  summary: "stop trusting a manufacturer for a tenant (stations registered through it stay)",
  help: `Usage: pki manufacturers remove --tenant ID --name NAME [--json]

Its certificates no longer enrol or verify. Stations it registered stay registered, with the
certificates they have; they enrol again by the normal flow.

${EXIT_HELP}
`,
  options: { tenant: { type: 'string' }, name: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  run: async (values, positionals, ctx) => (await import('./manufacturers-run.js')).manufacturersRemove(values, positionals, ctx),
};

export const manufacturersCommands: Command[] = [addCommand, listCommand, removeCommand];
