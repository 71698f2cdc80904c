import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where distributions put SoftHSM2's PKCS#11 library (Debian first). */
const MODULE_CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib64/pkcs11/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
];

const INSTALL_HINT = 'SoftHSM2 is required for the PKCS#11 tests (CI installs it): apt-get install -y softhsm2';

/** The SoftHSM2 module path (SOFTHSM2_MODULE overrides); throws, so a test fails, when it is not installed. */
export function softhsmModule(): string {
  const candidates = process.env.SOFTHSM2_MODULE ? [process.env.SOFTHSM2_MODULE] : MODULE_CANDIDATES;
  const path = candidates.find((p) => existsSync(p));
  if (!path) throw new Error(`${INSTALL_HINT} (no libsofthsm2.so at ${candidates.join(', ')})`);
  const util = spawnSync('softhsm2-util', ['--version'], { encoding: 'utf8' });
  if (util.error || util.status !== 0) throw new Error(`${INSTALL_HINT} (softhsm2-util not found)`);
  return path;
}

export interface SoftHsm {
  readonly module: string;
  /** The SOFTHSM2_CONF file; also set in this process's environment (the library reads it at C_Initialize). */
  readonly conf: string;
  readonly dir: string;
  /** Environment for child processes (CA, CLI) that open the same tokens. */
  readonly env: Record<string, string>;
  /** Initializes a token in the next free slot; returns its label. */
  initToken(label: string, pin: string, soPin?: string): string;
  /** Removes the token directory and restores SOFTHSM2_CONF; close every PKCS#11 session first. */
  cleanup(): void;
}

/**
 * A private SoftHSM2 store in a temp directory. SoftHSM reads SOFTHSM2_CONF once per process at
 * C_Initialize: initialize the tokens a test needs before opening the first session, and use one
 * SoftHSM per process at a time (a PKCS#11 module is finalized when its last session closes).
 */
export function createSoftHsm(): SoftHsm {
  const module = softhsmModule();
  const dir = mkdtempSync(join(tmpdir(), 'softhsm-'));
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens, { mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const previous = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = conf;
  const env = { SOFTHSM2_CONF: conf };
  return {
    module,
    conf,
    dir,
    env,
    initToken(label, pin, soPin = `so-${pin}`) {
      const r = spawnSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
      });
      if (r.status !== 0) throw new Error(`softhsm2-util --init-token ${label} failed: ${r.stderr || r.stdout}`);
      return label;
    },
    cleanup() {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = previous;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
