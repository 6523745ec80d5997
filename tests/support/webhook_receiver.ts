// A local stand-in for a Slack/Teams incoming webhook: records every POST body.

/** One request the receiver got. */
export interface ReceivedHook {
  readonly contentType: string | null;
  readonly body: unknown;
}

/** A webhook receiver on 127.0.0.1 (a free port); answers "ok" like Slack. Close it with `close()`. */
export class WebhookReceiver {
  readonly received: ReceivedHook[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        const text = await req.text();
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // kept as text: a test then sees it was not JSON
        }
        this.received.push({ contentType: req.headers.get("content-type"), body });
        return new Response("ok");
      },
    );
  }

  /** The URL to put in Vault's nightly_scheduler_alert_webhook_url. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}/hook`;
  }

  /** The `text` of every received POST that mentions `needle`. */
  textsMentioning(needle: string): string[] {
    return this.received
      .map((hook) => (hook.body as { text?: unknown })?.text)
      .filter((text): text is string => typeof text === "string" && text.includes(needle));
  }

  close(): Promise<void> {
    return this.#server.shutdown();
  }
}
