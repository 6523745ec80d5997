/** A source of the current time, injected so that tests and SQL see the same instant. */
export interface Clock {
  now(): Date;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };
