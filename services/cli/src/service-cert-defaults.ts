// No imports: the command table (pki --help) prints these without loading service-certs.ts.

/**
 * Names in the CA server certificate by default: local ones, and the CA's Kubernetes Service
 * (`ca` in namespace `ev-pki`, k8s/ca.yaml) in its short and namespaced forms.
 */
export const DEFAULT_CA_HOSTNAMES: readonly string[] = ['localhost', '127.0.0.1', '::1', 'pki-ca', 'ca', 'ca.ev-pki.svc', 'ca.ev-pki.svc.cluster.local'];
/** Lifetime of the three service certificates: about a year, then `pki service-certs renew`. */
export const SERVICE_CERT_DAYS = 365;
