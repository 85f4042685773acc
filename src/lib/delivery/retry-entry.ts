/**
 * What the retry-queue holds: an entry for one failed message, its states and totals, how a
 * recovered journal line becomes an entry again, and what a person is shown of one.
 */
import { randomBytes } from "node:crypto";
import { describeEvent } from "../sidebar/metrics";
import { isRecord as isObject } from "../node-kit/guards";

export type EntryState = "waiting" | "retrying" | "held" | "abandoned";
export const STATES: readonly EntryState[] = ["waiting", "retrying", "held", "abandoned"];

/** The six failure categories the action nodes use, and "unknown" for a failure from elsewhere. */
export const CATEGORIES = ["validation", "auth", "rate-limit", "quota", "network", "marketo"] as const;

/** The node a message failed in. */
export interface Integration {
  id: string;
  type: string;
  name: string;
}

/** A failure the queue holds; `msg` is the message to resubmit, JSON-safe, without the error. */
export interface RetryEntry extends Failure {
  id: string;
  /** Resubmissions made since the entry came in (or since a person resubmitted it). */
  attempts: number;
  firstFailedAt: number;
  lastFailedAt: number;
  /** When a waiting entry goes out next. */
  nextRetryAt?: number;
  state: EntryState;
  /** Bumped at every resubmission: an outcome names the one it answers. */
  seq: number;
  /** When the resubmission now under way left (state retrying). */
  sentAt?: number;
  /** Waiting for Marketo's daily quota to reset, not for a backoff step. */
  quotaWait?: boolean;
  /** Why the entry is held or abandoned, or why its last resubmission went unanswered. */
  reason?: string;
}

export interface Totals {
  received: number;
  retried: number;
  delivered: number;
  abandoned: number;
  held: number;
  discarded: number;
  overflow: number;
}

/** A failure as the queue takes it in. */
export interface Failure {
  /** Without req/res (sockets) and, once stored, JSON-safe and without the error. */
  msg: Record<string, unknown>;
  integration: Integration;
  category: string;
  code: string;
  message: string;
  retryable: boolean;
  action: string;
}

/** The error part of an outcome (msg.marketo.error). */
export interface ErrorInfo {
  code?: unknown;
  message?: unknown;
  category?: unknown;
  retryable?: unknown;
  action?: unknown;
}

export interface Filter {
  ids?: string[];
  integration?: string[];
  state?: EntryState[];
  category?: string[];
}

/** Journal id of the totals; entry ids never start with "~". */
export const TOTALS_ID = "~totals";

export { isRecord as isObject } from "../node-kit/guards";
export const str = (v: unknown, fallback: string): string =>
  typeof v === "string" && v ? v : typeof v === "number" ? String(v) : fallback;

export function integrationOf(v: unknown): Integration | undefined {
  if (!isObject(v) || typeof v.id !== "string" || !v.id) return undefined;
  return { id: v.id, type: str(v.type, "unknown"), name: typeof v.name === "string" ? v.name : "" };
}

/** Whether a failure can succeed later by itself; validation never does, whatever it says. */
export function retryableOf(category: string, retryable: unknown, action: string): boolean {
  if (category === "validation" || category === "unknown" || action === "permanent") return false;
  return retryable === true;
}

export interface Counts {
  state: Record<EntryState, number>;
  category: Record<string, number>;
  integration: Record<string, number>;
}

/** What a list or a route shows of an entry: everything but the message, plus its payload. */
export interface EntrySummary {
  id: string;
  integration: Integration;
  category: string;
  code: string;
  message: string;
  retryable: boolean;
  state: EntryState;
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
  nextRetryAt?: string;
  reason?: string;
  quotaWait?: boolean;
  /** Who and what the record is about, as a person searches for it: email, registration code, event. */
  record: { email?: string; registration?: string; event?: string };
  payload: unknown;
}

function identityOf(msg: Record<string, unknown>): EntrySummary["record"] {
  const d = describeEvent(msg);
  const out: EntrySummary["record"] = {};
  if (d.email) out.email = d.email;
  if (d.registration) out.registration = d.registration;
  if (d.event) out.event = d.event;
  return out;
}

export function summary(e: RetryEntry): EntrySummary {
  const s: EntrySummary = {
    id: e.id,
    integration: { ...e.integration },
    category: e.category,
    code: e.code,
    message: e.message,
    retryable: e.retryable,
    state: e.state,
    attempts: e.attempts,
    firstFailedAt: new Date(e.firstFailedAt).toISOString(),
    lastFailedAt: new Date(e.lastFailedAt).toISOString(),
    record: identityOf(e.msg),
    payload: e.msg.payload,
  };
  if (e.nextRetryAt !== undefined && e.state === "waiting") s.nextRetryAt = new Date(e.nextRetryAt).toISOString();
  if (e.reason) s.reason = e.reason;
  if (e.quotaWait) s.quotaWait = true;
  return s;
}

export function emptyTotals(): Totals {
  return { received: 0, retried: 0, delivered: 0, abandoned: 0, held: 0, discarded: 0, overflow: 0 };
}

/** A recovered entry, checked: a damaged line must not stop the queue from starting. */
export function entryOf(id: string, v: unknown): RetryEntry | undefined {
  if (!isObject(v) || v.id !== id || !isObject(v.msg) || !STATES.includes(v.state as EntryState)) return undefined;
  const integration = integrationOf(v.integration);
  if (!integration) return undefined;
  const num = (x: unknown): number | undefined => (typeof x === "number" && Number.isFinite(x) ? x : undefined);
  const firstFailedAt = num(v.firstFailedAt);
  const lastFailedAt = num(v.lastFailedAt) ?? firstFailedAt;
  if (firstFailedAt === undefined || lastFailedAt === undefined) return undefined;
  const e: RetryEntry = {
    id,
    msg: v.msg,
    integration,
    category: str(v.category, "unknown"),
    code: str(v.code, "UNKNOWN"),
    message: str(v.message, ""),
    retryable: v.retryable === true,
    action: str(v.action, "retry"),
    attempts: num(v.attempts) ?? 0,
    firstFailedAt,
    lastFailedAt,
    state: v.state as EntryState,
    seq: num(v.seq) ?? 0,
  };
  const next = num(v.nextRetryAt);
  if (next !== undefined) e.nextRetryAt = next;
  const sent = num(v.sentAt);
  if (sent !== undefined) e.sentAt = sent;
  if (v.quotaWait === true) e.quotaWait = true;
  if (typeof v.reason === "string") e.reason = v.reason;
  if (e.state === "waiting" && e.nextRetryAt === undefined) e.nextRetryAt = lastFailedAt;
  if (e.state === "retrying" && e.sentAt === undefined) e.sentAt = lastFailedAt;
  return e;
}
/** A new entry for a failure, before any decision. */
export function newEntry(f: Failure, now: number): RetryEntry {
  return {
    id: newEntryId(now),
    msg: f.msg,
    integration: f.integration,
    category: f.category,
    code: f.code,
    message: f.message,
    retryable: retryableOf(f.category, f.retryable, f.action),
    action: f.action,
    attempts: 0,
    firstFailedAt: now,
    lastFailedAt: now,
    state: "waiting",
    seq: 0,
  };
}

let counter = 0;
const prefix = randomBytes(4).toString("hex");

/** Entry ids unique across processes and restarts, readable in a URL. */
export function newEntryId(now: number): string {
  return `${now.toString(36)}-${prefix}-${(counter++).toString(36)}`;
}
