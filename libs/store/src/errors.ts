import { Rule } from '@evpki/policy';

/**
 * The store cannot be reached or did not answer in time. Services answer 503 with Retry-After
 * (the OCSP responder: `tryLater`); the operation either happened whole or not at all.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The store would not keep a write across a crash (e.g. Redis without AOF and no replica wait). */
export class StoreNotDurableError extends Error {
  override readonly name = 'StoreNotDurableError';
}

/** An audit event the log refuses (a field too long, or something that names or looks like a secret): a caller's bug. */
export class AuditEventError extends Error {
  override readonly name = 'AuditEventError';
}

/**
 * removeStation refused, writing nothing: the station has more good certificates than one write
 * revokes (STATION_REMOVAL_LIMIT, rule Station.removal-limit).
 */
export class StationRemovalLimitError extends Error {
  override readonly name = 'StationRemovalLimitError';
  readonly rule = Rule.stationRemovalLimit;
  constructor(
    readonly stationId: string,
    readonly good: number,
    readonly limit: number,
  ) {
    super(`station ${stationId} has ${good} good certificates; one removal revokes at most ${limit} (${Rule.stationRemovalLimit})`);
  }
}

/**
 * A tenant write refused: it would give the tenant a CPO name, server domain or IP range another
 * tenant holds, or one below/inside another's (the message names the rule and the other tenant).
 */
export class TenantConflictError extends Error {
  override readonly name = 'TenantConflictError';
  constructor(
    readonly rule: string,
    readonly otherTenant: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A station write refused (writing nothing): a SECC-ID the station lists (compared as seccIdKey) is
 * listed by another station of its tenant (rule PnC-4.3.secc-id-unique, Rule.uniqueSeccId).
 */
export class SeccIdConflictError extends Error {
  override readonly name = 'SeccIdConflictError';
  readonly rule = Rule.uniqueSeccId;
  constructor(
    readonly tenant: string,
    readonly stationId: string,
    readonly conflict: SeccIdConflict,
  ) {
    super(seccIdConflictMessage(stationId, conflict));
  }
}

/** Which SECC-ID of a station written another station of its tenant lists already. */
export interface SeccIdConflict {
  /** As the station written lists it. */
  readonly seccId: string;
  readonly otherStationId: string;
}

export const seccIdConflictMessage = (stationId: string, c: SeccIdConflict): string =>
  `station ${stationId}: SECC-ID ${c.seccId} is already listed by station ${c.otherStationId} of the tenant (${Rule.uniqueSeccId}: one station per SECC-ID)`;
