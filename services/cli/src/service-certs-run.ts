import { serialToHex } from '@evpki/x509';
import type { CommandContext, OptionValues } from './command.js';
import { EXIT } from './exit-codes.js';
import { checkPkiStore } from './open-pki-store.js';
import { parseDuration } from './duration.js';
import { inClusterTarget } from './k8s-secret.js';
import { dueServiceCerts, formatServerNames, parseCaHostnames, renewServiceCerts, serviceCertExpiries, writeServiceTlsSecrets } from './service-certs.js';

/** `pki service-certs renew` (its options and help: service-certs-command.ts). */
export async function serviceCertsRenew(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const list = values['ca-hostnames'] as string | undefined;
  const within = values['if-expiring-within'] as string | undefined;
  const withinMs = within === undefined ? undefined : parseDuration(within, '--if-expiring-within', { minHours: 1, maxHours: 3650 * 24, minText: '1h', maxText: '3650d' });
  checkPkiStore(ctx.dataDir, ctx.env);
  const toSecrets = async (): Promise<string[]> => (values['k8s-secrets'] === true ? writeServiceTlsSecrets(ctx.dataDir, inClusterTarget(ctx.env)) : []);
  if (withinMs !== undefined && !dueServiceCerts(ctx.dataDir, withinMs, new Date()).length) {
    const current = Object.fromEntries(serviceCertExpiries(ctx.dataDir).map((c) => [c.name, { notAfter: c.notAfter!.toISOString() }]));
    const secrets = await toSecrets();
    if (ctx.json) ctx.out(JSON.stringify({ renewed: false, certificates: current, ...(secrets.length ? { k8sSecrets: secrets } : {}) }) + '\n');
    else ctx.out(`No service certificate expires within ${within}: nothing renewed (the first expires ${Object.values(current).map((c) => c.notAfter).sort()[0]}).\n`);
    return EXIT.ok;
  }
  const r = await renewServiceCerts({
    dataDir: ctx.dataDir,
    env: ctx.env,
    newCa: values['new-ca'] === true,
    ...(list === undefined ? {} : { names: parseCaHostnames(list) }),
  });
  const secrets = await toSecrets();
  const certs = Object.fromEntries(Object.entries(r.issued).map(([name, c]) => [name, { serialNumber: serialToHex(c.serial), notAfter: c.notAfter.toISOString() }]));
  if (ctx.json) ctx.out(JSON.stringify({ renewed: true, serviceCa: { serialNumber: serialToHex(r.serviceCa.serial), notAfter: r.serviceCa.notAfter.toISOString(), new: r.newCa }, caHostnames: formatServerNames(r.names), certificates: certs, ...(secrets.length ? { k8sSecrets: secrets } : {}) }) + '\n');
  else
    ctx.out(
      `${r.newCa ? 'New service CA; service' : 'Service'} certificates renewed in ${ctx.dataDir}/secrets, valid until ${r.issued['ca-server'].notAfter.toISOString()}; ` +
        `CA server names: ${formatServerNames(r.names).join(', ')}.\nThe CA, the RA and the OCSP responder reload them within PKI_SERVICE_TLS_RELOAD_INTERVAL_MS (default 5 s).\n`,
    );
  return EXIT.ok;
}
