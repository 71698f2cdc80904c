import type { ParseArgsConfig } from 'node:util';
import type { Progress } from './progress.js';

/** What every command gets besides its own options. */
export interface CommandContext {
  /** PKI data directory: --data-dir, else $PKI_DATA_DIR, else ./data. */
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** --json: print one JSON document on stdout instead of text. */
  readonly json: boolean;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** --quiet: no progress output. */
  readonly quiet: boolean;
  /** A progress reporter on stderr (a bar on a terminal, a line now and then otherwise; nothing with --quiet). */
  readonly progress: (unit: string, total?: number) => Progress;
}

export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** One `pki` command (a name may have two words: `stations import`, `rotate-root prepare`). */
export interface Command {
  readonly name: string;
  /** One line for `pki --help`. */
  readonly summary: string;
  /** The whole text of `pki <name> --help`: usage line, options, exit codes worth knowing. */
  readonly help: string;
  /** Options besides the global ones (--data-dir, --json, -q/--quiet, -h/--help). */
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** How many positional arguments it takes (main.ts refuses others with exit 2); unset: not checked. */
  readonly positionals?: { readonly min: number; readonly max: number };
  /** Returns the exit code (EXIT); throws CliError for a one-line failure. */
  run(values: OptionValues, positionals: string[], ctx: CommandContext): Promise<number>;
}
