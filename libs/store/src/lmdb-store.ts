import { open, type RootDatabase } from 'lmdb';
import type {
  CertificateRecord,
  IdempotencyClaim,
  IdempotencyRecord,
  IssuanceOutcome,
  IssuerRecord,
  StationRecord,
  TenantRecord,
} from './records.js';
import type { Store } from './store.js';

/** Keys are lmdb arrays (ordered-binary): prefix ranges are [...prefix] .. [...prefix, END]. */
const key = (...parts: string[]): string[] => parts;
const END = '\uffff';

/**
 * The embedded default backend. LMDB is multi-process safe, so RA, CA and OCSP on one machine
 * share one environment. A write's promise resolves once the commit is flushed to disk.
 */
export class LmdbStore implements Store {
  private readonly db: RootDatabase;

  constructor(path: string) {
    this.db = open({ path, compression: false, maxReaders: 256 });
  }

  async ping(): Promise<void> {
    this.db.get(key('ping'));
    await this.db.put(key('meta', 'ping'), new Date().toISOString());
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async getTenant(id: string): Promise<TenantRecord | undefined> {
    return this.db.get(key('tenant', id)) as TenantRecord | undefined;
  }
  async putTenant(t: TenantRecord): Promise<void> {
    await this.db.put(key('tenant', t.id), t);
  }

  async getStation(tenant: string, stationId: string): Promise<StationRecord | undefined> {
    return this.db.get(key('station', tenant, stationId)) as StationRecord | undefined;
  }
  async putStation(s: StationRecord): Promise<{ created: boolean }> {
    return this.db.transaction(() => {
      const k = key('station', s.tenant, s.stationId);
      const created = this.db.get(k) === undefined;
      this.db.putSync(k, s);
      return { created };
    });
  }
  async deleteStation(tenant: string, stationId: string): Promise<boolean> {
    return this.db.transaction(() => {
      const k = key('station', tenant, stationId);
      if (this.db.get(k) === undefined) return false;
      this.db.removeSync(k);
      return true;
    });
  }

  async listIssuers(): Promise<IssuerRecord[]> {
    return [...this.db.getRange({ start: key('issuer'), end: key('issuer', END) }).map(({ value }) => value as IssuerRecord)];
  }
  async getIssuer(id: string): Promise<IssuerRecord | undefined> {
    return this.db.get(key('issuer', id)) as IssuerRecord | undefined;
  }
  async putIssuer(i: IssuerRecord): Promise<void> {
    await this.db.put(key('issuer', i.id), i);
  }

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    return this.db.get(key('cert', serial)) as CertificateRecord | undefined;
  }
  async listStationCertificates(tenant: string, stationId: string): Promise<CertificateRecord[]> {
    const out: CertificateRecord[] = [];
    for (const { value } of this.db.getRange({ start: key('stationcert', tenant, stationId), end: key('stationcert', tenant, stationId, END) })) {
      const cert = this.db.get(key('cert', value as string)) as CertificateRecord | undefined;
      if (cert) out.push(cert);
    }
    return out;
  }
  async isKeyCertified(spkiSha256: string): Promise<boolean> {
    return this.db.get(key('spki', spkiSha256)) !== undefined;
  }
  async isKeyBlocked(spkiSha256: string): Promise<boolean> {
    return this.db.get(key('blocked', spkiSha256)) !== undefined;
  }
  async blockKey(spkiSha256: string): Promise<void> {
    await this.db.put(key('blocked', spkiSha256), new Date().toISOString());
  }
  async getIdempotency(tenant: string, k: string): Promise<IdempotencyRecord | undefined> {
    return this.db.get(key('idem', tenant, k)) as IdempotencyRecord | undefined;
  }

  async recordIssuance(cert: CertificateRecord, idem?: IdempotencyClaim): Promise<IssuanceOutcome> {
    // Checks and writes run inside one LMDB write transaction: atomic, and serialised against
    // every other writer in every process.
    return this.db.transaction((): IssuanceOutcome => {
      if (idem) {
        const existing = this.db.get(key('idem', idem.tenant, idem.key)) as IdempotencyRecord | undefined;
        if (existing) return { ok: false, conflict: 'idempotency', existing };
      }
      if (this.db.get(key('cert', cert.serial)) !== undefined) return { ok: false, conflict: 'serial' };
      if (this.db.get(key('spki', cert.spkiSha256)) !== undefined) return { ok: false, conflict: 'key' };
      this.db.putSync(key('cert', cert.serial), cert);
      this.db.putSync(key('spki', cert.spkiSha256), cert.serial);
      // Station index: ordered by issuance time, then serial.
      this.db.putSync(key('stationcert', cert.tenant, cert.stationId, cert.issuedAt, cert.serial), cert.serial);
      if (idem) this.db.putSync(key('idem', idem.tenant, idem.key), { requestHash: idem.requestHash, serial: cert.serial, createdAt: cert.issuedAt });
      return { ok: true };
    });
  }
}
