import assert from "node:assert/strict";
import { parseArgs } from "../../cli/args.ts";
import { CliError } from "../../cli/cli_error.ts";

Deno.test("parseArgs() reads status with --job, --limit and --json", () => {
  const args = parseArgs(["status", "--job", "heartbeat", "--limit", "5", "--json"]);
  assert.equal(args.command, "status");
  assert.equal(args.job, "heartbeat");
  assert.equal(args.limit, 5);
  assert.equal(args.json, true);
});

Deno.test("parseArgs() reads trigger with a payload object and --wait", () => {
  const args = parseArgs(["trigger", "heartbeat", "--payload", '{"hold_ms":10}', "--wait"]);
  assert.equal(args.jobName, "heartbeat");
  assert.deepEqual(args.payload, { hold_ms: 10 });
  assert.equal(args.wait, true);
});

Deno.test("parseArgs() reads the operator commands: pause, resume, cancel, a replay and the grid", () => {
  const pause = parseArgs(["pause", "heartbeat", "--reason", "portal maintenance"]);
  assert.deepEqual([pause.command, pause.jobName, pause.reason], [
    "pause",
    "heartbeat",
    "portal maintenance",
  ]);
  assert.equal(parseArgs(["resume", "heartbeat"]).jobName, "heartbeat");
  const id = "0f0e0d0c-0b0a-4000-8000-000000000001";
  assert.equal(parseArgs(["cancel", id.toUpperCase()]).executionId, id);
  const replay = parseArgs(["trigger", "heartbeat", "--night", "2026-11-30", "--reason", "x"]);
  assert.deepEqual([replay.jobName, replay.night, replay.reason], ["heartbeat", "2026-11-30", "x"]);
  assert.equal(parseArgs(["status", "--nights", "30", "--json"]).nights, 30);
});

Deno.test("parseArgs() with no command or -h asks for help", () => {
  assert.equal(parseArgs([]).command, "help");
  assert.equal(parseArgs(["status", "-h"]).command, "help");
});

for (
  const [argv, message] of [
    [["bogus"], /Unknown command 'bogus'/],
    [["trigger"], /trigger needs exactly one job name/],
    [["trigger", "Bad-Name"], /is not a job name/],
    [["status", "extra"], /takes no argument/],
    [["status", "--limit", "0"], /--limit must be an integer from 1 to 1000/],
    [["trigger", "heartbeat", "--payload", "{nope"], /--payload is not valid JSON/],
    [["trigger", "heartbeat", "--payload", "[1]"], /--payload must be a JSON object/],
    [["status", "--nope"], /Unknown option/],
    [["pause", "heartbeat"], /pause needs --reason TEXT/],
    [["resume"], /resume needs exactly one job name/],
    [["cancel", "not-a-uuid"], /'not-a-uuid' is not an execution id/],
    [["trigger", "heartbeat", "--night", "2026-02-30"], /--night must be a date like/],
    [["trigger", "heartbeat", "--night", "yesterday"], /--night must be a date like/],
    [["status", "--nights", "91"], /--nights must be an integer from 1 to 90/],
    [["status", "--nights", "7", "--job", "heartbeat"], /--nights or --job, not both/],
    [["status", "--night", "2026-11-30"], /--night is for trigger/],
    [["trigger", "heartbeat", "--night", "2026-11-30", "--payload", '{"a":1}'], /no --payload/],
  ] as const
) {
  Deno.test(`parseArgs() refuses ${JSON.stringify(argv)} with a usage hint`, () => {
    assert.throws(() => parseArgs([...argv]), (error: unknown) => {
      assert.ok(error instanceof CliError);
      assert.match(error.message, message);
      assert.equal(error.exitCode, 2);
      assert.match(error.line(), /^error: .*; run `deno task scheduler help` for usage$/);
      assert.doesNotMatch(error.line(), /\n/);
      return true;
    });
  });
}
