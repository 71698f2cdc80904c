import type { Signer } from '@evpki/keys';
import type { HeldCertificate, Logger } from '@evpki/service';
import { DEFAULT_HIERARCHY, issuingCasInService, type CaStore, type IssuerRecord } from '@evpki/store';
import { parseCertificate } from '@evpki/x509';
import { checkSignerMatches, loadIssuer, type LoadedIssuer } from './issuer.js';

export { IssuerNotActiveError } from '@evpki/issuance';

/**
 * The issuing CAs the CA holds keys for, of every hierarchy, and which one signs new leaves in each
 * hierarchy (its active one). Reloaded from the store on a timer and whenever the store refuses a
 * leaf (after an activation). A key that cannot be read yet (a Secret not synced to the pod) is
 * retried on the next reload and reported by /readyz.
 */
export class IssuerSet {
  private held = new Map<string, LoadedIssuer>();
  private wanted: string[] = [];
  /** hierarchy → its active issuing CA's id. */
  private activeIds = new Map<string, string>();
  private reloading: Promise<{ added: LoadedIssuer[]; dropped: LoadedIssuer[] }> | undefined;
  /** Why a wanted issuer's key is not held (for /readyz and one log line per distinct reason). */
  private keyErrors = new Map<string, string>();
  /** For the expiry gauge: the CA certificates in service, read at each reload (no store read per scrape). */
  private inService: HeldCertificate[] = [];
  private readonly notAfterOf = new Map<string, Date>();

  constructor(
    private readonly store: CaStore,
    private readonly loadSigner: (issuerId: string) => Promise<Signer>,
    private readonly publicOcspBase: string,
    private readonly log: Logger,
    private readonly now: () => Date,
  ) {}

  /**
   * The issuing CA new leaves of a hierarchy (default csms) come from, when its key is held. Not
   * named `active` (the getter it replaces): a caller left on that fails to compile instead of
   * reading a method, always truthy.
   */
  activeIn(hierarchy: string = DEFAULT_HIERARCHY): LoadedIssuer | undefined {
    const id = this.activeIds.get(hierarchy);
    return id === undefined ? undefined : this.held.get(id);
  }
  /** The id of a hierarchy's active issuing CA (default csms), whether or not its key is held. */
  activeIdIn(hierarchy: string = DEFAULT_HIERARCHY): string | undefined {
    return this.activeIds.get(hierarchy);
  }

  get(issuerId: string): LoadedIssuer | undefined {
    return this.held.get(issuerId);
  }

  /** For /readyz and `pki rotate-* activate`: each issuer the CA should hold, and whether it does. */
  keyStatus(): Record<string, boolean> {
    return Object.fromEntries(this.wanted.map((id) => [id, this.held.has(id)]));
  }

  /**
   * The CA certificates in service (pki_certificate_not_after_seconds): the issuing CAs in service,
   * their parents up to the root, and the roots published or active (a root rotation's new root).
   */
  certificatesInService(): readonly HeldCertificate[] {
    return this.inService;
  }

  /** For /readyz: why each key the CA should hold and does not is missing (file, passphrase, token, PIN, mismatch). */
  keyProblems(): Record<string, string> {
    return Object.fromEntries(this.keyErrors);
  }

  /** Re-reads the issuers; concurrent calls share one reload. Returns what changed. */
  reload(): Promise<{ added: LoadedIssuer[]; dropped: LoadedIssuer[] }> {
    this.reloading ??= this.doReload().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async doReload(): Promise<{ added: LoadedIssuer[]; dropped: LoadedIssuer[] }> {
    const all = await this.store.listIssuers();
    const wanted = await issuingCasInService({ listIssuers: async () => all, issuerLastExpiry: (id) => this.store.issuerLastExpiry(id) }, this.now().getTime());
    const next = new Map<string, LoadedIssuer>();
    const keyErrors = new Map<string, string>();
    const added: LoadedIssuer[] = [];
    for (const r of wanted) {
      const have = this.held.get(r.id);
      if (have) {
        next.set(r.id, have);
        continue;
      }
      let signer: Signer;
      try {
        signer = await this.loadSigner(r.id);
        checkSignerMatches(r.id, r.certificate, signer);
      } catch (err) {
        const reason = (err as Error).message;
        if (this.keyErrors.get(r.id) !== reason) this.log.warn({ event: 'issuer.key-unavailable', issuer: r.id, state: r.state, err: reason }, 'issuing CA key not available; retrying on every reload');
        keyErrors.set(r.id, reason);
        continue;
      }
      const loaded = await loadIssuer(this.store, r.id, signer, this.publicOcspBase);
      next.set(r.id, loaded);
      added.push(loaded);
      this.log.info({ event: 'issuer.loaded', issuer: r.id, hierarchy: r.hierarchy, state: r.state }, 'issuing CA key loaded');
    }
    const dropped = [...this.held.values()].filter((i) => !next.has(i.id));
    // Each hierarchy's active one (a rotation activates one and deactivates the other in one write; of two, the first).
    const activeIds = new Map<string, string>();
    for (const r of wanted) if (r.state === 'active' && !activeIds.has(r.hierarchy)) activeIds.set(r.hierarchy, r.id);
    for (const hierarchy of new Set([...activeIds.keys(), ...this.activeIds.keys()])) {
      const [issuer, previous] = [activeIds.get(hierarchy), this.activeIds.get(hierarchy)];
      if (issuer !== previous) this.log.info({ event: 'issuer.activated', hierarchy, issuer, previous }, 'active issuing CA changed');
    }
    this.held = next;
    this.keyErrors = keyErrors;
    this.wanted = wanted.map((r) => r.id);
    this.activeIds = activeIds;
    this.inService = this.certificatesOf(all, wanted);
    return { added, dropped };
  }

  private certificatesOf(all: readonly IssuerRecord[], wanted: readonly IssuerRecord[]): HeldCertificate[] {
    const byId = new Map(all.map((r) => [r.id, r]));
    const picked = new Map<string, IssuerRecord>();
    for (const r of all) if (r.role === 'root' && (r.state === 'published' || r.state === 'active')) picked.set(r.id, r);
    for (let r of wanted) {
      // Up the parent chain to the root (bounded: a root is its own parent).
      for (let depth = 0; depth <= all.length && !picked.has(r.id); depth++) {
        picked.set(r.id, r);
        const parent = byId.get(r.parentId);
        if (!parent) break;
        r = parent;
      }
    }
    return [...picked.values()].map((r) => {
      let notAfter = this.notAfterOf.get(r.id);
      if (!notAfter) this.notAfterOf.set(r.id, (notAfter = parseCertificate(r.certificate).notAfter));
      return { kind: r.role === 'root' ? 'root' : 'issuing', issuer: r.id, hierarchy: r.hierarchy, state: r.state, notAfter };
    });
  }
}
