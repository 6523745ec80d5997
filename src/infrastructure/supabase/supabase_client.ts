import { createClient, type SupabaseClient } from "@supabase/supabase-js";

/** A service-role supabase-js client for server-side use: no session, no token refresh. */
export function createServiceClient(url: string, serviceRoleKey: string): SupabaseClient {
  return createClient(url, serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
}
