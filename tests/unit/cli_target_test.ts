import assert from "node:assert/strict";
import { CliError } from "../../cli/cli_error.ts";
import { parseEnvFile, resolveTarget, type TargetSources } from "../../cli/target.ts";

const LOCAL = {
  API_URL: "http://127.0.0.1:54321",
  SERVICE_ROLE_KEY: "eyJlocal",
  SCHEDULER_SECRET: "local-secret",
};

function sources(over: Partial<TargetSources> & { vars?: Record<string, string> } = {}) {
  const vars = over.vars ?? {};
  return { env: (name: string) => vars[name], localStack: () => LOCAL, ...over };
}

Deno.test("resolveTarget() defaults to the local stack and its keys", () => {
  const target = resolveTarget(sources());
  assert.equal(target.label, "local stack");
  assert.equal(target.functionUrl, "http://127.0.0.1:54321/functions/v1/nightly-scheduler");
  assert.equal(target.apiKey, "eyJlocal");
  assert.equal(target.schedulerSecret, "local-secret");
});

Deno.test("resolveTarget() without a URL or a running stack says how to start it", () => {
  assert.throws(
    () => resolveTarget(sources({ localStack: () => null })),
    (error: unknown) =>
      error instanceof CliError && /local\/stack\.sh up/.test(error.hint) &&
      /SUPABASE_URL/.test(error.hint),
  );
});

Deno.test("resolveTarget() targets SUPABASE_URL with SUPABASE_SECRET_KEY first", () => {
  const target = resolveTarget(sources({
    vars: {
      SUPABASE_URL: "https://abc.supabase.co/",
      SUPABASE_SECRET_KEY: "sb_secret_one",
      SUPABASE_SERVICE_ROLE_KEY: "eyJlegacy",
      SCHEDULER_SECRET: "s",
    },
  }));
  assert.equal(target.label, "abc.supabase.co");
  assert.equal(target.apiUrl, "https://abc.supabase.co");
  assert.equal(target.functionUrl, "https://abc.supabase.co/functions/v1/nightly-scheduler");
  assert.equal(target.apiKey, "sb_secret_one");
  assert.equal(target.schedulerSecret, "s");
});

Deno.test("resolveTarget() takes SUPABASE_SECRET_KEYS' default, then the legacy key", () => {
  const url = "https://abc.supabase.co";
  assert.equal(
    resolveTarget(sources({
      vars: { SUPABASE_URL: url, SUPABASE_SECRET_KEYS: '{"default":"sb_secret_d"}' },
    })).apiKey,
    "sb_secret_d",
  );
  assert.equal(
    resolveTarget(sources({ vars: { SUPABASE_URL: url, SUPABASE_SERVICE_ROLE_KEY: "eyJx" } }))
      .apiKey,
    "eyJx",
  );
  assert.equal(resolveTarget(sources({ vars: { SUPABASE_URL: url } })).apiKey, undefined);
});

Deno.test("resolveTarget() lets --url and --function-url win, and the environment win over --env-file", () => {
  const target = resolveTarget(sources({
    url: "https://flag.example",
    functionUrl: "https://fn.example/x",
    vars: { SUPABASE_URL: "https://env.example", SCHEDULER_SECRET: "from-env" },
    envFile: { SCHEDULER_SECRET: "from-file", SUPABASE_SECRET_KEY: "sb_secret_file" },
  }));
  assert.equal(target.apiUrl, "https://flag.example");
  assert.equal(target.functionUrl, "https://fn.example/x");
  assert.equal(target.schedulerSecret, "from-env");
  assert.equal(target.apiKey, "sb_secret_file");
});

Deno.test("resolveTarget() refuses a URL that is not http(s), naming where it came from", () => {
  assert.throws(
    () => resolveTarget(sources({ vars: { SUPABASE_URL: "ftp://x" } })),
    /SUPABASE_URL is not an http\(s\) URL/,
  );
});

Deno.test("resolveTarget() refuses a malformed SUPABASE_SECRET_KEYS without echoing it", () => {
  assert.throws(
    () =>
      resolveTarget(sources({
        vars: { SUPABASE_URL: "https://a.example", SUPABASE_SECRET_KEYS: "sb_secret_leak" },
      })),
    (error: unknown) => error instanceof CliError && !error.line().includes("leak"),
  );
});

Deno.test("parseEnvFile() reads KEY=VALUE lines, quotes and export, skipping the rest", () => {
  assert.deepEqual(
    parseEnvFile("# c\nexport A='1'\nB=\"two words\"\n\nnot a line\nC=x=y\n"),
    { A: "1", B: "two words", C: "x=y" },
  );
});
