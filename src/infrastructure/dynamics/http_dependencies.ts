import type { Sleep } from "../../domain/batch_pacer.ts";
import type { Clock } from "../../domain/clock.ts";

/** I/O the Dynamics adapters need, injected so tests need neither network nor timers. */
export interface HttpDependencies {
  readonly fetch: typeof fetch;
  readonly clock: Clock;
  readonly sleep: Sleep;
}
