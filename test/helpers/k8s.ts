/**
 * The machinery of the k8s/ tests (test/k8s-base, k8s-rotation, k8s-redis and k8s-ops.test.ts):
 * rendering, the fixtures and the checks, each returning a list of problems.
 *
 * The kustomize base in k8s/: rendered with `kubectl kustomize`, every object validated against the
 * Kubernetes schemas (kubernetes-models), every container's environment against KNOWN_ENV and the
 * services' own config loaders, plus probes, resources, security contexts, mounted files and
 * Secrets, RBAC, and the rotation step templates (k8s/rotation/: suspended CronJobs, each running
 * `pki` with its subcommand, labelled pki-cli and admitted to the CA, with the passphrase and the
 * pki-data volume but no CA key Secret), and the audit log retention (the CronJob pki-audit-retain:
 * daily, not suspended, `pki audit retain` into the PVC pki-audit-export). The Redis overlay (the kustomize Component
 * k8s/overlays/redis over the base) gets the same checks, plus Redis durability, replicas and
 * PodDisruptionBudgets, which pod holds which file, the Redis NetworkPolicy, and the prepare steps
 * writing the CA's key Secret with get/patch on it alone. Each check is also run on broken copies,
 * so that a check that rejects nothing fails there.
 *
 * Split by concern under helpers/k8s/: render.ts (kubectl kustomize), objects.ts and mounts.ts
 * (finding objects, pods, containers and the files they see), checks.ts (the checks of every
 * render), steps.ts (the pki CLI steps, their RBAC, the audit retention), redis-overlay.ts (the
 * Redis component), assertions.ts (shared by the tests). The tests import this file.
 */
import { configLoaderProblems, envProblems, mountedFileProblems, probeProblems, redisContainerProblems, resourceProblems, schemaProblems, secretProblems, securityProblems } from './k8s/checks.js';
import type { K8sObject } from './k8s/objects.js';
import { rbacProblems, retainProblems, stepProblems } from './k8s/steps.js';

export * from './k8s/assertions.js';
export * from './k8s/checks.js';
export * from './k8s/mounts.js';
export * from './k8s/objects.js';
export * from './k8s/redis-overlay.js';
export * from './k8s/render.js';
export * from './k8s/steps.js';

/** Every check but the Kubernetes schemas (schemaProblems), by name. */
export const CHECKS: Record<string, (objects: K8sObject[]) => string[]> = {
  env: envProblems,
  'config loaders': configLoaderProblems,
  probes: probeProblems,
  resources: resourceProblems,
  security: securityProblems,
  secrets: secretProblems,
  'mounted files': mountedFileProblems,
  'redis containers': redisContainerProblems,
  'rotation steps': stepProblems,
  'audit retention': retainProblems,
  RBAC: rbacProblems,
};

export async function allProblems(objects: K8sObject[]): Promise<string[]> {
  return [...(await schemaProblems(objects)), ...Object.values(CHECKS).flatMap((check) => check(objects))];
}
