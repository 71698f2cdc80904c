import { checkChargePointIdentity } from './subject-rules.js';
import type { RuleId } from './violations.js';

/**
 * What the RA accepts when a station is registered (`PUT /v1/stations/{stationId}`): the field
 * formats of openapi.yaml (components/schemas StationId, StationSerialNumber, StationModel; a test
 * keeps the two equal), cited as the RA's validator cites them, and A00.FR.511 for the serial number,
 * which becomes the CN of the station's certificates. For callers that register stations without
 * the RA's HTTP validator (`pki stations import`).
 */
export const STATION_FIELDS = {
  stationId: { pattern: /^[A-Za-z0-9._:-]{1,48}$/, reserved: ['.', '..'] as readonly string[], maxLength: 48, rule: 'openapi:/params/stationId' },
  serialNumber: { pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, maxLength: 64, rule: 'openapi:/body/serialNumber' },
  model: { maxLength: 128, rule: 'openapi:/body/model' },
} as const;

export type StationFieldRule = (typeof STATION_FIELDS)[keyof typeof STATION_FIELDS]['rule'];

export interface StationViolation {
  readonly rule: RuleId | StationFieldRule;
  readonly message: string;
}

export interface StationInput {
  readonly stationId: string;
  readonly serialNumber: string;
  readonly model?: string;
}

/** Every rule a station registration breaks; empty when the RA would accept it. */
export function checkStationRegistration(s: StationInput): StationViolation[] {
  const out: StationViolation[] = [];
  const { stationId, serialNumber, model } = STATION_FIELDS;
  if (!stationId.pattern.test(s.stationId) || stationId.reserved.includes(s.stationId))
    out.push({ rule: stationId.rule, message: `stationId "${clip(s.stationId)}" must be 1 to ${stationId.maxLength} of A-Z a-z 0-9 . _ : -, not . or ..` });
  if (!serialNumber.pattern.test(s.serialNumber))
    out.push({
      rule: serialNumber.rule,
      message: `serialNumber "${clip(s.serialNumber)}" must be 1 to ${serialNumber.maxLength} of A-Z a-z 0-9 . _ -, starting with a letter or digit`,
    });
  // A serial number of the right characters can still look like a host name ("cp1.example.com").
  else out.push(...checkChargePointIdentity(s.serialNumber, 'serialNumber'));
  if (s.model !== undefined && s.model.length > model.maxLength) out.push({ rule: model.rule, message: `model is ${s.model.length} characters; at most ${model.maxLength}` });
  return out;
}

const clip = (v: string): string => (v.length > 70 ? `${v.slice(0, 67)}...` : v);
