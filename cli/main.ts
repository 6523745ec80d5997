// The `scheduler` operator CLI: `deno task scheduler <status|trigger|pause|resume|cancel|doctor>`.
// Talks to the local stack by default, to any project given its URL and keys;
// prints no secret, and every error as one line that says what to do next.
import { type CliArgs, parseArgs, USAGE } from "./args.ts";
import { CliError } from "./cli_error.ts";
import { cancel, pause, resume } from "./controls.ts";
import { doctor } from "./doctor.ts";
import { consoleOutput, type Output } from "./progress.ts";
import { SchedulerApi } from "./scheduler_api.ts";
import { replay } from "./replay.ts";
import { nightGrid, status } from "./status.ts";
import { missingKey, parseEnvFile, resolveTarget, type Target } from "./target.ts";
import { trigger } from "./trigger.ts";

const LOCAL_STACK_ENV = new URL("../.local/stack.env", import.meta.url);

/** Runs one command line; returns the exit code. */
export async function main(argv: string[], out: Output = consoleOutput()): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (args.command === "help") {
      out.print(USAGE);
      return 0;
    }
    return await run(args, targetFor(args), out);
  } catch (error) {
    out.endProgress();
    if (error instanceof CliError) {
      console.error(error.line());
      return error.exitCode;
    }
    // Unexpected: still one line, no stack trace (which could carry a request's headers).
    console.error(
      `error: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}; ` +
        "this is a bug in the CLI, please report it with the command you ran",
    );
    return 1;
  }
}

async function run(args: CliArgs, target: Target, out: Output): Promise<number> {
  const api = new SchedulerApi(target);
  switch (args.command) {
    case "status":
      if (target.apiKey === undefined) throw missingKey("apiKey", "status");
      if (args.nights !== undefined) {
        return await nightGrid(
          api,
          { nights: args.nights, json: args.json, colour: colour() },
          out.print,
        );
      }
      return await status(api, args, out.print);
    case "trigger":
      if (args.night !== undefined) {
        if (target.apiKey === undefined) throw missingKey("apiKey", "trigger --night");
        return await replay(api, {
          jobName: args.jobName!,
          night: args.night,
          reason: args.reason,
          operator: operator(),
          wait: args.wait,
          timeoutSeconds: args.timeoutSeconds,
        }, out);
      }
      if (target.schedulerSecret === undefined) throw missingKey("schedulerSecret", "trigger");
      if (args.wait && target.apiKey === undefined) throw missingKey("apiKey", "trigger --wait");
      return await trigger(api, {
        jobName: args.jobName!,
        payload: args.payload,
        wait: args.wait,
        timeoutSeconds: args.timeoutSeconds,
        canReadLog: target.apiKey !== undefined,
      }, out);
    case "pause":
      if (target.apiKey === undefined) throw missingKey("apiKey", "pause");
      return await pause(
        api,
        { jobName: args.jobName!, reason: args.reason!, operator: operator() },
        out.print,
      );
    case "resume":
      if (target.apiKey === undefined) throw missingKey("apiKey", "resume");
      return await resume(api, { jobName: args.jobName!, operator: operator() }, out.print);
    case "cancel":
      if (target.apiKey === undefined) throw missingKey("apiKey", "cancel");
      return await cancel(api, { executionId: args.executionId!, operator: operator() }, out.print);
    case "doctor":
      if (target.apiKey === undefined) throw missingKey("apiKey", "doctor");
      return await doctor(api, {
        functionUrl: target.functionUrl,
        timeoutSeconds: args.timeoutSeconds,
      }, out);
    default:
      throw new CliError(`Unknown command '${args.command}'`, "run `deno task scheduler help`", 2);
  }
}

/** Who the records name as having paused, resumed, cancelled or replayed: SCHEDULER_OPERATOR, else the login. */
function operator(): string {
  const name = Deno.env.get("SCHEDULER_OPERATOR") ?? Deno.env.get("USER") ??
    Deno.env.get("LOGNAME");
  return name?.trim().slice(0, 200) || "unknown operator";
}

/** Colours only on a terminal, and never with NO_COLOR set (https://no-color.org). */
function colour(): boolean {
  return Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
}

function targetFor(args: CliArgs): Target {
  return resolveTarget({
    url: args.url,
    functionUrl: args.functionUrl,
    envFile: args.envFile === undefined ? undefined : readEnvFile(args.envFile),
    env: (name) => Deno.env.get(name),
    localStack: () => {
      try {
        return parseEnvFile(Deno.readTextFileSync(LOCAL_STACK_ENV));
      } catch {
        return null;
      }
    },
  });
}

function readEnvFile(path: string): Record<string, string> {
  try {
    return parseEnvFile(Deno.readTextFileSync(path));
  } catch {
    throw new CliError(
      `Cannot read --env-file '${path}'`,
      "give a readable file of KEY=VALUE lines",
    );
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
