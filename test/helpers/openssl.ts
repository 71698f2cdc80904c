import { spawnSync } from 'node:child_process';

/** Runs the real openssl CLI; never throws, so tests can assert on failures too. */
export function openssl(args: string[], input?: string | Buffer): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { input, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
