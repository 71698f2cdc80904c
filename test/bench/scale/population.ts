/** The population: serials (16 bytes each) in one buffer, records made from a template. */
import { createHash, randomFillSync } from 'node:crypto';
import { SERIAL_BYTES, STATION_SPREAD } from './config.js';

export class Population {
  readonly serials: Buffer;
  count = 0;

  constructor(readonly capacity: number) {
    this.serials = Buffer.alloc(capacity * SERIAL_BYTES);
  }

  serial(i: number): Buffer {
    return this.serials.subarray(i * SERIAL_BYTES, (i + 1) * SERIAL_BYTES);
  }

  /** A fresh random serial at index i: top bit cleared (positive INTEGER), first byte non-zero (fixed length). */
  draw(i: number): Buffer {
    const s = this.serial(i);
    do randomFillSync(s);
    while ((s[0]! & 0x7f) === 0);
    s[0] = s[0]! & 0x7f;
    return s;
  }

  /** Lowercase hex, no leading zeros, as the store keys certificates. */
  hex(i: number): string {
    return this.serial(i).toString('hex').replace(/^0+/, '');
  }
}

export const sha256hex = (...parts: (Buffer | string)[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};
export const stationOf = (i: number): string => `scale-${i % STATION_SPREAD}`;
/** Deterministic from the serial, so that the MEMORY USAGE sample can name the key index. */
export const spkiOf = (serial: Buffer): string => sha256hex('spki', serial);
