-- LOCAL STAND-IN for pg_net 0.20. NEVER reaches production.
-- Written for this project from pg_net 0.20's documented API (see
-- ../shared/PLATFORM.md and local/README.md): schema net holds the same
-- objects as the real extension, with the same names, argument lists, defaults,
-- return types, column types, types and grants, and nothing else. The bodies are
-- this project's own; what the real extension does in C is done here by:
--   net.wake(), net.worker_restart()   NOTIFY on channels local/pg_net_worker.ts
--     listens on; NOTIFY is delivered at COMMIT, which is when the real wake()
--     takes effect for the worker too;
--   net.check_worker_is_up()   looks, like the real one, at the worker's
--     backend_type in pg_stat_activity, which only a role with
--     pg_read_all_stats (or the worker's own) sees, so it raises for postgres
--     as the real one does; the stand-in's worker is a client session named
--     by application_name 'pg_net 0.20.0' (the real worker's application_name;
--     its backend_type here is 'client backend', not 'pg_net 0.20.0 worker');
--   net.wait_until_running()   waits for that session (application_name,
--     which every role sees);
--   URL encoding of params   plain SQL with the real encoder's output;
--   a malformed URL   raises in the caller's transaction, with 0.20.4's text
--     (0.20.0 said only 'Out of memory'), so nothing is queued.
-- The worker's own queries live in local/pg_net_worker.ts, never in schema net.

\echo Use "CREATE EXTENSION pg_net" to load this file. \quit

create schema if not exists net;

create domain net.http_method as text
  check (value ilike 'get' or value ilike 'post' or value ilike 'delete');

-- Requests waiting for the worker; it deletes the rows of a batch when that
-- batch's transaction commits.
create unlogged table net.http_request_queue (
  id bigserial,
  method net.http_method not null,
  url text not null,
  headers jsonb,
  body bytea,
  timeout_milliseconds int not null
);

-- One row per finished request, keyed by the request's id; `created` is the
-- start of the worker's batch transaction. Rows older than pg_net.ttl go.
create unlogged table net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out bool,
  error_msg text,
  created timestamptz not null default now()
);

create index on net._http_response (created);

create type net.request_status as enum ('PENDING', 'SUCCESS', 'ERROR');

create type net.http_response as (
  status_code integer,
  headers jsonb,
  body text
);

create type net.http_response_result as (
  status net.request_status,
  message text,
  response net.http_response
);

create function net.check_worker_is_up() returns void
language plpgsql
as $$
begin
  if not exists (
    select from pg_stat_activity
    where application_name = 'pg_net 0.20.0' and backend_type is not null
  ) then
    raise exception 'the pg_net background worker is not up'
      using detail = 'no session of the local pg_net worker is connected',
            hint = 'start it with: bash local/stack.sh up';
  end if;
end
$$;
comment on function net.check_worker_is_up() is
  'Raises an exception unless the pg_net worker is running.';

create function net.wait_until_running() returns void
language plpgsql
as $$
begin
  loop
    exit when exists (select from pg_stat_activity where application_name = 'pg_net 0.20.0');
    perform pg_sleep(0.05);
  end loop;
end
$$;
comment on function net.wait_until_running() is 'Returns once the pg_net worker is running.';

create function net.wake() returns void
language sql
as $$
  select pg_notify('pg_net_wake', '')
$$;

create function net.worker_restart() returns bool
language plpgsql
as $$
begin
  perform pg_notify('pg_net_restart', '');
  return true;
end
$$;

-- Percent-encodes everything but RFC 3986's unreserved characters, byte by
-- byte in UTF-8, with upper-case hex digits.
create function net._urlencode_string(string varchar) returns text
language sql
immutable
as $$
  select coalesce(string_agg(
    case
      when b between 48 and 57 or b between 65 and 90 or b between 97 and 122
        or b in (45, 46, 95, 126)
        then chr(b)
      else '%' || upper(lpad(to_hex(b), 2, '0'))
    end, '' order by i), '')
  from (
    select i, get_byte(bytes, i) as b
    from (select convert_to(string, 'UTF8') as bytes) as source,
      generate_series(0, octet_length(convert_to(string, 'UTF8')) - 1) as i
  ) as octets
$$;

-- Checks the URL as libcurl's URL parser does before anything is queued (a
-- malformed one raises in the caller's transaction), then appends the
-- `key=value` pairs after '?' or '&', their percent-escapes in lower case as
-- the real one writes them.
create function net._encode_url_with_params_array(url text, params_array text[]) returns text
language plpgsql
immutable
as $$
declare
  problem text := case
    when url is null or url !~ '^[A-Za-z][A-Za-z0-9+.-]*://' then 'Bad scheme'
    when url ~ '[[:space:][:cntrl:]]' then 'Malformed input to a URL function'
    when url ~ '^[^:]+://([/?#]|$)' then 'No host part in the URL'
  end;
  query text;
begin
  if problem is not null then
    raise exception 'invalid URL "%": %', url, problem;
  end if;
  if coalesce(cardinality(params_array), 0) = 0 then
    return url;
  end if;
  select string_agg(
    case when i = 1 or left(part, 2) !~ '^[0-9A-Fa-f]{2}$' then part
         else lower(left(part, 2)) || substr(part, 3) end,
    '%' order by i)
  into query
  from unnest(string_to_array(array_to_string(params_array, '&'), '%')) with ordinality as t(part, i);
  return url || case when strpos(url, '?') > 0 then '&' else '?' end || query;
end
$$;

create function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint
language plpgsql
as $$
declare
  queued bigint;
begin
  insert into net.http_request_queue (method, url, headers, timeout_milliseconds)
  values (
    'GET',
    net._encode_url_with_params_array(url, (
      select array_agg(net._urlencode_string(p.key) || '=' || net._urlencode_string(p.value))
      from jsonb_each_text(params) as p
    )),
    headers,
    timeout_milliseconds
  )
  returning id into queued;
  perform net.wake();
  return queued;
end
$$;

-- Only JSON bodies: a Content-Type other than application/json is refused, and
-- a header set without one gets it. headers := null is stored as null.
create function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint
language plpgsql
as $$
declare
  queued bigint;
  declared_type text := (
    select h.value from jsonb_each_text(coalesce(headers, '{}'::jsonb)) as h
    where lower(h.key) = 'content-type'
    limit 1
  );
begin
  if declared_type is null then
    headers := headers || jsonb_build_object('Content-Type', 'application/json');
  elsif declared_type <> 'application/json' then
    raise exception 'Content-Type header must be "application/json"';
  end if;
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values (
    'POST',
    net._encode_url_with_params_array(url, (
      select array_agg(net._urlencode_string(p.key) || '=' || net._urlencode_string(p.value))
      from jsonb_each_text(params) as p
    )),
    headers,
    convert_to(body::text, 'UTF8'),
    timeout_milliseconds
  )
  returning id into queued;
  perform net.wake();
  return queued;
end
$$;

create function net.http_delete(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000,
  body jsonb default null
) returns bigint
language plpgsql
as $$
declare
  queued bigint;
begin
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values (
    'DELETE',
    net._encode_url_with_params_array(url, (
      select array_agg(net._urlencode_string(p.key) || '=' || net._urlencode_string(p.value))
      from jsonb_each_text(params) as p
    )),
    headers,
    convert_to(body::text, 'UTF8'),
    timeout_milliseconds
  )
  returning id into queued;
  perform net.wake();
  return queued;
end
$$;

-- Polls until the request has a response row (the worker commits them per batch).
create function net._await_response(request_id bigint) returns bool
language plpgsql
as $$
begin
  loop
    exit when exists (select from net._http_response r where r.id = request_id);
    perform pg_sleep(0.05);
  end loop;
  return true;
end
$$;

-- The response of a request as a result value: ERROR with the error text when
-- it failed, or when there is no response (yet), else SUCCESS with the response.
-- async := false waits for the response first.
create function net._http_collect_response(
  request_id bigint,
  async bool default true
) returns net.http_response_result
language plpgsql
as $$
declare
  answer net._http_response;
begin
  if not async then
    perform net._await_response(request_id);
  end if;
  select * into answer from net._http_response r where r.id = request_id;
  if not found or answer.error_msg is not null then
    return row(
      'ERROR',
      coalesce(answer.error_msg, 'request matching request_id not found'),
      null
    )::net.http_response_result;
  end if;
  return row(
    'SUCCESS',
    'ok',
    row(answer.status_code, answer.headers, answer.content)::net.http_response
  )::net.http_response_result;
end
$$;

-- Deprecated in pg_net 0.20, and calling it there fails at run time (its body
-- selects without a destination). The stand-in fails the same way, on purpose,
-- so code that works here does not call it: use net._http_collect_response.
create function net.http_collect_response(
  request_id bigint,
  async bool default true
) returns net.http_response_result
language plpgsql
as $$
begin
  raise notice 'The net.http_collect_response function is deprecated.';
  select net._http_collect_response(request_id, async);
end
$$;

-- As pg_net 0.20 grants: every role may use schema net and its tables and sequence.
grant usage on schema net to public;
grant all on all sequences in schema net to public;
grant all on all tables in schema net to public;
