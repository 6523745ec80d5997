import type { ExecutionRecord } from "../../domain/execution_record.ts";

/** The execution log: the source of truth for what ran, when, and how it ended. */
export interface ExecutionLogRepository {
  /** Inserts the record, or replaces the one with the same execution id. */
  save(record: ExecutionRecord): Promise<void>;
}
