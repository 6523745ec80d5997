// `deno task bench`: every benchmark, printed as Markdown tables.
//   deno task bench            dispatch with fakes; with the local stack up, also
//                              cold start (and module loading per library), dispatch + log,
//                              acknowledgement latency, the sync through the function,
//                              the coordinator's certification RPCs, certification_expiry_check,
//                              hlf_dynamics_sync against the fake Dataverse, and parts per night
//                              for both jobs (100k and 1M; about 15 minutes)
//   deno task bench --quick    certification_expiry_check at 10k and 100k only, no parts
import {
  certificationExpiryBench,
  certificationExpiryTable,
} from "./certification_expiry_bench.ts";
import { coordinatorVisibilityBench, visibilityTable } from "./coordinator_visibility_bench.ts";
import { dispatchBench, dispatchTable } from "./dispatch_bench.ts";
import { hlfSyncBench, hlfSyncTable } from "./hlf_sync_bench.ts";
import { partsBench, partsTable } from "./parts_bench.ts";
import {
  syncThroughFunctionBench,
  syncThroughFunctionTable,
} from "./sync_through_function_bench.ts";
import {
  acknowledgementBench,
  acknowledgementTable,
  coldStartBench,
  dispatchAndLogBench,
  moduleLoadBench,
  stackTables,
} from "./stack_bench.ts";
import { alertCheckBench, retentionBench, retentionTables } from "./retention_bench.ts";
import { targetsTable } from "./targets.ts";

const quick = Deno.args.includes("--quick");
const stackUp = await Deno.stat(new URL("../.local/stack.env", import.meta.url)).then(
  () => true,
  () => false,
);

console.log(
  `# nightly-scheduler benchmarks (${new Date().toISOString()}, Deno ${Deno.version.deno})\n`,
);
// The machine's load when the run starts (and at the end): figures are only comparable within a run.
const uptime = async () =>
  new TextDecoder().decode((await new Deno.Command("uptime").output()).stdout).trim();
console.log(`load at start: ${await uptime()}\n`);
console.log("==> dispatch overhead with fakes (10,000 requests)");
console.log(dispatchTable(await dispatchBench()), "\n");

if (!stackUp) {
  console.log(
    "The local stack is down: start it with `deno task stack:up` for the database figures.",
  );
  Deno.exit(0);
}
console.log("==> cold start and dispatch + log on the local stack");
const cold = await coldStartBench();
console.log(stackTables(cold, await moduleLoadBench(), await dispatchAndLogBench()), "\n");
console.log("==> acknowledgement of a dispatched call, beside one PostgREST round trip");
console.log(acknowledgementTable(await acknowledgementBench()), "\n");
console.log(
  "==> certification RPCs for a coordinator of 2,000 mentors in 100,000 / 300,000 certifications",
);
const visibility = await coordinatorVisibilityBench();
console.log(visibilityTable(visibility), "\n");
console.log("==> retention purge (200,000 old log rows) and the alert check on the local stack");
console.log(retentionTables(await retentionBench(), await alertCheckBench()), "\n");
console.log(
  "==> hlf_dynamics_sync through the function and the demo portal at 50 ms a request (100,000 records)",
);
const sync = await syncThroughFunctionBench();
console.log(syncThroughFunctionTable(sync), "\n");
console.log("==> hlf_dynamics_sync against the fake Dataverse over HTTP (about 2 minutes)");
console.log(hlfSyncTable(await hlfSyncBench()), "\n");
const sizes = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
console.log(
  `==> certification_expiry_check at ${
    sizes.join(", ")
  } certifications (takes minutes; alternated order, same physical history)`,
);
const expiry = await certificationExpiryBench(sizes);
console.log(certificationExpiryTable(expiry));
if (!quick) {
  console.log("\n==> parts per night at 100,000 and 1,000,000 (takes about 15 minutes)");
  console.log(partsTable(await partsBench()));
}
console.log("\n==> the issue-18 targets, from this run");
console.log(targetsTable({ cold, visibility, sync, expiry }));
console.log(`\nload at the end: ${await uptime()}`);
