// The Supabase CLI bundles imports from outside supabase/functions only when
// every relative import names its file (with .ts) and stays inside the project.
// These tests walk the entry point's module graph statically, as the bundler does.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const ENTRY = new URL("supabase/functions/nightly-scheduler/index.ts", ROOT);
const FUNCTION_CONFIG = new URL("supabase/functions/nightly-scheduler/deno.json", ROOT);
const SPECIFIER = /(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?["']([^"']+)["']/g;
// A dynamic import with a literal specifier (the composition root's lazy parts): bundled too.
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

function specifiersOf(source: string): string[] {
  const withoutComments = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  return [
    ...[...withoutComments.matchAll(SPECIFIER)].map((m) => m[1]),
    ...[...withoutComments.matchAll(DYNAMIC)].map((m) => m[1]),
  ];
}

function walk(...entries: URL[]) {
  const modules = new Set<string>();
  const bare = new Set<string>();
  const problems: string[] = [];
  const queue = [...entries];
  while (queue.length > 0) {
    const url = queue.pop()!;
    if (modules.has(url.href)) continue;
    modules.add(url.href);
    for (const specifier of specifiersOf(Deno.readTextFileSync(url))) {
      if (!specifier.startsWith(".")) {
        bare.add(specifier);
        continue;
      }
      const target = new URL(specifier, url);
      const where = `${url.pathname.slice(ROOT.pathname.length)} -> '${specifier}'`;
      if (!specifier.endsWith(".ts")) problems.push(`${where} has no .ts extension`);
      else if (!target.pathname.startsWith(ROOT.pathname)) {
        problems.push(`${where} leaves the project`);
      } else queue.push(target);
    }
  }
  return { modules, bare, problems };
}

Deno.test("the entry point's relative imports all name a .ts file inside the project", () => {
  const { modules, problems } = walk(ENTRY);
  assert.deepEqual(problems, []);
  assert.ok(modules.size > 10, `expected the whole graph, walked ${modules.size} modules`);
});

Deno.test("the entry point's bare imports are all in the function's deno.json import map", () => {
  const { bare } = walk(ENTRY);
  const imports = JSON.parse(Deno.readTextFileSync(FUNCTION_CONFIG)).imports as Record<
    string,
    string
  >;
  const unmapped = [...bare].filter((s) => !(s in imports) && !s.startsWith("node:"));
  assert.deepEqual(unmapped, []);
  assert.ok(![...bare].some((s) => s.startsWith("jsr:")), "JSR cannot be reached");
});

Deno.test("the function's import map pins the same versions as the project's", () => {
  const project = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT))).imports;
  const fn = JSON.parse(Deno.readTextFileSync(FUNCTION_CONFIG)).imports;
  for (const [name, target] of Object.entries(fn)) {
    assert.equal(target, project[name], `'${name}' differs between the two deno.json files`);
  }
});

Deno.test("domain and application import nothing from infrastructure, jobs or packages", () => {
  const layers = ["src/domain/", "src/application/"].map((layer) => new URL(layer, ROOT));
  const { modules, bare } = walk(...layers.flatMap(filesUnder));
  const outside = [...modules].filter((m) => !layers.some((layer) => m.startsWith(layer.href)));
  assert.deepEqual(outside, []);
  assert.deepEqual([...bare], []);
});

function filesUnder(folder: URL): URL[] {
  return [...Deno.readDirSync(folder)].flatMap((entry) =>
    entry.isDirectory
      ? filesUnder(new URL(`${entry.name}/`, folder))
      : entry.name.endsWith(".ts")
      ? [new URL(entry.name, folder)]
      : []
  );
}
