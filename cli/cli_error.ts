/** An error the CLI prints as one line: what went wrong, then what to do next. Never a stack trace. */
export class CliError extends Error {
  constructor(message: string, readonly hint: string, readonly exitCode = 1) {
    super(message);
    this.name = new.target.name;
  }

  /** The one line the user sees. */
  line(): string {
    return `error: ${this.message}; ${this.hint}`;
  }
}
