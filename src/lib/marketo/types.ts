import type { MarketoError } from "./errors";

/** One `{code, message}` pair as Marketo reports it (codes are strings of digits). */
export interface MarketoReason {
  code: string;
  message: string;
}

/** The JSON envelope every REST/bulk answer uses. */
export interface MarketoEnvelope<T = Record<string, unknown>> {
  requestId?: string;
  success?: boolean;
  result?: T[];
  errors?: MarketoReason[];
  /** Lead DB sends `{code,message}` objects, the Asset API plain strings. */
  warnings?: Array<MarketoReason | string>;
  moreResult?: boolean;
  nextPageToken?: string;
}

export type RecordStatus =
  | "created"
  | "updated"
  | "added"
  | "deleted"
  | "unchanged"
  | "triggered"
  | "skipped"
  /** Not sent: a replayed message asked that no campaign be requested and no form filled. */
  | "suppressed"
  | "failed";

/** The outcome of one input record. Always resolved, never rejected. */
export interface RecordResult {
  ok: boolean;
  status: RecordStatus;
  /** Marketo lead id, when Marketo names one (or the lead the record was about). */
  id?: number;
  marketoGUID?: string;
  reasons?: MarketoReason[];
  /** Set whenever `ok` is false. */
  error?: MarketoError;
  requestId?: string;
  /** A write Marketo does not deduplicate was found already in Marketo (its answer had been lost) and not sent again. */
  arrived?: boolean;
  /**
   * ISO time from which an earlier call may have carried this record to Marketo, when whether it
   * arrived could not be checked: a later attempt asks Marketo first instead of sending it blind.
   */
  unconfirmedSince?: string;
}

/** The questions asked of Marketo before re-sending a write it does not deduplicate. */
export interface ArrivalUsage {
  /** Times Marketo was asked which records of an ambiguous call arrived. */
  checks: number;
  /** API calls those questions cost, retries included (Get Paging Token, Get Lead Activities, lead lookups). */
  calls: number;
  /** Records found already in Marketo, so not sent again. */
  found: number;
  /** Records found absent and sent again. */
  resent: number;
  /** Records failed because the question itself failed (they carry unconfirmedSince). */
  unconfirmed: number;
}

/** Bulk import rows carry the import's own words on top of a RecordResult. */
export interface BulkRowResult extends RecordResult {
  outcome: "imported" | "warning" | "failed";
  batchId?: number;
}

/** "waiting": the shared limits cannot be read (Redis unreachable); calls wait, none is sent unlimited. */
export type ClientState = "ok" | "rate-limited" | "quota" | "auth-failed" | "backoff" | "waiting";

export interface StateEvent {
  state: ClientState;
  /** ISO time a quota or rate-limit pause is expected to end (a string: it travels in msgs and JSON). */
  resumesAt?: string;
  /** Short human reason (the Marketo message that caused it). */
  reason?: string;
}

export interface Usage {
  callsTotal: number;
  callsToday: number;
  dailyBudget: number;
  callsByOperation: Record<string, number>;
  recordsByOperation: Record<string, number>;
  outcomes: Record<string, number>;
  answersByCode: Record<string, number>;
  limiterWaitMs: number;
  /** Extra calls for exactly-once delivery of custom activities, campaign requests and form fills: none while calls succeed. */
  arrivalChecks: ArrivalUsage;
  queuedRecords: number;
  inFlight: number;
  state: ClientState;
  /** ISO time, as in StateEvent. */
  resumesAt?: string;
}

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface RetryOptions {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface MarketoClientOptions {
  /** Origin, or the `/rest` or `/identity` URL copied from Admin > Web Services. */
  endpoint: string;
  clientId: string;
  clientSecret: string;
  callsPerWindow?: number;
  windowMs?: number;
  concurrency?: number;
  dailyBudget?: number;
  batchWindowMs?: number;
  maxBatchSize?: number;
  retry?: Partial<RetryOptions>;
  /** Overrides the per-operation timeouts (Marketo's server timeouts + margin) for every call. */
  requestTimeoutMs?: number;
  maxRateLimitWaitMs?: number;
  quotaProbeIntervalMs?: number;
  bulkPollIntervalMs?: number;
  /** Largest CSV file per bulk job; Marketo refuses 10 MB and more. */
  bulkMaxFileBytes?: number;
  /** How long `close()` waits for held and in-flight work before giving up on it. */
  closeTimeoutMs?: number;
  /**
   * A folder where the day's call count of the instance is kept, so a restart starts from it
   * (Node-RED: the userDir). Without it the count lives in memory.
   */
  stateDir?: string;
  /** Read Marketo's own count of today's calls (Get Daily Usage) at start and take the larger. */
  readDailyUsage?: boolean;
  /**
   * `redis://` or `rediss://` (user and password allowed): every process using it shares the
   * instance's limits. Without it the limits are shared within this process only.
   */
  redisUrl?: string;
  /** How long a call's slot in Redis outlives a process that died holding it (default 3 s). */
  leaseMs?: number;
  logger?: Logger;
}

export type SyncAction = "createOrUpdate" | "createOnly" | "updateOnly" | "createDuplicate";

export interface SyncLeadOptions {
  action?: SyncAction;
  lookupField?: string;
  partitionName?: string;
  /** A replayed record: its calls take only the capacity live records leave. */
  background?: boolean;
}

export interface SyncCustomObjectOptions {
  action?: "createOrUpdate" | "createOnly" | "updateOnly";
  dedupeBy?: "dedupeFields" | "idField";
  /** The object's dedupe fields; when omitted the batcher learns them from describe (one call, cached). */
  dedupeFields?: string[];
  /** A replayed record: its calls take only the capacity live records leave. */
  background?: boolean;
}

export interface CampaignToken {
  name: string;
  value: string;
}

export interface CustomActivity {
  leadId: number;
  activityDate: string;
  activityTypeId: number;
  primaryAttributeValue: string;
  attributes?: Array<{ name?: string; apiName?: string; value: unknown }>;
  apiName?: string;
}

export interface SubmitFormOptions {
  visitorData?: {
    pageURL?: string;
    queryString?: string;
    leadClientIpAddress?: string;
    userAgentString?: string;
  };
  cookie?: string;
  programId?: number;
}

export type LeadRecord = Record<string, unknown>;

export interface ProgressionStatus {
  name: string;
  step: number;
  description?: string | null;
  hidden?: boolean;
  success?: boolean;
  type?: string;
}

export interface Program {
  id: number;
  name: string;
  type?: string;
  channel?: string;
  status?: string;
  workspace?: string;
  [key: string]: unknown;
}

export interface Channel {
  id: number;
  name: string;
  applicableProgramType?: string;
  progressionStatuses: ProgressionStatus[];
  [key: string]: unknown;
}

export interface BulkImportOptions {
  lookupField?: string;
  listId?: number;
  partitionName?: string;
}

export interface BulkJobSummary {
  batchId: number;
  status: string;
  rows: number;
  numOfRowsProcessed?: number;
  numOfRowsFailed: number;
  numOfRowsWithWarning: number;
  message?: string;
}

export interface BulkImportResult {
  jobs: BulkJobSummary[];
  /** One per input row, in input order. */
  rows: BulkRowResult[];
}
