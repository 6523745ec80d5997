// Helpers for the platform contract tests: what a schema's functions look like
// in the catalog, and work that must leave nothing behind.
import type postgres from "postgres";

/** Each function of a schema as "name(arguments with defaults) -> result", by name. */
export async function functionSignatures(
  sql: postgres.Sql,
  schema: string,
): Promise<{ signature: string; securityDefiner: boolean }[]> {
  const rows = await sql`select p.proname || '(' || pg_get_function_arguments(p.oid) || ') -> '
      || pg_get_function_result(p.oid) as signature, p.prosecdef
    from pg_proc p where p.pronamespace = ${schema}::regnamespace order by p.proname`;
  return rows.map((r) => ({ signature: r.signature, securityDefiner: r.prosecdef }));
}

class Rollback extends Error {}

/** Runs work in a transaction that is always rolled back. */
export async function rolledBack(
  sql: postgres.Sql,
  work: (tx: postgres.TransactionSql) => Promise<void>,
): Promise<void> {
  await sql.begin(async (tx) => {
    await work(tx);
    throw new Rollback();
  }).catch((err) => {
    if (!(err instanceof Rollback)) throw err;
  });
}
