/** Shared by the k8s tests: finding objects in a render, asserting on problems. */
import assert from 'node:assert/strict';
import { arr, find, id, obj, podSpecs, type K8sObject, type Obj } from './objects.js';

/** Every object in the ev-pki namespace and labelled part-of ev-pki, pod templates included. */
export function assertNamespacedAndLabelled(objects: K8sObject[]): void {
  for (const o of objects) {
    if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'ev-pki', `${id(o)} namespace`);
    assert.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], 'ev-pki', `${id(o)} part-of label`);
  }
  for (const pod of podSpecs(objects)) assert.equal(pod.podLabels['app.kubernetes.io/part-of'], 'ev-pki', `${id(pod.owner)} pod template part-of label`);
}

/** The pod spec of a step's CronJob, as the Job made from it gets it. */
export const stepPod = (objects: K8sObject[], name: string): Obj => obj(obj(obj(obj(find(objects, 'CronJob', name).spec).jobTemplate).spec).template);
export const stepContainer = (objects: K8sObject[], name: string): Obj => obj(arr(obj(stepPod(objects, name).spec).containers)[0]);

export function deployment(objects: K8sObject[], name: string): { spec: Obj; pod: Obj; container: Obj } {
  const d = find(objects, 'Deployment', name);
  const spec = obj(d.spec);
  const pod = obj(obj(spec.template).spec);
  return { spec, pod, container: obj(arr(pod.containers)[0]) };
}

export function rejects(problems: string[], pattern: RegExp): void {
  assert.ok(problems.length > 0, 'a broken manifest passed the check');
  assert.ok(
    problems.some((p) => pattern.test(p)),
    `no problem matches ${String(pattern)}: ${problems.join('; ')}`,
  );
}
