import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';
import { KeyLoadError } from './key-errors.js';

export type Pkcs11Module = Pkcs11js.PKCS11;
export type Pkcs11Handle = Pkcs11js.Handle;
export type Pkcs11Template = Pkcs11js.Template;
type Pkcs11Lib = typeof Pkcs11js;

/**
 * The native binding, loaded on first use only: every service imports libs/keys, and only a
 * process that opens a token needs the addon (a machine without it still runs file keys).
 */
let lib: Pkcs11Lib | undefined;
export function pkcs11Lib(): Pkcs11Lib {
  lib ??= createRequire(import.meta.url)('pkcs11js') as Pkcs11Lib;
  return lib;
}

export interface Pkcs11SessionOptions {
  /** Path of the vendor's PKCS#11 library (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so). */
  readonly module: string;
  readonly tokenLabel: string;
  /** The user PIN: kept in this process's memory to log in again after the token drops its sessions. */
  readonly pin: string;
  /** Sessions signing at the same time (default 4, libuv's default thread pool size). */
  readonly poolSize?: number;
}

/**
 * One logged-in token, shared by every signer on it in this process. PKCS#11 sessions are not
 * concurrent (one operation at a time each): `withSession` lends a session exclusively, from a
 * small pool, and queues callers when all are busy.
 */
export interface Pkcs11Session {
  readonly module: string;
  readonly tokenLabel: string;
  /**
   * Runs `fn` with exclusive use of one logged-in session. When `fn` fails because the token
   * dropped the session or the login (HSM restart, network HSM failover), the session is replaced,
   * logged in again, and `fn` runs once more.
   */
  withSession<T>(fn: (pkcs11: Pkcs11Module, session: Pkcs11Handle) => T | Promise<T>): Promise<T>;
  /** Releases this holder's reference; the last one closes the sessions (logging out) once idle. */
  close(): Promise<void>;
}

/** PKCS#11 return values after which a fresh session (and login) is worth one more try. */
const RECOVERABLE = [
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_DEVICE_REMOVED',
  'CKR_TOKEN_NOT_PRESENT',
];

export function pkcs11Code(e: unknown): string | undefined {
  const m = /CKR_[A-Z0-9_]+/.exec(e instanceof Error ? e.message : String(e));
  return m?.[0];
}

/** A token's message without anything from the caller (no PIN ever reaches a PKCS#11 error text). */
export function pkcs11Reason(e: unknown): string {
  return pkcs11Code(e) ?? (e instanceof Error ? e.message.split('\n')[0]! : 'unknown error');
}

interface ModuleState {
  readonly pkcs11: Pkcs11Module;
  tokens: number;
}

interface TokenEntry {
  readonly pinHash: Buffer;
  refs: number;
  readonly pool: Promise<SessionPool>;
}

/** C_Initialize may run once per process and module: shared by every token of that module. */
const modules = new Map<string, ModuleState>();
const tokens = new Map<string, TokenEntry>();

const pinHash = (pin: string): Buffer => createHash('sha256').update(pin).digest();

/**
 * Opens (or joins) the process's logged-in session pool on a token. Login happens once per process
 * and token; a second caller with another PIN is refused rather than silently sharing the login.
 */
export async function openPkcs11Session(opts: Pkcs11SessionOptions): Promise<Pkcs11Session> {
  if (!opts.module) throw new KeyLoadError('no PKCS#11 module path given');
  if (!opts.tokenLabel) throw new KeyLoadError('no PKCS#11 token label given');
  if (!opts.pin) throw new KeyLoadError(`no PIN for PKCS#11 token '${opts.tokenLabel}'`);
  const key = `${opts.module}\0${opts.tokenLabel}`;
  const hash = pinHash(opts.pin);
  let entry = tokens.get(key);
  if (entry && !timingSafeEqual(entry.pinHash, hash))
    throw new KeyLoadError(`PKCS#11 token '${opts.tokenLabel}' is already open in this process with another PIN`);
  if (!entry) {
    const fresh: TokenEntry = { pinHash: hash, refs: 0, pool: SessionPool.open(opts) };
    tokens.set(key, fresh);
    fresh.pool.catch(() => tokens.get(key) === fresh && tokens.delete(key));
    entry = fresh;
  }
  const pool = await entry.pool;
  // The last holder closed it while this caller waited: open anew.
  if (tokens.get(key) !== entry) return openPkcs11Session(opts);
  entry.refs++;
  const held = entry;
  let closed = false;
  return {
    module: opts.module,
    tokenLabel: opts.tokenLabel,
    withSession: (fn) => {
      if (closed) return Promise.reject(new KeyLoadError(`PKCS#11 session on token '${opts.tokenLabel}' is closed`));
      return pool.run(fn);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      if (--held.refs > 0) return;
      tokens.delete(key);
      await pool.shutdown();
    },
  };
}

function loadModule(path: string): ModuleState {
  let state = modules.get(path);
  if (state) return state;
  const l = pkcs11Lib();
  const pkcs11 = new l.PKCS11();
  try {
    pkcs11.load(path);
  } catch (e) {
    throw new KeyLoadError(`cannot load PKCS#11 module ${path}: ${pkcs11Reason(e)}`);
  }
  try {
    // OS locking: C_Sign runs on libuv worker threads (C_SignAsync), several at once.
    pkcs11.C_Initialize({ flags: l.CKF_OS_LOCKING_OK });
  } catch (e) {
    if (pkcs11Code(e) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw new KeyLoadError(`cannot initialize PKCS#11 module ${path}: ${pkcs11Reason(e)}`);
  }
  state = { pkcs11, tokens: 0 };
  modules.set(path, state);
  return state;
}

function releaseModule(path: string, state: ModuleState): void {
  if (--state.tokens > 0) return;
  modules.delete(path);
  try {
    state.pkcs11.C_Finalize();
  } catch {
    // already finalized: nothing to release
  }
}

function findSlot(pkcs11: Pkcs11Module, opts: Pkcs11SessionOptions): Pkcs11Handle {
  const labels: string[] = [];
  for (const slot of pkcs11.C_GetSlotList(true)) {
    const info = pkcs11.C_GetTokenInfo(slot);
    const label = info.label.trimEnd();
    // An uninitialized token (SoftHSM always offers one) has no label worth listing.
    if (!(info.flags & pkcs11Lib().CKF_TOKEN_INITIALIZED)) continue;
    if (label === opts.tokenLabel) return slot;
    labels.push(`'${label}'`);
  }
  throw new KeyLoadError(
    `no PKCS#11 token labelled '${opts.tokenLabel}' in module ${opts.module} (tokens present: ${labels.join(', ') || 'none'})`,
  );
}

class SessionPool {
  private readonly idle: Pkcs11Handle[] = [];
  private readonly waiting: { resolve: (s: Pkcs11Handle) => void; reject: (e: Error) => void }[] = [];
  private open = 0;
  private busy = 0;
  private drained: (() => void) | undefined;

  private constructor(
    private readonly opts: Pkcs11SessionOptions,
    private readonly state: ModuleState,
    private readonly slot: Pkcs11Handle,
    private readonly size: number,
  ) {}

  static async open(opts: Pkcs11SessionOptions): Promise<SessionPool> {
    const state = loadModule(opts.module);
    state.tokens++;
    try {
      const slot = findSlot(state.pkcs11, opts);
      const pool = new SessionPool(opts, state, slot, Math.max(1, opts.poolSize ?? 4));
      const first = pool.openSession();
      pool.login(first);
      pool.idle.push(first);
      return pool;
    } catch (e) {
      releaseModule(opts.module, state);
      throw e;
    }
  }

  private openSession(): Pkcs11Handle {
    const l = pkcs11Lib();
    try {
      const s = this.state.pkcs11.C_OpenSession(this.slot, l.CKF_SERIAL_SESSION | l.CKF_RW_SESSION);
      this.open++;
      return s;
    } catch (e) {
      throw new KeyLoadError(`cannot open a session on PKCS#11 token '${this.opts.tokenLabel}': ${pkcs11Reason(e)}`);
    }
  }

  /** The login covers every session of this process on the token (PKCS#11 2.40 section 5.6). */
  private login(session: Pkcs11Handle): void {
    try {
      this.state.pkcs11.C_Login(session, pkcs11Lib().CKU_USER, this.opts.pin);
    } catch (e) {
      const code = pkcs11Code(e);
      if (code === 'CKR_USER_ALREADY_LOGGED_IN') return;
      this.closeSession(session);
      const why =
        code === 'CKR_PIN_INCORRECT'
          ? 'wrong PIN'
          : code === 'CKR_PIN_LOCKED'
            ? 'the PIN is locked (too many wrong PINs): the security officer must reset it'
            : code === 'CKR_PIN_EXPIRED'
              ? 'the PIN has expired'
              : 'login refused';
      throw new KeyLoadError(`PKCS#11 login to token '${this.opts.tokenLabel}' failed: ${why} (${code ?? pkcs11Reason(e)})`);
    }
  }

  private closeSession(session: Pkcs11Handle): void {
    this.open--;
    try {
      this.state.pkcs11.C_CloseSession(session);
    } catch {
      // the token already dropped it
    }
  }

  private async acquire(): Promise<Pkcs11Handle> {
    const s = this.take();
    if (s) return s;
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** An idle session, or a new one while the pool is below its size; undefined when all are busy. */
  private take(): Pkcs11Handle | undefined {
    const s = this.idle.pop() ?? (this.open < this.size ? this.openSession() : undefined);
    if (s) this.busy++;
    return s;
  }

  /** `session` undefined: it broke and was closed; its place goes to the next waiter as a new session. */
  private release(session: Pkcs11Handle | undefined): void {
    this.busy--;
    if (session) this.idle.push(session);
    const next = this.waiting.shift();
    if (next) {
      try {
        const s = this.take();
        if (s) next.resolve(s);
        else this.waiting.unshift(next);
      } catch (e) {
        next.reject(e as Error);
      }
    } else if (this.busy === 0) this.drained?.();
  }

  async run<T>(fn: (pkcs11: Pkcs11Module, session: Pkcs11Handle) => T | Promise<T>): Promise<T> {
    let session: Pkcs11Handle | undefined = await this.acquire();
    try {
      return await fn(this.state.pkcs11, session);
    } catch (e) {
      if (!RECOVERABLE.includes(pkcs11Code(e) ?? '')) throw e;
      this.closeSession(session);
      session = undefined;
      const fresh = this.openSession();
      this.login(fresh);
      session = fresh;
      return await fn(this.state.pkcs11, session);
    } finally {
      this.release(session);
    }
  }

  /** Waits for running operations, then closes every session (which logs out) and finalizes the module when unused. */
  async shutdown(): Promise<void> {
    if (this.busy > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    for (const s of this.idle.splice(0)) this.closeSession(s);
    releaseModule(this.opts.module, this.state);
  }
}
