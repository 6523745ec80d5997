import type {
  CertificationPortal,
  PortalPushResult,
  PortalPushSignals,
  PortalRejection,
} from "../../application/ports/certification_portal.ts";
import type { CertificationStatus } from "../../domain/certification_status.ts";
import { InfrastructureError } from "../../domain/errors.ts";
import type { AccessTokenSource } from "./access_token_source.ts";
import { dataverseRow, upsertMultipleUrl, upsertUrl } from "./dataverse_row.ts";
import { DataverseSender, type SendOutcome } from "./dataverse_sender.ts";
import type { DataverseSettings } from "./dynamics_settings.ts";
import type { HttpDependencies } from "./http_dependencies.ts";
import { RequestSlots } from "./request_slots.ts";
import type { RetryPolicy } from "./retry_policy.ts";

// Answers meaning "this endpoint has no UpsertMultiple", not "a record is bad".
const BATCH_FORM_REFUSED = new Set([404, 405, 501]);
// Answers to a single upsert that concern the whole target (entity set, privileges), never one record.
const TARGET_REFUSED = new Set([403, 404, 405]);

/**
 * Pushes certification statuses into a Dataverse table by alternate key:
 * `batchSize` records per `UpsertMultiple` request, `concurrency` requests in
 * flight across every push under way (a sync pushes several pages at once). UpsertMultiple is all or nothing, so a batch the portal refuses is
 * resent one `PATCH <set>(<key>='<id>')` per record to find the record at
 * fault; a portal without the batch form gets single PATCHes from then on.
 */
export class DataverseCertificationPortal implements CertificationPortal {
  readonly enabled = true;
  readonly #settings: DataverseSettings;
  readonly #sender: DataverseSender;
  readonly #slots: RequestSlots;
  #batchForm = true;

  constructor(
    settings: DataverseSettings,
    retry: RetryPolicy,
    tokens: AccessTokenSource,
    deps: HttpDependencies,
  ) {
    this.#settings = settings;
    this.#sender = new DataverseSender(settings.requestTimeoutMs, retry, tokens, deps);
    this.#slots = new RequestSlots(settings.concurrency);
  }

  /** Whether the portal still takes UpsertMultiple (false once it refused the form). */
  get batchForm(): boolean {
    return this.#batchForm;
  }

  /** Records this portal has in flight at most: `concurrency` requests of `batchSize`. */
  get recordsInFlight(): number {
    return this.#slots.size * this.#settings.batchSize;
  }

  async push(
    records: readonly CertificationStatus[],
    signals: PortalPushSignals,
  ): Promise<PortalPushResult> {
    const chunks: CertificationStatus[][] = [];
    for (let i = 0; i < records.length; i += this.#settings.batchSize) {
      chunks.push(records.slice(i, i + this.#settings.batchSize));
    }
    const accepted = new Set<string>();
    const rejected: PortalRejection[] = [];
    let halted = false;
    let failure: { error: unknown } | null = null;
    // Every chunk queues for one of the portal's slots, shared with pushes of other pages.
    const send = async (chunk: CertificationStatus[]) => {
      const release = await this.#slots.take();
      try {
        // The cursor cannot pass a record that may still go through: start nothing new.
        if (halted || failure !== null) return;
        const outcome = await this.#pushChunk(chunk, signals);
        outcome.accepted.forEach((id) => accepted.add(id));
        rejected.push(...outcome.rejected);
        if (outcome.rejected.some((r) => r.retryable)) halted = true;
      } catch (error) {
        failure ??= { error };
      } finally {
        release();
      }
    };
    await Promise.all(chunks.map(send));
    if (failure !== null) throw (failure as { error: unknown }).error;
    return { accepted, rejected };
  }

  async #pushChunk(
    records: readonly CertificationStatus[],
    signals: PortalPushSignals,
  ): Promise<PortalPushResult> {
    if (records.length > 1 && this.#batchForm) {
      const outcome = await this.#sender.send({
        method: "POST",
        url: upsertMultipleUrl(this.#settings),
        body: JSON.stringify({ Targets: records.map((r) => this.#target(r)) }),
      }, signals);
      if (outcome.ok) {
        return { accepted: new Set(records.map((r) => r.certificationId)), rejected: [] };
      }
      if (outcome.retryable) {
        return { accepted: new Set(), rejected: records.map((r) => rejection(r, outcome)) };
      }
      if (BATCH_FORM_REFUSED.has(outcome.status ?? 0)) this.#batchForm = false;
      const singles = await this.#pushEach(records, signals);
      // Every record went through alone: the portal refuses the form, not the data.
      if (singles.accepted.size === records.length) this.#batchForm = false;
      return singles;
    }
    return await this.#pushEach(records, signals);
  }

  async #pushEach(
    records: readonly CertificationStatus[],
    signals: PortalPushSignals,
  ): Promise<PortalPushResult> {
    const accepted = new Set<string>();
    const rejected: PortalRejection[] = [];
    for (const record of records) {
      const outcome = await this.#sender.send({
        method: "PATCH",
        url: upsertUrl(this.#settings, record.certificationId),
        body: JSON.stringify(dataverseRow(record)),
      }, signals);
      if (outcome.ok) {
        accepted.add(record.certificationId);
        continue;
      }
      if (!outcome.retryable && TARGET_REFUSED.has(outcome.status ?? 0)) {
        throw new InfrastructureError(
          `The Dynamics portal refuses the table '${this.#settings.entitySet}': ${outcome.reason}`,
        );
      }
      rejected.push(rejection(record, outcome));
      if (outcome.retryable) break;
    }
    return { accepted, rejected };
  }

  #target(record: CertificationStatus): Record<string, string | null> {
    const { entitySet, entityName, alternateKey } = this.#settings;
    return {
      "@odata.type": `Microsoft.Dynamics.CRM.${entityName}`,
      "@odata.id": upsertUrl({ apiUrl: "", entitySet, alternateKey }, record.certificationId),
      ...dataverseRow(record),
    };
  }
}

function rejection(
  record: CertificationStatus,
  outcome: Exclude<SendOutcome, { ok: true }>,
): PortalRejection {
  return {
    certificationId: record.certificationId,
    status: outcome.status,
    reason: outcome.reason,
    detail: outcome.detail,
    retryable: outcome.retryable,
  };
}
