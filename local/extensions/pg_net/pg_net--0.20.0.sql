-- LOCAL STAND-IN for pg_net 0.20 (supabase/pg_net). NEVER reaches production.
-- Mirrors the public SQL API and tables of the real extension. The real C
-- background worker is replaced by local/pg_net_worker.ts, which drains
-- net.http_request_queue and fills net._http_response. net.wake() is a
-- pg_notify, delivered at COMMIT of the caller, as the real worker is woken.

\echo Use "CREATE EXTENSION pg_net" to load this file. \quit

create schema if not exists net;

create domain net.http_method as text
  check (value ilike 'get' or value ilike 'post' or value ilike 'delete');

-- Pending requests; the worker deletes rows as it takes them.
create unlogged table net.http_request_queue (
  id bigserial,
  method net.http_method not null,
  url text not null,
  headers jsonb,
  body bytea,
  timeout_milliseconds int not null
);

-- One row per finished request, same id as the queue row. Kept for 6 hours.
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

-- The real one is C; same semantics (RFC 3986 unreserved chars kept).
create function net._urlencode_string(string varchar) returns text
language sql immutable as $$
  select coalesce(string_agg(
    case when c ~ '^[A-Za-z0-9_.~-]$' then c
    else (select string_agg('%' || upper(lpad(to_hex(get_byte(b, i)), 2, '0')), '' order by i)
          from (select convert_to(c, 'UTF8') as b) x,
               generate_series(0, octet_length(convert_to(c, 'UTF8')) - 1) as i)
    end, '' order by n), '')
  from regexp_split_to_table(string, '') with ordinality as t(c, n)
$$;

create function net._encode_url_with_params_array(url text, params_array text[]) returns text
language sql immutable as $$
  select case when coalesce(cardinality(params_array), 0) = 0 then url
    else url || case when strpos(url, '?') > 0 then '&' else '?' end
             || array_to_string(params_array, '&') end
$$;

-- Wakes the worker. NOTIFY is transactional: delivered only if the caller commits.
create function net.wake() returns void language sql as $$
  select pg_notify('pg_net_wake', '')
$$;

-- The worker connects with application_name 'pg_net worker'.
create function net.check_worker_is_up() returns void language plpgsql as $$
begin
  if not exists (select from pg_stat_activity where application_name = 'pg_net worker') then
    raise exception using
      message = 'the pg_net background worker is not up',
      hint = 'start the local stack: bash local/stack.sh up';
  end if;
end
$$;

-- Queues one request and wakes the worker; every http_* function ends here.
create function net._enqueue(
  method net.http_method,
  url text,
  params jsonb,
  headers jsonb,
  body bytea,
  timeout_milliseconds int
) returns bigint language plpgsql as $$
declare
  request_id bigint;
  params_array text[];
begin
  select coalesce(array_agg(net._urlencode_string(key) || '=' || net._urlencode_string(value)), '{}')
    into params_array from jsonb_each_text(coalesce(params, '{}'::jsonb));
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values (method, net._encode_url_with_params_array(url, params_array), headers, body,
          timeout_milliseconds)
  returning id into request_id;
  perform net.wake();
  return request_id;
end
$$;

create function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint language sql as $$
  select net._enqueue('GET', url, params, headers, null, timeout_milliseconds)
$$;

create function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint language plpgsql as $$
declare
  content_type text;
begin
  select header_value into content_type
  from jsonb_each_text(coalesce(headers, '{}'::jsonb)) as r(header_name, header_value)
  where lower(header_name) = 'content-type'
  limit 1;

  -- As the real one: a missing Content-Type is added, any other value rejected.
  if content_type is null then
    headers := coalesce(headers, '{}'::jsonb) || '{"Content-Type": "application/json"}'::jsonb;
  end if;
  if content_type <> 'application/json' then
    raise exception 'Content-Type header must be "application/json"';
  end if;
  return net._enqueue('POST', url, params, headers, convert_to(body::text, 'UTF8'),
    timeout_milliseconds);
end
$$;

create function net.http_delete(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000,
  body jsonb default null
) returns bigint language sql as $$
  select net._enqueue('DELETE', url, params, headers, convert_to(body::text, 'UTF8'),
    timeout_milliseconds)
$$;

-- Grants as the real 0.20 script does (PUBLIC), plus what hosted Supabase's
-- issue_pg_net_access event trigger adds for its API roles when they exist.
grant usage on schema net to public;
grant all on all sequences in schema net to public;
grant all on all tables in schema net to public;
do $$
declare r text;
begin
  foreach r in array array['postgres', 'anon', 'authenticated', 'service_role'] loop
    if exists (select from pg_roles where rolname = r) then
      execute format('grant usage on schema net to %I', r);
    end if;
  end loop;
end
$$;
