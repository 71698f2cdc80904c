/**
 * Which files a container sees: from its volume mounts (Secret, ConfigMap and projected items,
 * service account tokens, downward API; a volume without items (PVC, emptyDir, Secret without
 * items) provides any file under its mount).
 */
import { arr, obj, str, type Obj, type PodSpecAt } from './objects.js';

export interface MountedFile {
  /** Absolute path in the container; with `any`, every path below it. */
  readonly path: string;
  /** e.g. `Secret/pki-manifest:pki.json`, `Secret/pki-ca-issuer-key`, `PersistentVolumeClaim/pki-data`. */
  readonly source: string;
  readonly any: boolean;
  readonly readOnly: boolean;
}

export interface VolumeFile {
  readonly rel: string;
  readonly source: string;
  readonly any: boolean;
}

export function volumeFiles(v: Obj): VolumeFile[] {
  const fromItems = (src: Obj, source: string, keyField: string): VolumeFile[] =>
    src.items === undefined
      ? [{ rel: '', source, any: true }]
      : arr(src.items).map((i) => ({ rel: str(obj(i).path) ?? '', source: `${source}:${String(obj(i)[keyField])}`, any: false }));
  if (v.secret) return fromItems(obj(v.secret), `Secret/${String(obj(v.secret).secretName)}`, 'key');
  if (v.configMap) return fromItems(obj(v.configMap), `ConfigMap/${String(obj(v.configMap).name)}`, 'key');
  if (v.downwardAPI) return fromItems(obj(v.downwardAPI), 'downwardAPI', 'path');
  if (v.projected)
    return arr(obj(v.projected).sources).flatMap((raw): VolumeFile[] => {
      const s = obj(raw);
      if (s.secret) return fromItems(obj(s.secret), `Secret/${String(obj(s.secret).name)}`, 'key');
      if (s.configMap) return fromItems(obj(s.configMap), `ConfigMap/${String(obj(s.configMap).name)}`, 'key');
      if (s.downwardAPI) return fromItems(obj(s.downwardAPI), 'downwardAPI', 'path');
      if (s.serviceAccountToken) return [{ rel: str(obj(s.serviceAccountToken).path) ?? '', source: 'serviceAccountToken', any: false }];
      return [];
    });
  if (v.persistentVolumeClaim) return [{ rel: '', source: `PersistentVolumeClaim/${String(obj(v.persistentVolumeClaim).claimName)}`, any: true }];
  if (v.emptyDir) return [{ rel: '', source: 'emptyDir', any: true }];
  return [{ rel: '', source: 'other', any: true }];
}

export function mountedFiles(pod: PodSpecAt, c: Obj): MountedFile[] {
  const volumes = new Map(arr(pod.spec.volumes).map((v) => [str(obj(v).name), obj(v)]));
  const out: MountedFile[] = [];
  for (const m of arr(c.volumeMounts).map(obj)) {
    const mountPath = (str(m.mountPath) ?? '').replace(/\/$/, '');
    const sub = str(m.subPath) ?? '';
    const readOnly = m.readOnly === true;
    for (const f of volumeFiles(volumes.get(str(m.name)) ?? {})) {
      let rel: string;
      if (!sub) rel = f.rel;
      else if (f.rel === sub) rel = '';
      else if (f.rel.startsWith(`${sub}/`)) rel = f.rel.slice(sub.length + 1);
      else if (f.any && (f.rel === '' || sub.startsWith(`${f.rel}/`))) rel = '';
      else continue;
      out.push({ path: rel ? `${mountPath}/${rel}` : mountPath, source: f.source, any: f.any, readOnly });
    }
  }
  return out;
}

export const provides = (files: MountedFile[], path: string): MountedFile | undefined =>
  files.find((f) => f.path === path || (f.any && path.startsWith(`${f.path}/`)));
