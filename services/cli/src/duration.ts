import { CliError } from './cli-error.js';
import { EXIT } from './exit-codes.js';

const UNIT_HOURS: Readonly<Record<string, number>> = { h: 1, d: 24, w: 24 * 7 };

/** A duration option like `30d`, `12h` or `2w`, in milliseconds, within [minHours, maxHours]; exit 2 otherwise. */
export function parseDuration(raw: string, option: string, range: { minHours: number; maxHours: number; minText: string; maxText: string }, example = '30d'): number {
  const m = /^(\d{1,7})([hdw])$/.exec(raw);
  if (!m) throw new CliError(`${option} ${JSON.stringify(raw.slice(0, 40))} is not a duration like ${example}, 12h or 2w`, EXIT.badInput);
  const hours = Number(m[1]) * UNIT_HOURS[m[2]!]!;
  if (hours < range.minHours || hours > range.maxHours) throw new CliError(`${option} ${raw} is out of range: at least ${range.minText}, at most ${range.maxText}`, EXIT.badInput);
  return hours * 3_600_000;
}
