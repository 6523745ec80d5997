// Runs the `scheduler` CLI as a user would (`deno task scheduler ...`), for integration tests.

/** What one CLI run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

const ROOT = new URL("../../", import.meta.url).pathname;

/**
 * Runs `deno task scheduler <args>` from the repository root with only `env`
 * added to a minimal environment (so nothing from the test's own environment
 * picks the target by accident).
 */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const base: Record<string, string> = { NO_COLOR: "1" };
  for (const name of ["PATH", "HOME", "DENO_CERT", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) base[name] = value;
  }
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "scheduler", ...args],
    cwd: ROOT,
    clearEnv: true,
    env: { ...base, ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** Asserts-friendly: every line of a CLI run, both streams. */
export function allOutput(run: CliRun): string {
  return `${run.stdout}\n${run.stderr}`;
}
