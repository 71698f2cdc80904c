import { seccIdKey } from '@evpki/policy';
import type { StationRecord } from './records.js';

/**
 * The SECC-ID index both backends keep (Store.findStationBySeccId, EST enrolment): one entry per
 * (tenant, SECC-ID as compared, station), written in the same transaction (LMDB) or MULTI (Redis) as
 * the station. A lookup reads the station again and takes it only if it still lists the SECC-ID, so
 * an entry left by a station that dropped it or was removed (a Redis removal before the index was
 * kept by removals too) never answers. The station writes check it too: one station per SECC-ID in
 * a tenant (PnC-4.3.secc-id-unique).
 */

/** A station's SECC-IDs as the index compares them (seccIdKey), each once. */
export const seccKeysOf = (s: StationRecord): string[] => [...new Set((s.seccIds ?? []).map(seccIdKey))];

/** Whether the station (as read now) lists the SECC-ID `key` (a seccIdKey). */
export const listsSeccKey = (s: StationRecord | undefined, key: string): s is StationRecord => s !== undefined && seccKeysOf(s).includes(key);

/** A Redis sorted-set member of the tenant's index: the SECC-ID key, a newline (no key or station id holds one), the station id. */
export const seccMember = (key: string, stationId: string): string => `${key}\n${stationId}`;

/**
 * A station registered with its first certificate (recordIssuance `register`, zero-touch
 * onboarding) lists no SECC-ID: its uniqueness (PnC-4.3.secc-id-unique) is checked by the station
 * writes (putStation, putStations) only, so a registration listing one is refused (throws).
 */
export function assertRegistration(register: StationRecord | undefined): void {
  if (register?.seccIds?.length) throw new Error('recordIssuance: a station registered with its certificate cannot list SECC-IDs (register it with putStation)');
}
