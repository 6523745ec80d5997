// LOCAL ONLY: the demo portal's records on disk (local/demo_dataverse.ts), so a
// restarted demo stack still holds what earlier nights sent, as the real portal would.
import type { FakeDataverse } from "./fake_dataverse.ts";

const SAVE_AFTER_MS = 1_000;

/** Writes `text` to `path` through a temporary file and a rename: readers never see half a file. */
export async function writeAtomic(path: string | URL, text: string): Promise<void> {
  const target = path instanceof URL ? path.pathname : path;
  const temporary = `${target}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(temporary, text, { mode: 0o600 });
    await Deno.rename(temporary, target);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/** What the portal calls after a request that may have changed its rows. */
export interface PortalRecords {
  changed(): void;
}

/**
 * Loads `file` into the portal's rows and saves them back a second after each
 * change and on SIGTERM/SIGINT (then exits). Without a file, nothing is kept.
 */
export async function openRecords(
  portal: FakeDataverse,
  file: string | null,
): Promise<PortalRecords> {
  if (file === null) return { changed: () => {} };
  const saved = await Deno.readTextFile(file).then(
    (text) => JSON.parse(text) as Record<string, Record<string, unknown>>,
    (error) => {
      if (error instanceof Deno.errors.NotFound) return {};
      throw new Error(`Cannot read the demo portal's records '${file}': ${error}`);
    },
  );
  for (const [key, row] of Object.entries(saved)) portal.rows.set(key, row);
  let timer: number | null = null;
  let saving = Promise.resolve();
  const save = () => {
    timer = null;
    const text = JSON.stringify(Object.fromEntries(portal.rows));
    saving = saving.then(() => writeAtomic(file, text));
    return saving;
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, async () => {
      if (timer !== null) clearTimeout(timer);
      await save().finally(() => Deno.exit(0));
    });
  }
  return {
    changed() {
      timer ??= setTimeout(save, SAVE_AFTER_MS);
    },
  };
}
