/** Where the CLI writes: result lines to stdout, progress to stderr. */
export interface Output {
  print(text: string): void;
  /** Shows that something is in progress; on a terminal it redraws one line, elsewhere it prints once. */
  progress(text: string): void;
  /** Clears the progress line, if any. */
  endProgress(): void;
}

const FRAMES = ["|", "/", "-", "\\"];

/** The process's terminal output: a spinner on a TTY, one plain line per step otherwise. */
export function consoleOutput(): Output {
  const encoder = new TextEncoder();
  const tty = Deno.stderr.isTerminal();
  let frame = 0;
  let shown = false;
  let last = "";
  return {
    print: (text) => console.log(text),
    progress(text) {
      if (tty) {
        Deno.stderr.writeSync(
          encoder.encode(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${text}`),
        );
        shown = true;
      } else if (text.replace(/[0-9]+ s/, "") !== last) {
        // Off a terminal, a line only when the step changes, not every tick.
        last = text.replace(/[0-9]+ s/, "");
        console.error(text);
      }
    },
    endProgress() {
      if (tty && shown) Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
      shown = false;
    },
  };
}

/** Runs `work`, calling `tick(elapsedSeconds)` every `everyMs` until it settles. */
export async function withTicks<T>(
  work: Promise<T>,
  tick: (elapsedSeconds: number) => void,
  everyMs = 250,
): Promise<T> {
  const started = Date.now();
  tick(0);
  const timer = setInterval(() => tick(Math.floor((Date.now() - started) / 1000)), everyMs);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
