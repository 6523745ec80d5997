/**
 * LOCAL ONLY: the local platform's ports and paths, read from local/platform.env
 * (the one place they are written) so Deno code and the shell scripts agree.
 */

/** Ports and paths of the local platform. */
export interface Platform {
  API_PORT: number;
  PG_PORT: number;
  REST_PORT: number;
  FN_PORT: number;
  DEMO_PORTAL_PORT: number;
  PGBIN: string;
  PG_SHARE: string;
}

function readPlatform(): Platform {
  const text = Deno.readTextFileSync(new URL("./platform.env", import.meta.url));
  const values: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) values[match[1]] = match[2];
  }
  const port = (name: string) => {
    const value = Number(values[name]);
    if (!Number.isInteger(value) || value <= 0) {
      throw new Error(`local/platform.env has no valid ${name}`);
    }
    return value;
  };
  return {
    API_PORT: port("API_PORT"),
    PG_PORT: port("PG_PORT"),
    REST_PORT: port("REST_PORT"),
    FN_PORT: port("FN_PORT"),
    DEMO_PORTAL_PORT: port("DEMO_PORTAL_PORT"),
    PGBIN: values.PGBIN,
    PG_SHARE: values.PG_SHARE,
  };
}

/** The platform as local/platform.env describes it. */
export const platform: Platform = readPlatform();
