// The deploy workflow is valid YAML, runs its steps in the order a safe deploy
// needs, and uses only commands the README documents.
import assert from "node:assert/strict";
import { parse } from "yaml";

const ROOT = new URL("../../", import.meta.url);

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
}

const workflow = parse(
  Deno.readTextFileSync(new URL(".github/workflows/deploy.yml", ROOT)),
) as {
  on: { push?: { tags?: string[] }; workflow_dispatch?: unknown };
  jobs: Record<string, { steps: Step[]; env?: Record<string, string> }>;
};
const steps = Object.values(workflow.jobs).flatMap((job) => job.steps);
const runLines = steps.flatMap((step) =>
  (step.run ?? "").split("\n").map((line) => line.trim()).filter((line) => line !== "")
);

Deno.test("deploy.yml runs on a version tag and on a manual dispatch", () => {
  assert.deepEqual(workflow.on.push?.tags, ["v*"]);
  assert.ok("workflow_dispatch" in workflow.on);
});

Deno.test("deploy.yml tests, then pushes migrations, then deploys the function, then runs doctor", () => {
  const order = [
    "bash scripts/test.sh",
    "supabase db push",
    "supabase functions deploy nightly-scheduler --use-api",
    "deno task scheduler doctor",
  ].map((command) => runLines.findIndex((line) => line.startsWith(command)));
  assert.ok(order.every((index) => index >= 0), `missing a step: ${JSON.stringify(order)}`);
  assert.deepEqual([...order].sort((a, b) => a - b), order);
});

Deno.test("deploy.yml uses only commands the README documents", () => {
  const readme = Deno.readTextFileSync(new URL("README.md", ROOT));
  for (const line of runLines) {
    assert.ok(readme.includes(line), `README.md does not document '${line}'`);
  }
});

Deno.test("deploy.yml passes secrets through env, never inside a command", () => {
  for (const line of runLines) assert.doesNotMatch(line, /\$\{\{\s*secrets\./, line);
  const env = JSON.stringify(Object.values(workflow.jobs).map((job) => job.env)) +
    JSON.stringify(steps.map((step) => step.env ?? {}));
  for (
    const name of [
      "SUPABASE_ACCESS_TOKEN",
      "SUPABASE_PROJECT_REF",
      "SUPABASE_DB_PASSWORD",
      "SUPABASE_SECRET_KEY",
    ]
  ) {
    assert.ok(env.includes(`secrets.${name}`), `${name} is not taken from the repository secrets`);
  }
});
