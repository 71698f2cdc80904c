/** An error the CLI reports as one line, with an exit code (2: bad input or state; 1: failure). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
