/** What a failed Dataverse answer says, reduced to what may be logged and stored. */
export interface DataverseError {
  /** ` ('0x80040203')` when the body carries Dataverse's `error.code`, else empty. */
  readonly code: string;
  /** `error.message` with emails, quoted values, ids and long numbers masked; at most 300 characters. */
  readonly detail: string;
}

const MAX_DETAIL = 300;

/** Reads a failed answer's body once; a success or an empty body gives empty fields. */
export async function dataverseError(response: Response): Promise<DataverseError> {
  const text = await response.text().catch(() => "");
  if (response.ok || text === "") return { code: "", detail: "" };
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } })?.error;
    const code = typeof error?.code === "string" && /^[\w.-]{1,40}$/.test(error.code)
      ? ` ('${error.code}')`
      : "";
    const detail = typeof error?.message === "string" ? maskValues(error.message) : "";
    return { code, detail };
  } catch {
    return { code: "", detail: "" };
  }
}

/**
 * The portal's error text without the values it may echo from the record
 * (Dataverse messages quote column values): kept for a person to read the kind
 * of problem, never the data.
 */
export function maskValues(text: string): string {
  return text
    .replace(/[\w.+-]+@[\w-]+(\.[\w-]+)+/g, "[email]")
    .replace(/'[^']*'|"[^"]*"/g, "[value]")
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "[id]")
    .replace(/\d{4,}/g, "[number]")
    .slice(0, MAX_DETAIL);
}
