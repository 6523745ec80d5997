// Platform contract: the pg_net stand-in's SQL API is pg_net 0.20's: every
// function with its arguments and defaults, every type, the grants, and nothing
// the real extension lacks.
import assert from "node:assert/strict";
import { connect, connectAdmin } from "../../local/stack.ts";
import { functionSignatures, rolledBack } from "./catalog.ts";

// pg_net 0.20's functions as its documented API lists them (PLATFORM.md), with
// the real extension's argument names, defaults and return types.
const FUNCTIONS = [
  "_await_response(request_id bigint) -> boolean",
  "_encode_url_with_params_array(url text, params_array text[]) -> text",
  "_http_collect_response(request_id bigint, async boolean DEFAULT true) -> net.http_response_result",
  "_urlencode_string(string character varying) -> text",
  "check_worker_is_up() -> void",
  "http_collect_response(request_id bigint, async boolean DEFAULT true) -> net.http_response_result",
  "http_delete(url text, params jsonb DEFAULT '{}'::jsonb, headers jsonb DEFAULT '{}'::jsonb, " +
  "timeout_milliseconds integer DEFAULT 5000, body jsonb DEFAULT NULL::jsonb) -> bigint",
  "http_get(url text, params jsonb DEFAULT '{}'::jsonb, headers jsonb DEFAULT '{}'::jsonb, " +
  "timeout_milliseconds integer DEFAULT 5000) -> bigint",
  "http_post(url text, body jsonb DEFAULT '{}'::jsonb, params jsonb DEFAULT '{}'::jsonb, " +
  `headers jsonb DEFAULT '{"Content-Type": "application/json"}'::jsonb, ` +
  "timeout_milliseconds integer DEFAULT 5000) -> bigint",
  "wait_until_running() -> void",
  "wake() -> void",
  "worker_restart() -> boolean",
];

Deno.test("pg_net API: schema net has exactly pg_net 0.20's functions, arguments and defaults", async () => {
  const sql = connect();
  try {
    const functions = await functionSignatures(sql, "net");
    assert.deepEqual(functions.map((f) => f.signature), FUNCTIONS);
    assert.ok(
      functions.every((f) => !f.securityDefiner),
      "no pg_net 0.20 function is security definer",
    );
  } finally {
    await sql.end();
  }
});

Deno.test("pg_net API: the types, tables and columns of pg_net 0.20", async () => {
  const sql = connect();
  try {
    // Domains, enums and free-standing composite types (not the tables' row types).
    const types = await sql`select t.typname, t.typtype from pg_type t
      left join pg_class c on c.oid = t.typrelid
      where t.typnamespace = 'net'::regnamespace and t.typtype in ('d', 'e', 'c')
        and (t.typtype <> 'c' or c.relkind = 'c')
      order by t.typname`;
    assert.deepEqual(types.map((t) => `${t.typname}:${t.typtype}`), [
      "http_method:d",
      "http_response:c",
      "http_response_result:c",
      "request_status:e",
    ]);
    const [status] = await sql`select enum_range(null::net.request_status)::text as labels`;
    assert.equal(status.labels, "{PENDING,SUCCESS,ERROR}");
    const columns = await sql`select c.relname, c.relpersistence,
        string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' order by a.attnum) as cols
      from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0
      where c.relnamespace = 'net'::regnamespace and c.relkind in ('r', 'v')
      group by c.relname, c.relpersistence order by c.relname`;
    assert.deepEqual(columns.map((c) => `${c.relname}(${c.relpersistence}): ${c.cols}`), [
      "_http_response(u): id bigint, status_code integer, content_type text, headers jsonb, " +
      "content text, timed_out boolean, error_msg text, created timestamp with time zone",
      "http_request_queue(u): id bigint, method net.http_method, url text, headers jsonb, " +
      "body bytea, timeout_milliseconds integer",
    ]);
  } finally {
    await sql.end();
  }
});

Deno.test("pg_net API: usage on net and the queue's rows are open to every role, as pg_net grants PUBLIC", async () => {
  const sql = connect();
  try {
    const [row] = await sql`select
      has_schema_privilege('anon', 'net', 'usage') as anon_usage,
      has_table_privilege('anon', 'net.http_request_queue', 'select') as anon_reads_queue,
      has_table_privilege('authenticated', 'net._http_response', 'select') as auth_reads_responses,
      has_function_privilege('anon', 'net.http_get(text, jsonb, jsonb, integer)', 'execute')
        as anon_calls_get`;
    assert.deepEqual(row, {
      anon_usage: true,
      anon_reads_queue: true,
      auth_reads_responses: true,
      anon_calls_get: true,
    });
  } finally {
    await sql.end();
  }
});

Deno.test("pg_net API: http_post keeps headers := null, adds a missing Content-Type, rejects any other", async () => {
  const sql = connect();
  try {
    // Rolled back: nothing reaches the worker.
    await rolledBack(sql, async (tx) => {
      const queued = async (id: string) =>
        (await tx`select headers from net.http_request_queue where id = ${id}`)[0];
      const [a] =
        await tx`select net.http_post('http://127.0.0.1:9/', headers := null)::text as id`;
      assert.equal((await queued(a.id)).headers, null);
      const [b] =
        await tx`select net.http_post('http://127.0.0.1:9/', headers := '{"X-A": "1"}')::text
        as id`;
      const added = await queued(b.id);
      assert.deepEqual(added.headers, { "X-A": "1", "Content-Type": "application/json" });
      await assert.rejects(
        tx`select net.http_post('http://127.0.0.1:9/', headers := '{"content-type": "text/plain"}')`,
        /Content-Type header must be "application\/json"/,
      );
    });
  } finally {
    await sql.end();
  }
});

Deno.test("pg_net API: params are url-encoded and appended; _http_collect_response reads a row", async () => {
  const sql = connect();
  try {
    const [encoded] = await sql`select net._encode_url_with_params_array('http://x/a?b=1',
      array[net._urlencode_string('k y') || '=' || net._urlencode_string('ä&')]) as url`;
    // The real encoder writes its escapes in lower case; _urlencode_string alone in upper case.
    assert.equal(encoded.url, "http://x/a?b=1&k%20y=%c3%a4%26");
    const [alone] = await sql`select net._urlencode_string('ä&') as text`;
    assert.equal(alone.text, "%C3%A4%26");
    const [missing] = await sql`select (net._http_collect_response(-1)).status::text as status,
      (net._http_collect_response(-1)).message`;
    assert.deepEqual(missing, {
      status: "ERROR",
      message: "request matching request_id not found",
    });
    // Deprecated in 0.20, and its body has no INTO: it fails as the real one does.
    await assert.rejects(sql`select net.http_collect_response(-1)`, /no destination/);
    const [up] = await sql`select net.worker_restart() as restarted`;
    assert.equal(up.restarted, true);
    await sql`select net.wait_until_running()`;
  } finally {
    await sql.end();
  }
});

Deno.test("pg_net API: check_worker_is_up() reads backend_type, so it raises for postgres and passes for a role that may see the worker", async () => {
  const sql = connect();
  const admin = connectAdmin();
  try {
    // postgres lacks pg_read_all_stats: the worker's backend_type reads as null to it.
    await assert.rejects(
      sql`select net.check_worker_is_up()`,
      /pg_net background worker is not up/,
    );
    await admin`select net.check_worker_is_up()`;
    const [worker] = await admin`select application_name, backend_type from pg_stat_activity
      where application_name = 'pg_net 0.20.0' limit 1`;
    // The real worker is a background process ('pg_net 0.20.0 worker'); the stand-in's a client session.
    assert.ok(
      ["pg_net 0.20.0 worker", "client backend"].includes(worker.backend_type),
      worker.backend_type,
    );
  } finally {
    await sql.end();
    await admin.end();
  }
});

Deno.test("pg_net API: a malformed URL raises inside the caller's transaction and queues nothing", async () => {
  const sql = connect();
  try {
    const count = async () =>
      (await sql`select count(*)::int as n from net.http_request_queue`)[0].n;
    const before = await count();
    await assert.rejects(
      sql`select net.http_post('htp//bad url', timeout_milliseconds := 1000)`,
      /htp\/\/bad url/,
    );
    await assert.rejects(sql`select net.http_get('http://')`);
    assert.equal(await count(), before);
  } finally {
    await sql.end();
  }
});

Deno.test("pg_net API: the extension is not trusted and belongs to supabase_admin, as on hosted", async () => {
  const sql = connect();
  try {
    const [row] = await sql`select e.extowner::regrole::text as owner, v.trusted
      from pg_extension e
      join pg_available_extension_versions v on v.name = e.extname and v.version = e.extversion
      where e.extname = 'pg_net'`;
    assert.deepEqual(row, { owner: "supabase_admin", trusted: false });
  } finally {
    await sql.end();
  }
});
