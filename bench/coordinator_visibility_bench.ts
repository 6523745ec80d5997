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
import { describe, explainedPlans, type StatementPlan } from "./plan_nodes.ts";
import { ms, type Spread, spread, summarize, type Summary, table } from "./stats.ts";

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
  plans: { coordinator: StatementPlan[]; administrator: StatementPlan[] };
  writeCost: WriteCost;
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
    const [adminDeep] = await asUser(
      sql,
      users.administrator,
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
      },
      {
        name: "administrator (100,000 mentors): status list, page after 1,000 rows",
        user: "administrator",
        fn: "certification_status_list",
        args: {
          p_after_expires_at: `'${adminDeep.expires_at.toISOString()}'::timestamptz`,
          p_after_certification_id: `'${adminDeep.certification_id}'::uuid`,
        },
      },
      {
        name: "administrator (100,000 mentors): status list, expiring within 30 days",
        user: "administrator",
        fn: "certification_status_list",
        args: { p_expiring_within_days: "30" },
      },
      {
        name: "administrator (100,000 mentors): counts per status",
        user: "administrator",
        fn: "certification_status_counts",
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
    const plans = {
      coordinator: await listPlans(env.ADMIN_DB_URL, users.coordinator),
      administrator: await listPlans(env.ADMIN_DB_URL, users.administrator),
    };
    const cost = await writeCost(env.ADMIN_DB_URL);
    return {
      mentorsInScope: scope.mentors,
      certificationsInScope: scope.certifications,
      generateMs,
      rows,
      plans,
      writeCost: cost,
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
 * The analysed plans of every statement inside the list for a user
 * (auto_explain, JSON), on a superuser connection (loading auto_explain needs
 * one), acting as the user.
 */
async function listPlans(dbUrl: string, user: string): Promise<StatementPlan[]> {
  return await explainedPlans(dbUrl, async (tx) => {
    await tx`select set_config('request.jwt.claims', ${
      JSON.stringify({ role: "authenticated", sub: user })
    }, true)`;
    await tx`set local role authenticated`;
    await tx`select * from certification_status_list()`;
  });
}

/**
 * The write cost of the administrator's index: inserting certifications and
 * expiring them, with the index and (in a transaction that drops it) without,
 * in pairs of alternating order, each rolled back. Median ratio with spread.
 */
async function writeCost(dbUrl: string, rows = 50_000, pairs = 3): Promise<WriteCost> {
  const sql = postgres(dbUrl, { max: 1 });
  const withIndex: number[] = [];
  const without: number[] = [];
  const once = async (dropIndex: boolean) => {
    let ms = 0;
    await sql.begin(async (tx) => {
      if (dropIndex) await tx`drop index certification_expiry_order_idx`;
      const [mentor] = await tx`select id from peer_mentor limit 1`;
      const start = performance.now();
      await tx`insert into certification (peer_mentor_id, certification_type, issued_at, expires_at)
        select ${mentor.id}, 'write_cost_' || n, now() - interval '1 year',
          now() + make_interval(days => n % 700)
        from generate_series(1, ${rows}::int) n`;
      await tx`update certification set status = 'expired', expired_at = now()
        where certification_type like 'write_cost_%'`;
      ms = performance.now() - start;
      throw new Rollback();
    }).catch((error) => {
      if (!(error instanceof Rollback)) throw error;
    });
    return ms;
  };
  try {
    await once(false);
    for (let i = 0; i < pairs; i++) {
      const order = i % 2 === 0 ? [false, true] : [true, false];
      for (const drop of order) (drop ? without : withIndex).push(await once(drop));
    }
  } finally {
    await sql.end();
  }
  return {
    rows,
    withIndex: spread(withIndex),
    without: spread(without),
    ratio: spread(withIndex.map((w, i) => w / without[i])),
  };
}

class Rollback extends Error {}

/** What the administrator's index costs writers. */
export interface WriteCost {
  rows: number;
  withIndex: Spread;
  without: Spread;
  ratio: Spread;
}

/** The list's target: p99 under this many milliseconds, through PostgREST. */
export const LIST_P99_TARGET_MS = 50;

/** The figures as a Markdown table, the scope, and the plans' executed nodes. */
export function visibilityTable(r: VisibilityBenchResult): string {
  const big = /^(Seq Scan|Parallel Seq Scan)$/;
  const large = new Set([
    "certification",
    "peer_mentor",
    "chapter_membership",
    "peer_mentor_assignment",
  ]);
  const seqScans = (plans: StatementPlan[]) =>
    plans.flatMap((p) => p.executed).filter((n) =>
      big.test(n.nodeType) && large.has(n.relation ?? "")
    );
  const lists = r.rows.filter((row) => row.name.includes("status list"));
  const worst = Math.max(...lists.map((row) => row.http.p99));
  const admin = r.rows.find((row) =>
    row.name.startsWith("administrator") && row.name.includes("list")
  );
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
    `status list p99 over HTTP, worst case: ${ms(worst)}; administrator: ${
      admin ? ms(admin.http.p99) : "-"
    }; target < ${LIST_P99_TARGET_MS} ms (${worst < LIST_P99_TARGET_MS ? "met" : "NOT met"})`,
    `baseline: one mentor's certifications (a single index probe), HTTP p50 ${
      ms(r.rows.find((row) => row.name === "one mentor's certifications")?.http.p50 ?? NaN)
    }`,
    "",
    `write cost of certification_expiry_order_idx (${r.writeCost.rows.toLocaleString("en")} ` +
    `inserts + as many status updates, ${r.writeCost.ratio.n} pairs): with ${
      ms(r.writeCost.withIndex.median)
    }, without ${ms(r.writeCost.without.median)}, ratio ${r.writeCost.ratio.median.toFixed(2)}x ` +
    `(${r.writeCost.ratio.min.toFixed(2)} - ${r.writeCost.ratio.max.toFixed(2)})`,
    "",
    `sequential scans of the large tables among the executed plan nodes: coordinator ${
      seqScans(r.plans.coordinator).length === 0 ? "none" : "YES"
    }, administrator ${seqScans(r.plans.administrator).length === 0 ? "none" : "YES"}`,
    "",
    "Executed nodes (actual loops > 0) of the statements inside the list, coordinator:",
    "```",
    r.plans.coordinator.map((p) => `-- ${firstLine(p.query)}\n${describe(p.executed)}`).join("\n"),
    "```",
    "administrator:",
    "```",
    r.plans.administrator.map((p) => `-- ${firstLine(p.query)}\n${describe(p.executed)}`).join(
      "\n",
    ),
    "```",
  ].join("\n");
}

function firstLine(query: string): string {
  return query.trim().split("\n")[0].slice(0, 100);
}

if (import.meta.main) {
  const requests = Number(Deno.args[0] ?? 300);
  console.log(visibilityTable(await coordinatorVisibilityBench(requests)));
}
