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
