/** The value `make` resolves to, made on the first call and shared after; a failed make is tried again. */
export function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | null = null;
  return () => {
    made ??= make().catch((error) => {
      made = null;
      throw error;
    });
    return made;
  };
}

type AsyncMethods<T> = {
  [K in keyof T]: (...args: never[]) => Promise<unknown>;
};

/**
 * A port whose implementation (and the modules behind it) is made on its
 * first call, so a cold start loads only what its first answer needs. Every
 * member of the port must be an async method, and `methods` names each one
 * (the compiler checks that none is missing).
 */
export function lazyPort<T extends AsyncMethods<T>>(
  make: () => Promise<T>,
  methods: { readonly [K in keyof T]: true },
): T {
  const instance = once(make);
  const port = {} as Record<keyof T, unknown>;
  for (const name of Object.keys(methods) as (keyof T)[]) {
    port[name] = async (...args: unknown[]) => {
      const target = await instance();
      const method = target[name] as unknown as (...a: unknown[]) => Promise<unknown>;
      return await method.apply(target, args);
    };
  }
  return port as T;
}
