// What one demo coordinator sees after the nightly run: signs in as them (a
// JWT signed with the stack's secret, as Supabase Auth would issue) and calls
// certification_status_counts through the gateway and PostgREST.
//   deno run --allow-net --allow-read --allow-env scripts/show_coordinator_view.ts [email]
import postgres from "postgres";
import { signJwt, stackEnv } from "../local/stack.ts";

const email = Deno.args[0] ?? "coordinator.oslo@hlf.example.org";
const env = stackEnv();
const sql = postgres(env.DB_URL, { max: 1, onnotice: () => {} });
try {
  const [user] = await sql`
    select u.id, c.full_name, o.code from auth.users u
    join coordinator c on c.user_id = u.id
    join organisation o on o.id = c.organisation_id
    where u.email = ${email}`;
  if (!user) {
    console.error(`No demo coordinator '${email}': run local/seed_roster.sql first`);
    Deno.exit(1);
  }
  const token = await signJwt({
    role: "authenticated",
    aud: "authenticated",
    sub: user.id,
    email,
    exp: Math.floor(Date.now() / 1000) + 300,
  });
  const response = await fetch(`${env.API_URL}/rest/v1/rpc/certification_status_counts`, {
    method: "POST",
    headers: {
      apikey: env.ANON_KEY,
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
    },
    body: "{}",
  });
  const body = await response.json();
  if (!response.ok) {
    console.error(
      `certification_status_counts answered ${response.status}: ${JSON.stringify(body)}`,
    );
    Deno.exit(1);
  }
  console.log(
    `==> what ${user.full_name} (${email}, ${user.code}) sees: certification_status_counts()`,
  );
  console.table(body);
} finally {
  await sql.end();
}
