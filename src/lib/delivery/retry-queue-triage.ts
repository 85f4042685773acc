/**
 * The retry-queue node's decisions that need no runtime: its settings, what an incoming message
 * is (a command, the outcome of its own resubmission, another queue's, or a new failure), the
 * messages it sends out, and the query strings and bodies of its admin routes.
 */
import { DEFAULTS, errorFields, failureOf, parseBackoff, parseDuration, parseFilter, summary } from "./retry-queue";
import type { ErrorInfo, Failure, Filter, QueueOptions, RetryEntry } from "./retry-queue";
import { retryTagOf, type RetryTag } from "./retry-registry";
import { isRecord } from "../node-kit/guards";

type Msg = Record<string, unknown>;

export const COMMANDS = new Set(["resubmit", "flush", "discard", "stats"]);
export const LIST_LIMIT = 100;
export const LIST_MAX = 1000;

const isObject = isRecord;

export interface RetryQueueSettings {
  maxAttempts?: number | string;
  backoff?: string;
  maxEntries?: number | string;
  answerTimeout?: string;
  resubmitThrough?: string;
}

export type QueueSettings = Pick<QueueOptions, "maxAttempts" | "maxEntries" | "backoffMs" | "answerTimeoutMs">;

function wholeNumber(v: unknown, fallback: number, min: number): { value: number; problem?: string } {
  if (v === undefined || v === null || v === "") return { value: fallback };
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    return { value: fallback, problem: `${JSON.stringify(v)} is not a whole number of at least ${min}` };
  return { value: n };
}

/** The node's settings: a bad one falls back to its default and is named in `problems`. */
export function queueSettings(def: RetryQueueSettings): {
  options: QueueSettings;
  throughNode: boolean;
  problems: string[];
} {
  const problems: string[] = [];
  const maxAttempts = wholeNumber(def.maxAttempts, DEFAULTS.maxAttempts, 0);
  if (maxAttempts.problem) problems.push(`max attempts: ${maxAttempts.problem}`);
  const maxEntries = wholeNumber(def.maxEntries, DEFAULTS.maxEntries, 1);
  if (maxEntries.problem) problems.push(`max entries: ${maxEntries.problem}`);
  let backoff = parseBackoff(def.backoff ?? DEFAULTS.backoff);
  if (!backoff.ok) {
    problems.push(backoff.reason);
    backoff = parseBackoff(DEFAULTS.backoff);
  }
  let timeout = parseDuration(def.answerTimeout || DEFAULTS.answerTimeout);
  if (!timeout.ok) {
    problems.push(`answer timeout: ${timeout.reason}`);
    timeout = parseDuration(DEFAULTS.answerTimeout);
  }
  return {
    options: {
      maxAttempts: maxAttempts.value,
      maxEntries: maxEntries.value,
      backoffMs: backoff.ok ? backoff.ms : [30_000],
      answerTimeoutMs: timeout.ok ? timeout.ms : 600_000,
    },
    throughNode: def.resubmitThrough === "node",
    problems,
  };
}

/** What one incoming message is to the queue `queueId`. */
export type Arrival =
  | { kind: "command"; topic: string }
  /** Its own resubmission came back failed: the outcome, with the error it carries. */
  | { kind: "outcome"; tag: RetryTag; error: ErrorInfo | undefined }
  /** Its own resubmission came back without an error (output 1 wired back): the registry tells the outcome. */
  | { kind: "ownWithoutError" }
  /** Another queue resubmitted it and hears its outcome: holding it here too would double it. */
  | { kind: "foreign"; queue: string }
  | { kind: "failure"; failure: Failure };

export function triage(msg: Msg, queueId: string, isQueueRegistered: (id: string) => boolean): Arrival {
  const marketo = isObject(msg.marketo) ? msg.marketo : undefined;
  const hasError = isObject(marketo?.error) || isObject(msg.error);
  const tag = retryTagOf(marketo?.retry);
  if (!hasError && !tag && typeof msg.topic === "string" && COMMANDS.has(msg.topic))
    return { kind: "command", topic: msg.topic };
  if (tag && tag.queue === queueId) {
    if (!hasError) return { kind: "ownWithoutError" };
    const error = isObject(marketo?.error)
      ? (marketo.error as ErrorInfo)
      : errorFields(failureOf(msg) as unknown as ErrorInfo);
    return { kind: "outcome", tag, error };
  }
  if (tag && isQueueRegistered(tag.queue)) return { kind: "foreign", queue: tag.queue };
  return { kind: "failure", failure: failureOf(msg) };
}

/**
 * The filter of a resubmit or discard command. An inject node's timestamp is no filter:
 * resubmit takes it as "all"; discard needs one.
 */
export function commandFilter(
  topic: string,
  payload: unknown,
): { ok: true; filter: Filter } | { ok: false; reason: "discardFilter" | "filter"; detail?: string } {
  const given = isObject(payload) ? payload : undefined;
  if (topic === "discard" && !given) return { ok: false, reason: "discardFilter" };
  const f = parseFilter(given);
  if (!f.ok) return { ok: false, reason: "filter", detail: f.reason };
  return f;
}

const withMarketo = (m: Msg, extra: Record<string, unknown>): Record<string, unknown> => ({
  ...(isObject(m.marketo) ? m.marketo : {}),
  ...extra,
});

/** Output 1 (or the node it failed in): the entry's message, tagged so its outcome comes back here. */
export function resubmissionOf(e: RetryEntry, queueId: string, generateId: () => string): Msg {
  const m = structuredClone(e.msg);
  const tag: RetryTag = { queue: queueId, id: e.id, attempt: e.attempts, seq: e.seq };
  m.marketo = withMarketo(m, { retry: tag });
  if (typeof m._msgid !== "string") m._msgid = generateId();
  return m;
}

/** Output 2: an entry the queue gave up on by itself (it stays listed), or one it cannot hold. */
export function givenUpOf(e: RetryEntry, queueId: string, generateId: () => string): Msg {
  const m = structuredClone(e.msg);
  const s = summary(e);
  m.marketo = withMarketo(m, {
    error: {
      code: e.code,
      message: e.message,
      category: e.category,
      retryable: e.retryable,
      action: e.action,
      source: { ...e.integration },
    },
    retry: {
      queue: queueId,
      id: e.id,
      attempt: e.attempts,
      seq: e.seq,
      state: e.state,
      reason: e.reason,
      firstFailedAt: s.firstFailedAt,
      lastFailedAt: s.lastFailedAt,
    },
  });
  if (typeof m._msgid !== "string") m._msgid = generateId();
  return m;
}

/** Output 2 for a failure a full queue cannot hold. */
export function overflowOf(failure: Failure, msgid: unknown, queueId: string, reason: string): Msg {
  const m = { ...failure.msg, _msgid: msgid } as Msg;
  m.marketo = withMarketo(m, {
    error: {
      code: failure.code,
      message: failure.message,
      category: failure.category,
      retryable: failure.retryable,
      action: failure.action,
      source: failure.integration,
    },
    retry: { queue: queueId, state: "overflow", reason },
  });
  return m;
}

/** A queue's own overflow that came back through a Catch node: Catch nodes heard of it already. */
export const cameFromQueue = (msg: Msg, queueId: string): boolean =>
  isObject(msg.error) && isObject(msg.error.source) && msg.error.source.id === queueId;

// --- admin routes -------------------------------------------------------------------------------

/** Query strings take comma-separated lists: ?state=held,abandoned */
function listOf(v: unknown): string[] | undefined {
  if (v === undefined || v === "") return undefined;
  const all = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(","));
  const list = all.map((s) => s.trim()).filter(Boolean);
  return list.length ? list : undefined;
}

function count(v: unknown, fallback: number, max: number, what: string): number | string {
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max) return `${what} must be a whole number from 0 to ${max}`;
  return n;
}

/** `?integration=&state=&category=&limit=&offset=` of the entries route. */
export function entriesQuery(
  query: Record<string, unknown>,
): { ok: true; filter: Filter; limit: number; offset: number } | { ok: false; reason: string } {
  const f = parseFilter({
    integration: listOf(query.integration),
    state: listOf(query.state),
    category: listOf(query.category),
  });
  if (!f.ok) return f;
  const limit = count(query.limit, LIST_LIMIT, LIST_MAX, "limit");
  if (typeof limit === "string") return { ok: false, reason: limit };
  const offset = count(query.offset, 0, Number.MAX_SAFE_INTEGER, "offset");
  if (typeof offset === "string") return { ok: false, reason: offset };
  return { ok: true, filter: f.filter, limit, offset };
}

/** `{ids?, filter?}` of a POST body as one filter. */
export function selection(
  body: unknown,
  required: boolean,
): { ok: true; filter: Filter } | { ok: false; reason: string } {
  if (body !== undefined && body !== null && !isObject(body))
    return { ok: false, reason: "the body must be a JSON object {ids?: [...], filter?: {...}}" };
  const b = (body ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(b))
    if (key !== "ids" && key !== "filter") return { ok: false, reason: `unknown field "${key}" (use ids and filter)` };
  if (b.ids !== undefined && !(Array.isArray(b.ids) && b.ids.every((x) => typeof x === "string")))
    return { ok: false, reason: "ids must be an array of entry ids (strings)" };
  if (required && b.ids === undefined && b.filter === undefined)
    return { ok: false, reason: "give ids or a filter ({} for every entry)" };
  const f = parseFilter(b.filter);
  if (!f.ok) return f;
  const filter = { ...f.filter };
  if (b.ids !== undefined)
    filter.ids = filter.ids ? filter.ids.filter((id) => (b.ids as string[]).includes(id)) : (b.ids as string[]);
  return { ok: true, filter };
}
