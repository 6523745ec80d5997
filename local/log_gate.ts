/**
 * LOCAL ONLY: the hosted log limits, applied to every worker's output: at most
 * `perWindow` log events (lines) per window across the function's workers,
 * each cut to `maxChars` characters. Events over the rate are dropped, as
 * hosted's log pipeline does not keep them, and counted: one
 * `edge_runtime.log_events_dropped` line per window that dropped any says how
 * many, so a test or a reader of `.local/logs/function.log` sees the loss.
 */
export class LogGate {
  readonly #perWindow: number;
  readonly #windowMs: number;
  readonly #maxChars: number;
  readonly #write: (line: string) => void;
  #windowStart = Date.now();
  #kept = 0;
  #dropped = 0;
  /** Events dropped since the host started. */
  droppedTotal = 0;

  constructor(
    options: { perWindow: number; windowMs: number; maxChars: number },
    write: (line: string) => void = (line) => console.log(line),
  ) {
    this.#perWindow = options.perWindow;
    this.#windowMs = options.windowMs;
    this.#maxChars = options.maxChars;
    this.#write = write;
  }

  /** One log event of the function: kept if the window has room. */
  event(line: string): void {
    this.#roll();
    if (this.#kept >= this.#perWindow) {
      this.#dropped++;
      this.droppedTotal++;
      return;
    }
    this.#kept++;
    this.#write(line.length > this.#maxChars ? line.slice(0, this.#maxChars) : line);
  }

  /** A line of the host's own (never counted or dropped). */
  note(event: string, fields: Record<string, unknown>): void {
    this.#write(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
  }

  /** Feeds a worker's output, line by line, through the gate. */
  async pipe(stream: ReadableStream<Uint8Array>, _worker: number): Promise<void> {
    let rest = "";
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) if (line !== "") this.event(line);
    }
    if (rest !== "") this.event(rest);
  }

  #roll(): void {
    const now = Date.now();
    if (now - this.#windowStart < this.#windowMs) return;
    if (this.#dropped > 0) {
      this.note("edge_runtime.log_events_dropped", {
        dropped: this.#dropped,
        window_ms: this.#windowMs,
        limit: this.#perWindow,
      });
    }
    this.#windowStart = now;
    this.#kept = 0;
    this.#dropped = 0;
  }
}
