// The certification RPCs for one coordinator of 2,000 peer mentors in a roster
// of 100,000 mentors and 300,000 certifications (target: the status list
// under 50 ms at p99 on the local stack). Each case is timed twice: over a
// direct connection acting as the user (the function's own cost), and as an
// app would call it, through the gateway and PostgREST with a signed JWT.
// auto_explain reports the plan of the list's query inside the function.
//   deno run -A bench/coordinator_visibility_bench.ts [requests]
import postgres from "postgres";
import { connect, signJwt, stackEnv } from "../local/stack.ts";
import {
  ADMINISTRATOR_EMAIL,
  COORDINATOR_EMAIL,
  dropVisibilityRoster,
  generateVisibilityRoster,
} from "./coordinator_visibility_bench_data.ts";
import { ms, summarize, type Summary, table } from "./stats.ts";

/** One RPC call: the function and its named arguments (SQL literals with casts). */
interface Case {
  name: string;
  user: "coordinator" | "administrator";
  fn: string;
  args: Record<string, string>;
  /** Fewer calls for a slow case, so the benchmark stays a few minutes. */
  callsDivisor?: number;
}

/** What the benchmark measured. */
export interface VisibilityBenchResult {
  mentorsInScope: number;
  certificationsInScope: number;
  generateMs: number;
  rows: { name: string; direct: Summary; http: Summary }[];
  plan: string;
}

const WARM_UP = 20;

/** Generates the roster, times every case, reads the list's plan, and always drops the roster. */
export async function coordinatorVisibilityBench(requests = 300): Promise<VisibilityBenchResult> {
  const env = stackEnv();
  const sql = connect(env);
  try {
    const started = performance.now();
    await generateVisibilityRoster(sql);
    const generateMs = performance.now() - started;
    const users = {
      coordinator: await userId(sql, COORDINATOR_EMAIL),
      administrator: await userId(sql, ADMINISTRATOR_EMAIL),
    };
    const [scope] = await sql`select count(distinct v.peer_mentor_id)::int as mentors,
        count(c.id)::int as certifications
      from peer_mentors_visible_to(${users.coordinator}) v
      join certification c on c.peer_mentor_id = v.peer_mentor_id`;
    // The key of the 1,000th row, for a page deep into the list.
    const [deep] = await asUser(
      sql,
      users.coordinator,
      (tx) =>
        tx`select expires_at, certification_id from certification_status_list(p_limit => 500)
        offset 499`.then(async ([row]) =>
          await tx`select expires_at, certification_id from certification_status_list(
          p_limit => 500, p_after_expires_at => ${row.expires_at},
          p_after_certification_id => ${row.certification_id}) offset 499`
        ),
    );
    // A mentor of chapter 0 (mentor g is in chapter g % 50).
    const [{ mentor }] = await sql`select md5('bench-vis-mentor-50')::uuid as mentor`;
    const cases: Case[] = [
      {
        name: "status list, first page of 50",
        user: "coordinator",
        fn: "certification_status_list",
        args: {},
      },
      {
        name: "status list, page after 1,000 rows",
        user: "coordinator",
        fn: "certification_status_list",
        args: {
          p_after_expires_at: `'${deep.expires_at.toISOString()}'::timestamptz`,
          p_after_certification_id: `'${deep.certification_id}'::uuid`,
        },
      },
      {
        name: "status list, expiring within 30 days",
        user: "coordinator",
        fn: "certification_status_list",
        args: { p_expiring_within_days: "30" },
      },
      {
        name: "counts per status",
        user: "coordinator",
        fn: "certification_status_counts",
        args: {},
      },
      {
        name: "one mentor's certifications",
        user: "coordinator",
        fn: "peer_mentor_certifications",
        args: { p_peer_mentor_id: `'${mentor}'::uuid` },
      },
      {
        name: "administrator (100,000 mentors): one mentor's certifications",
        user: "administrator",
        fn: "peer_mentor_certifications",
        args: { p_peer_mentor_id: `'${mentor}'::uuid` },
      },
      {
        name: "administrator (100,000 mentors): status list, first page",
        user: "administrator",
        fn: "certification_status_list",
        args: {},
        callsDivisor: 10,
      },
    ];
    const rows = [];
    for (const c of cases) {
      const calls = Math.ceil(requests / (c.callsDivisor ?? 1));
      const direct = await timeDirect(sql, users[c.user], c, calls);
      const http = await timeHttp(env, users[c.user], c, calls);
      rows.push({ name: c.name, direct, http });
    }
    const plan = await listPlan(env.ADMIN_DB_URL, users.coordinator);
    return {
      mentorsInScope: scope.mentors,
      certificationsInScope: scope.certifications,
      generateMs,
      rows,
      plan,
    };
  } finally {
    await dropVisibilityRoster(sql);
    await sql.end();
  }
}

async function userId(sql: postgres.Sql, email: string): Promise<string> {
  const [row] = await sql`select id from auth.users where email = ${email}`;
  return row.id;
}

/** Runs `fn` in a transaction that acts as the user, as PostgREST sets it up. */
function asUser<T>(
  sql: postgres.Sql,
  user: string,
  fn: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  return sql.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${
      JSON.stringify({ role: "authenticated", sub: user })
    }, true)`;
    await tx`set local role authenticated`;
    return await fn(tx);
  }) as Promise<T>;
}

function callSql(c: Case): string {
  const args = Object.entries(c.args).map(([k, v]) => `${k} => ${v}`).join(", ");
  return `select * from public.${c.fn}(${args})`;
}

async function timeDirect(sql: postgres.Sql, user: string, c: Case, n: number): Promise<Summary> {
  const samples: number[] = [];
  await asUser(sql, user, async (tx) => {
    for (let i = 0; i < WARM_UP + n; i++) {
      const start = performance.now();
      await tx.unsafe(callSql(c));
      if (i >= WARM_UP) samples.push(performance.now() - start);
    }
  });
  return summarize(samples);
}

async function timeHttp(
  env: ReturnType<typeof stackEnv>,
  user: string,
  c: Case,
  n: number,
): Promise<Summary> {
  const token = await signJwt({
    role: "authenticated",
    sub: user,
    exp: Math.floor(Date.now() / 1000) + 3600,
  });
  // JSON body: the SQL literals without their quotes and casts.
  const body = JSON.stringify(
    Object.fromEntries(
      Object.entries(c.args).map(([k, v]) => [k, v.replace(/^'(.*)'::\w+$/, "$1")]),
    ),
  );
  const samples: number[] = [];
  for (let i = 0; i < WARM_UP + n; i++) {
    const start = performance.now();
    const response = await fetch(`${env.API_URL}/rest/v1/rpc/${c.fn}`, {
      method: "POST",
      headers: {
        apikey: env.ANON_KEY,
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
      },
      body,
    });
    const rows = await response.json();
    if (response.status !== 200 || rows.length === 0) {
      throw new Error(
        `${c.name}: ${c.fn} answered ${response.status}: ${JSON.stringify(rows).slice(0, 200)}`,
      );
    }
    if (i >= WARM_UP) samples.push(performance.now() - start);
  }
  return summarize(samples);
}

/**
 * The plans of the list's two queries inside the function (auto_explain, with
 * timing), on a superuser connection (loading auto_explain needs one), then as the user.
 */
async function listPlan(dbUrl: string, user: string): Promise<string> {
  const plans: string[] = [];
  const explained = postgres(dbUrl, { max: 1, onnotice: (n) => plans.push(String(n.message)) });
  try {
    await explained.begin(async (tx) => {
      await tx`load 'auto_explain'`;
      await tx`select set_config('auto_explain.log_min_duration', '0', true),
        set_config('auto_explain.log_nested_statements', 'on', true),
        set_config('auto_explain.log_analyze', 'on', true),
        set_config('auto_explain.log_level', 'notice', true)`;
      await tx`select set_config('request.jwt.claims', ${
        JSON.stringify({ role: "authenticated", sub: user })
      }, true)`;
      await tx`set local role authenticated`;
      await tx`select * from certification_status_list()`;
    });
  } finally {
    await explained.end();
  }
  // The two statements inside the function: the scope, then the page.
  const scope = plans.find((p) => /v_mentors := array/.test(p));
  const page = plans.find((p) => / on certification c\b/.test(p));
  return scope && page ? `${scope}\n${page}` : plans.join("\n");
}

/** The figures as a Markdown table, the scope, and the plan. */
export function visibilityTable(r: VisibilityBenchResult): string {
  const big = /Seq Scan on (certification|peer_mentor|chapter_membership|peer_mentor_assignment)\b/;
  return [
    `scope: ${r.mentorsInScope} mentors, ${r.certificationsInScope} certifications ` +
    `(roster generated in ${(r.generateMs / 1000).toFixed(1)} s)`,
    "",
    table(
      ["case", "calls", "direct p50", "direct p99", "HTTP p50", "HTTP p99", "HTTP max"],
      r.rows.map((row) => [
        row.name,
        String(row.http.n),
        ms(row.direct.p50),
        ms(row.direct.p99),
        ms(row.http.p50),
        ms(row.http.p99),
        ms(row.http.max),
      ]),
    ),
    "",
    `sequential scans of the large tables in the list's plans: ${
      big.test(r.plan) ? "YES" : "none"
    }`,
    "```",
    r.plan.trim(),
    "```",
  ].join("\n");
}

if (import.meta.main) {
  const requests = Number(Deno.args[0] ?? 300);
  console.log(visibilityTable(await coordinatorVisibilityBench(requests)));
}
