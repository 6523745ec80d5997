import assert from "node:assert/strict";
import { lazyPort, once } from "../../src/infrastructure/lazy_port.ts";
import { lazyJob } from "../../src/jobs/lazy_job.ts";
import { aJobContext } from "../support/dynamics_fakes.ts";

interface Counter {
  add(n: number): Promise<number>;
  total(): Promise<number>;
}

class MemoryCounter implements Counter {
  #sum = 0;
  add(n: number) {
    this.#sum += n;
    return Promise.resolve(this.#sum);
  }
  total() {
    return Promise.resolve(this.#sum);
  }
}

Deno.test("lazyPort() makes nothing until the first call, then one implementation for every call", async () => {
  let made = 0;
  const port = lazyPort<Counter>(() => {
    made++;
    return Promise.resolve(new MemoryCounter());
  }, { add: true, total: true });
  assert.equal(made, 0, "nothing is made (or loaded) before the port is used");

  const [a, b] = await Promise.all([port.add(2), port.add(3)]);

  assert.deepEqual([a, b].sort(), [2, 5]);
  assert.equal(await port.total(), 5);
  assert.equal(made, 1);
});

Deno.test("lazyPort() passes a failed make to the caller and tries again on the next call", async () => {
  let attempts = 0;
  const port = lazyPort<Counter>(() => {
    attempts++;
    return attempts === 1
      ? Promise.reject(new Error("Cannot load module 'x'"))
      : Promise.resolve(new MemoryCounter());
  }, { add: true, total: true });

  await assert.rejects(port.add(1), /Cannot load module 'x'/);
  assert.equal(await port.add(1), 1);
  assert.equal(attempts, 2);
});

Deno.test("once() shares one made value between callers", async () => {
  let made = 0;
  const value = once(() => Promise.resolve(++made));
  assert.deepEqual(await Promise.all([value(), value()]), [1, 1]);
  assert.equal(await value(), 1);
});

Deno.test("lazyJob() builds its handler on the first run only, and runs it every time", async () => {
  let built = 0;
  const runs: unknown[] = [];
  const job = lazyJob(() => {
    built++;
    return Promise.resolve((payload) => {
      runs.push(payload);
      return Promise.resolve({ ok: true });
    });
  });
  assert.equal(built, 0);

  const { context } = aJobContext();
  assert.deepEqual(await job({ n: 1 }, context), { ok: true });
  assert.deepEqual(await job({ n: 2 }, context), { ok: true });

  assert.equal(built, 1);
  assert.deepEqual(runs, [{ n: 1 }, { n: 2 }]);
});
