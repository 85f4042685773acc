/**
 * How an action node turns the client's per-record result into what a flow sees:
 * `msg.marketo` on output 1, `msg.marketo.error` on output 2, and the Error a Catch node gets.
 */
import { MarketoError, type ErrorCategory, type RecordResult } from "../marketo";
import { errorText } from "../node-kit/guards";

/** `msg.marketo` as an action node sets it. */
export type MarketoInfo = Record<string, unknown> & { error?: RecordErrorInfo };

/** What a node's handler says about one record. */
export interface Outcome {
  result: RecordResult;
  /** Merged into `msg.marketo` (programId, campaignId, activity...). */
  marketo?: Record<string, unknown>;
}

/** `msg.marketo.error`: enough for a person or the retry-queue to decide what to do. */
export interface RecordErrorInfo {
  code: string;
  message: string;
  category: ErrorCategory;
  retryable: boolean;
  /** What a client should do: retry, reauth, wait-window, wait-day, permanent. */
  action: string;
  operation?: string;
  requestId?: string;
  /** The node that failed the record, as a Catch node's `msg.error.source` names it. */
  source?: { id: string; type: string; name: string };
}

export function errorInfo(e: MarketoError): RecordErrorInfo {
  const out: RecordErrorInfo = {
    code: e.code,
    message: e.message,
    category: e.category,
    retryable: e.retryable,
    action: e.action,
  };
  if (e.operation) out.operation = e.operation;
  if (e.requestId) out.requestId = e.requestId;
  return out;
}

/** A record the node refuses before it reaches Marketo (never retried as is). */
export function invalidRecord(message: string, operation: string): RecordResult {
  return {
    ok: false,
    status: "failed",
    error: new MarketoError({
      code: "INVALID_INPUT",
      message,
      category: "validation",
      action: "permanent",
      retryable: false,
      operation,
    }),
  };
}

/** A handler that threw: a bug or a value nothing anticipated; the record fails, nothing else. */
export function unexpectedFailure(err: unknown, operation: string): RecordResult {
  if (err instanceof MarketoError) return { ok: false, status: "failed", error: err };
  return {
    ok: false,
    status: "failed",
    error: new MarketoError({
      code: "INTERNAL",
      message: `Unexpected failure in ${operation}: ${errorText(err)}`,
      category: "marketo",
      action: "permanent",
      retryable: false,
      operation,
    }),
  };
}

/** The records a message carries: an array payload is many records, anything else one. */
export function recordsOf(payload: unknown): unknown[] {
  return Array.isArray(payload) ? payload : [payload];
}

/**
 * The Error handed to done(): names the node and the category first, so a Catch node's
 * `msg.error.message` (Node-RED's `err.toString()`) reads
 * "MarketoError: marketo-lead: rate-limit: Marketo 606: Max rate limit exceeded" and can be
 * switched on; `msg.marketo.error` carries the same as fields.
 */
export class RecordFailure extends Error {
  readonly code: string;
  readonly category: ErrorCategory;
  readonly retryable: boolean;

  constructor(nodeType: string, info: RecordErrorInfo, failed = 1, total = 1) {
    const which = total > 1 ? `${failed} of ${total} records failed; first: ` : "";
    super(`${nodeType}: ${which}${info.category}: ${info.message}`);
    this.name = "MarketoError";
    this.code = info.code;
    this.category = info.category;
    this.retryable = info.retryable;
  }
}

/** The lead id a result names, for `msg.marketo.leadId`. */
export function leadIdOf(r: RecordResult): number | undefined {
  return typeof r.id === "number" && Number.isInteger(r.id) && r.id > 0 ? r.id : undefined;
}

/** `msg.marketo` for one outcome: what earlier nodes put there stays, a stale error goes. */
export function marketoFor(prev: unknown, outcome: Outcome): MarketoInfo {
  const base: MarketoInfo =
    prev !== null && typeof prev === "object" && !Array.isArray(prev) ? { ...(prev as MarketoInfo) } : {};
  delete base.error;
  const r = outcome.result;
  const leadId = leadIdOf(r);
  if (leadId !== undefined) base.leadId = leadId;
  base.status = r.status;
  if (r.requestId) base.requestId = r.requestId;
  else delete base.requestId;
  if (r.marketoGUID) base.marketoGUID = r.marketoGUID;
  // Only the last attempt's word counts: a retry that settled it leaves nothing to check.
  if (r.unconfirmedSince) base.unconfirmedSince = r.unconfirmedSince;
  else delete base.unconfirmedSince;
  if (r.arrived) base.arrived = true;
  else delete base.arrived;
  if (r.reasons?.length) base.reasons = r.reasons;
  else delete base.reasons;
  Object.assign(base, outcome.marketo);
  if (!r.ok && r.error) base.error = errorInfo(r.error);
  return base;
}
