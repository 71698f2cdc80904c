/** Progress: one updating line on stderr (a line every 10 s when stderr is not a terminal); number formats. */
import { f0 } from '../bench-kit.js';

export const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
export const dur = (s: number): string => (!Number.isFinite(s) ? '-' : s < 90 ? `${f0(s)} s` : `${Math.floor(s / 60)} min ${f0(s % 60).padStart(2, '0')} s`);

export class ProgressLine {
  private last = -Infinity;
  private readonly tty = process.stderr.isTTY === true;
  private readonly t0 = performance.now();

  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(done: number, extra = '', force = false): void {
    const now = performance.now();
    if (!force && now - this.last < (this.tty ? 250 : 10_000)) return;
    this.last = now;
    const frac = this.total ? Math.min(1, done / this.total) : 1;
    const rate = done / ((now - this.t0) / 1000);
    const width = 28;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '-');
    const line = `[bench] ${this.label} [${bar}] ${(frac * 100).toFixed(1).padStart(5)}% ${int(done)}/${int(this.total)}  ${int(rate)}/s  ETA ${dur((this.total - done) / rate)}${extra}`;
    process.stderr.write(this.tty ? `\r${line}\x1b[K` : `${line}\n`);
  }

  end(): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
  }
}
