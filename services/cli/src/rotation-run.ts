import type { IssuerKeyAlgorithm } from '@evpki/keys';
import type { RotationKind, RotationStep } from '@evpki/store';
import type { CommandContext, OptionValues } from './command.js';
import { EXIT } from './exit-codes.js';
import { pkcs11TargetFrom } from './pkcs11-options.js';
import { STEPS, formatStatus, status, type RotationOptions, type StepResult } from './rotation.js';

/** `pki rotate-root|rotate-issuer <step>` (their options and help: rotation-commands.ts). */
export async function rotationStep(kind: RotationKind, step: RotationStep, values: OptionValues, ctx: CommandContext): Promise<number> {
  const caUrl = values['skip-ca-check'] ? undefined : ((values['ca-url'] as string | undefined) ?? ctx.env.PKI_CA_URL ?? 'http://127.0.0.1:8083');
  const pkcs11 = step === 'prepare' ? pkcs11TargetFrom(values, ctx.env) : undefined;
  const o: RotationOptions = {
    dataDir: ctx.dataDir,
    env: ctx.env,
    ...(values.hierarchy !== undefined ? { hierarchy: values.hierarchy as string } : {}),
    dryRun: values['dry-run'] === true,
    force: values.force === true,
    ...(values.algorithm ? { algorithm: values.algorithm as IssuerKeyAlgorithm } : {}),
    ...(values['k8s-secret'] ? { k8sSecret: values['k8s-secret'] as string } : {}),
    ...(pkcs11 ? { pkcs11 } : {}),
    ...(step === 'activate' && caUrl ? { caUrl } : {}),
  };
  const r = await STEPS[step](kind, o);
  ctx.out(ctx.json ? JSON.stringify(r) + '\n' : formatStep(r));
  return EXIT.ok;
}

function formatStep(r: StepResult): string {
  const head = r.dryRun ? 'dry run: ' : r.changed ? '' : 'nothing to do: ';
  return `${head}${r.message}\n${r.next ? `next: ${r.next}\n` : ''}`;
}

/** `pki status` (its options and help: rotation-commands.ts). */
export async function rotationStatus(values: OptionValues, _positionals: string[], ctx: CommandContext): Promise<number> {
  const s = await status({ dataDir: ctx.dataDir, env: ctx.env, ...(values.hierarchy !== undefined ? { hierarchy: values.hierarchy as string } : {}) });
  ctx.out(ctx.json ? JSON.stringify(s) + '\n' : formatStatus(s));
  return EXIT.ok;
}
