import type { IssuerKeyAlgorithm } from '@evpki/keys';
import { CliError } from './cli-error.js';
import type { CommandContext, OptionValues } from './command.js';
import { EXIT } from './exit-codes.js';
import { initPki } from './init.js';
import { pkcs11TargetFrom } from './pkcs11-options.js';
import { DEFAULT_CA_HOSTNAMES, parseCaHostnames } from './service-certs.js';
import { initV2g, v2gCreatedLine } from './v2g.js';

/** `pki init` (its options and help: init-command.ts). */
export async function initRun(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const dev = values.dev === true;
  const organization = (values.org as string | undefined) ?? (dev ? 'Demo CPO' : undefined);
  if (!organization) throw new CliError('--org is required (the CPO organisation name for the CA certificates)', EXIT.badInput);
  const pkcs11 = pkcs11TargetFrom(values, ctx.env);
  const m = await initPki({
    dataDir: ctx.dataDir,
    dev,
    force: values.force === true,
    algorithm: values.algorithm as IssuerKeyAlgorithm,
    organization,
    publicOcspBase: ((values['ocsp-url'] as string | undefined) ?? `http://127.0.0.1:${ctx.env.OCSP_PORT ?? 8082}`).replace(/\/$/, ''),
    caHostnames: parseCaHostnames((values['ca-hostnames'] as string | undefined) ?? DEFAULT_CA_HOSTNAMES),
    env: ctx.env,
    ...(pkcs11 ? { pkcs11 } : {}),
  });
  if (!ctx.json)
    ctx.out(
      `PKI created in ${ctx.dataDir}: root ${m.issuers.root}, charge point CA ${m.issuers.chargePoint} (${m.algorithm}${pkcs11 ? `, key in PKCS#11 token '${pkcs11.tokenLabel}'` : ''})\n`,
    );
  // The one code path of `pki v2g init`, with the same --org and token.
  const v2g = values.v2g === true ? await initV2g({ dataDir: ctx.dataDir, env: ctx.env, organization, ...(pkcs11 ? { pkcs11 } : {}) }) : undefined;
  if (ctx.json) ctx.out(JSON.stringify(v2g ? { ...m, v2g } : m) + '\n');
  else if (v2g) ctx.out(v2gCreatedLine(v2g));
  return EXIT.ok;
}
