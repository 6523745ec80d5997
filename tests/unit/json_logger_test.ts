import assert from "node:assert/strict";
import { JsonLogger } from "../../src/infrastructure/logging/json_logger.ts";

Deno.test("JsonLogger writes one JSON object per line with its bound fields", () => {
  const lines: string[] = [];
  const logger = new JsonLogger({ service: "s" }, (line) => lines.push(line)).with({
    execution_id: "e1",
  });
  logger.warn("job.failed", { error: "boom" });
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]);
  assert.equal(line.level, "warn");
  assert.equal(line.event, "job.failed");
  assert.equal(line.service, "s");
  assert.equal(line.execution_id, "e1");
  assert.equal(line.error, "boom");
  assert.match(line.time, /^\d{4}-\d\d-\d\dT/);
});

Deno.test("JsonLogger redacts fields that look like secrets, at any depth", () => {
  const lines: string[] = [];
  new JsonLogger({}, (line) => lines.push(line)).info("x", {
    authorization: "Bearer abc",
    nested: { client_secret: "shh", access_token: "t", service_role_key: "k", ok: 1 },
  });
  assert.doesNotMatch(lines[0], /abc|shh|"t"|"k"/);
  assert.equal(JSON.parse(lines[0]).nested.ok, 1);
});
