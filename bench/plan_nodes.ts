// Plans from auto_explain in JSON, reduced to the nodes that ran: a node the
// executor never started ("never executed", actual loops 0) says nothing about
// what a call costs, so no check here looks at one.
import postgres from "postgres";

/** One plan node that ran at least once. */
export interface ExecutedNode {
  readonly nodeType: string;
  readonly relation: string | null;
  readonly index: string | null;
  readonly loops: number;
  readonly rows: number;
}

/** One statement's plan as auto_explain logged it. */
export interface StatementPlan {
  readonly query: string;
  readonly executed: ExecutedNode[];
  /** The plan as JSON text, for printing. */
  readonly json: string;
}

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Actual Loops"?: number;
  "Actual Rows"?: number;
  Plans?: PlanNode[];
}

/** The nodes of a plan tree with actual loops > 0 (a node under one that never ran never ran either). */
export function executedNodes(node: PlanNode): ExecutedNode[] {
  const loops = node["Actual Loops"] ?? 0;
  if (loops === 0) return [];
  return [
    {
      nodeType: node["Node Type"],
      relation: node["Relation Name"] ?? null,
      index: node["Index Name"] ?? null,
      loops,
      rows: node["Actual Rows"] ?? 0,
    },
    ...(node.Plans ?? []).flatMap(executedNodes),
  ];
}

/** Parses one auto_explain notice in JSON format. */
export function parsePlanNotice(message: string): StatementPlan | null {
  const at = message.indexOf("{");
  if (at < 0) return null;
  const parsed = JSON.parse(message.slice(at)) as { "Query Text": string; Plan: PlanNode };
  return {
    query: parsed["Query Text"],
    executed: executedNodes(parsed.Plan),
    json: message.slice(at),
  };
}

/**
 * Runs `body` in a transaction (rolled back when `rollback`) on a superuser
 * connection with auto_explain logging every nested statement's analysed plan,
 * and returns the plans in the order they ran.
 */
export async function explainedPlans(
  adminDbUrl: string,
  body: (tx: postgres.TransactionSql) => Promise<unknown>,
  rollback = false,
): Promise<StatementPlan[]> {
  const notices: string[] = [];
  const sql = postgres(adminDbUrl, { max: 1, onnotice: (n) => notices.push(String(n.message)) });
  try {
    await sql.begin(async (tx) => {
      await tx`load 'auto_explain'`;
      await tx`select set_config('auto_explain.log_min_duration', '0', true),
        set_config('auto_explain.log_nested_statements', 'on', true),
        set_config('auto_explain.log_analyze', 'on', true),
        set_config('auto_explain.log_format', 'json', true),
        set_config('auto_explain.log_level', 'notice', true)`;
      await body(tx);
      if (rollback) throw new Rollback();
    }).catch((error) => {
      if (!(error instanceof Rollback)) throw error;
    });
  } finally {
    await sql.end();
  }
  return notices.map(parsePlanNotice).filter((p): p is StatementPlan => p !== null);
}

class Rollback extends Error {}

/** A short line per executed node, e.g. "Tid Range Scan on certification (loops 1, rows 25001)". */
export function describe(nodes: ExecutedNode[]): string {
  return nodes.map((n) =>
    `${n.nodeType}${n.index ? ` using ${n.index}` : ""}${n.relation ? ` on ${n.relation}` : ""}` +
    ` (loops ${n.loops}, rows ${n.rows})`
  ).join("\n");
}
