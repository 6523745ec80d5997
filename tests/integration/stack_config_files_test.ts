// The stack rewrites its config files on every `up` while services may read
// them (PostgREST re-reads its config on a `reload config` notification): each
// is replaced whole by a rename, never truncated and rewritten in place.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;
const FILES = [".local/postgrest.conf", ".local/stack.env"];

Deno.test("stack.sh up replaces its config files by a rename: a reader sees the old file or the new one, whole", async () => {
  const before = await Promise.all(FILES.map((f) => Deno.stat(`${ROOT}${f}`)));
  // A reader that keeps reading PostgREST's config while `up` rewrites it.
  let reads = 0;
  const torn: string[] = [];
  let upDone = false;
  const reader = (async () => {
    while (!upDone) {
      const text = await Deno.readTextFile(`${ROOT}.local/postgrest.conf`);
      reads++;
      if (!/^jwt-secret = ".+"$/m.test(text) || !/^server-port = \d+$/m.test(text)) {
        torn.push(text);
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  })();
  const up = await new Deno.Command("bash", {
    args: [`${ROOT}local/stack.sh`, "up"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  upDone = true;
  await reader;
  const said = new TextDecoder().decode(up.stdout) + new TextDecoder().decode(up.stderr);
  assert.ok(up.success, said);

  const after = await Promise.all(FILES.map((f) => Deno.stat(`${ROOT}${f}`)));
  FILES.forEach((file, i) => {
    assert.notEqual(after[i].ino, before[i].ino, `${file} was rewritten in place`);
    assert.equal(after[i].mode! & 0o777, 0o600, `${file} stays private`);
  });
  assert.deepEqual(torn, [], `${torn.length} of ${reads} reads saw a partial postgrest.conf`);
  const leftovers = [...Deno.readDirSync(`${ROOT}.local`)].map((e) => e.name)
    .filter((name) => /^(postgrest\.conf|stack\.env)\./.test(name));
  assert.deepEqual(leftovers, [], "no temporary file is left behind");
});
