/**
 * Progress of a long command, on stderr only (stdout is for the result and --json). On a terminal
 * a bar redrawn in place at most every 100 ms:
 *   [#########...........] 45,000/100,000 rows 12,345/s ETA 4s
 * Elsewhere (a log, a pipe) a plain line every 5 s or every 10 %, whichever comes first (none in
 * the first 2 s), and one at the end. Without a total: the count and the rate.
 */
export interface Progress {
  /** How many units are done so far. */
  update(done: number): void;
  /** The last state (a newline after the bar on a terminal). Idempotent. */
  finish(): void;
  /** Before other output on the same stream: erases the bar (redrawn at the next update). */
  clearLine(): void;
}

export interface ProgressOptions {
  /** What is counted: "rows", "certificates requeued". */
  readonly unit: string;
  readonly total?: number;
  readonly stream: { write(text: string): unknown; readonly isTTY?: boolean; readonly columns?: number };
  readonly quiet?: boolean;
  /** Milliseconds, monotonic. */
  readonly now?: () => number;
  /** Environment, for TERM=dumb (no redrawing). */
  readonly env?: NodeJS.ProcessEnv;
}

const REDRAW_MS = 100;
const LINE_MS = 5000;
const QUIET_START_MS = 2000;
const BAR = 20;

export const SILENT_PROGRESS: Progress = { update: () => undefined, finish: () => undefined, clearLine: () => undefined };

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function createProgress(o: ProgressOptions): Progress {
  if (o.quiet) return SILENT_PROGRESS;
  const now = o.now ?? ((): number => performance.now());
  const tty = o.stream.isTTY === true && (o.env ?? process.env).TERM !== 'dumb';
  const started = now();
  let done = 0;
  let lastDraw = -Infinity;
  let lastLineDone = 0;
  let finished = false;
  /** A bar is on the terminal's current line. */
  let onLine = false;

  const describe = (final: boolean): string => {
    const elapsed = (now() - started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const count = o.total === undefined ? `${fmt(done)} ${o.unit}` : `${fmt(done)}/${fmt(o.total)} ${o.unit}`;
    if (final) return `${count} in ${elapsed < 60 ? `${elapsed.toFixed(1)}s` : duration(elapsed)}`;
    const speed = elapsed > 0.2 ? ` ${fmt(rate)}/s` : '';
    const eta = o.total !== undefined && rate > 0 && elapsed > 0.2 ? ` ETA ${duration((o.total - done) / rate)}` : '';
    return count + speed + eta;
  };

  const drawBar = (final: boolean): void => {
    let line = describe(final);
    if (o.total !== undefined) {
      const filled = o.total > 0 ? Math.min(BAR, Math.floor((done / o.total) * BAR)) : BAR;
      line = `[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${line}`;
    }
    const width = (o.stream.columns || 80) - 1;
    if (line.length > width) line = line.slice(0, Math.max(0, width));
    // \r, the line, then erase what a longer earlier line left behind.
    o.stream.write(`\r${line}\x1b[K${final ? '\n' : ''}`);
    onLine = !final;
  };

  const plainLine = (final: boolean): void => {
    const pct = o.total ? ` (${Math.floor((done / o.total) * 100)} %)` : '';
    o.stream.write(`pki: ${describe(final)}${final ? '' : pct}\n`);
  };

  return {
    update(n: number): void {
      if (finished) return;
      done = n;
      const t = now();
      if (tty) {
        if (t - lastDraw >= REDRAW_MS) {
          lastDraw = t;
          drawBar(false);
        }
        return;
      }
      // Every 5 s or 10 %, but nothing in the first 2 s: a quick run prints only its last line.
      const step = o.total ? o.total / 10 : Infinity;
      const since = lastDraw === -Infinity ? t - started : t - lastDraw;
      if (t - started >= QUIET_START_MS && (since >= LINE_MS || done - lastLineDone >= step)) {
        lastDraw = t;
        lastLineDone = done;
        plainLine(false);
      }
    },
    clearLine(): void {
      if (!onLine) return;
      o.stream.write('\r\x1b[K');
      onLine = false;
      lastDraw = -Infinity;
    },
    finish(): void {
      if (finished) return;
      finished = true;
      if (tty) drawBar(true);
      else plainLine(true);
    },
  };
}
