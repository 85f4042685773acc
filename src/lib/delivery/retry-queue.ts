/**
 * The retry-queue's logic, without Node-RED: what a failed message becomes (an entry with its
 * category, code and the node it failed in), when it is resubmitted, what an outcome does to it,
 * and the filters, counts and commands a person uses to look after it.
 *
 * Every change goes to a store (the journal) and the methods resolve once it is there, so the
 * node acknowledges a message only when a crash can no longer lose it. Time and randomness come
 * in through the options: tests drive the clock.
 */
import { randomBytes } from "node:crypto";
import { describeEvent } from "../sidebar/metrics";
import { jsonSafeMessage } from "./storable";
import { nextChicagoMidnight } from "../marketo/time";
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

/** The journal as the queue uses it (src/lib/delivery/journal.ts, or memory when there is no userDir). */
export interface QueueStore {
  put(id: string, value: unknown): Promise<void>;
  delete(id: string): Promise<void>;
}

export interface QueueOptions {
  maxAttempts: number;
  backoffMs: number[];
  maxEntries: number;
  answerTimeoutMs: number;
  now?: () => number;
  random?: () => number;
  /** Spread of quota waits past midnight, so a full queue does not hit Marketo in one second. */
  quotaJitterMs?: number;
}

export type ReceiveResult = { kind: "waiting" | "held" | "abandoned"; entry: RetryEntry } | { kind: "overflow" };

export type OutcomeResult =
  { kind: "stale" } | { kind: "delivered"; entry: RetryEntry } | { kind: EntryState; entry: RetryEntry };

/** Journal id of the totals; entry ids never start with "~". */
export const TOTALS_ID = "~totals";

export const DEFAULTS = {
  maxAttempts: 3,
  backoff: "30s, 2m, 10m",
  maxEntries: 10_000,
  answerTimeout: "10m",
  quotaJitterMs: 120_000,
} as const;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "30s", "2m", "1.5h", "250ms" → milliseconds; a reason when it is not one. */
export function parseDuration(text: string): { ok: true; ms: number } | { ok: false; reason: string } {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/i.exec(text);
  if (!m) return { ok: false, reason: `"${text.trim()}" is not a duration like 30s, 2m or 1h` };
  const ms = Math.round(Number(m[1]) * UNITS[m[2].toLowerCase()]);
  if (ms <= 0) return { ok: false, reason: `"${text.trim()}" must be longer than 0` };
  if (ms > 7 * 24 * 3_600_000) return { ok: false, reason: `"${text.trim()}" is longer than 7 days` };
  return { ok: true, ms };
}

/** "30s, 2m, 10m" → [30000, 120000, 600000]: attempt n waits entry n-1, the last repeats. */
export function parseBackoff(text: unknown): { ok: true; ms: number[] } | { ok: false; reason: string } {
  if (typeof text !== "string" || !text.trim())
    return { ok: false, reason: "backoff is empty: give delays like 30s, 2m, 10m" };
  const out: number[] = [];
  for (const part of text.split(/[,;]/)) {
    if (!part.trim()) continue;
    const d = parseDuration(part);
    if (!d.ok) return { ok: false, reason: `backoff: ${d.reason}` };
    out.push(d.ms);
  }
  if (out.length === 0) return { ok: false, reason: "backoff is empty: give delays like 30s, 2m, 10m" };
  return { ok: true, ms: out };
}

/** 90000 → "1.5m": for reasons a person reads. */
export function formatDuration(ms: number): string {
  const pick = ms >= 3_600_000 ? ["h", 3_600_000] : ms >= 60_000 ? ["m", 60_000] : ms >= 1000 ? ["s", 1000] : ["ms", 1];
  return `${Number((ms / (pick[1] as number)).toFixed(1))}${pick[0]}`;
}

/** The wait before resubmission n (1-based). */
export function backoffFor(backoffMs: readonly number[], attempt: number): number {
  if (backoffMs.length === 0) return 0;
  return backoffMs[Math.min(Math.max(attempt, 1), backoffMs.length) - 1];
}

/** The next quota reset (00:00 America/Chicago) plus jitter. */
export function quotaResumeAt(now: number, random: () => number, jitterMs: number): number {
  return nextChicagoMidnight(now).getTime() + Math.floor(random() * Math.max(0, jitterMs));
}

/**
 * A JSON-safe copy of a message to keep: no req/res (sockets), functions, cycles or the error
 * that brought it here, so it resubmits as it first went in.
 */
export function storableMessage(msg: Record<string, unknown>): Record<string, unknown> {
  const out = jsonSafeMessage(msg, (k) => k === "req" || k === "res" || k === "error");
  const marketo = out.marketo;
  if (marketo !== null && typeof marketo === "object" && !Array.isArray(marketo)) {
    delete (marketo as Record<string, unknown>).error;
    delete (marketo as Record<string, unknown>).retry;
  }
  return out;
}

const str = (v: unknown, fallback: string): string =>
  typeof v === "string" && v ? v : typeof v === "number" ? String(v) : fallback;

function integrationOf(v: unknown): Integration | undefined {
  if (!isObject(v) || typeof v.id !== "string" || !v.id) return undefined;
  return { id: v.id, type: str(v.type, "unknown"), name: typeof v.name === "string" ? v.name : "" };
}

const CATCH_TEXT = new RegExp(
  `^(?:MarketoError: )?([\\w-]+): (?:\\d+ of \\d+ records failed; first: )?(${CATEGORIES.join("|")}): ([\\s\\S]*)$`,
);

/** Whether a failure can succeed later by itself; validation never does, whatever it says. */
function retryableOf(category: string, retryable: unknown, action: string): boolean {
  if (category === "validation" || category === "unknown" || action === "permanent") return false;
  return retryable === true;
}

/** The error fields of an outcome, for an entry. */
export function errorFields(
  error: ErrorInfo | undefined,
): Pick<Failure, "category" | "code" | "message" | "retryable" | "action"> {
  const category = str(error?.category, "unknown");
  const action = str(error?.action, category === "quota" ? "wait-day" : "retry");
  return {
    category,
    code: str(error?.code, "UNKNOWN"),
    message: str(error?.message, "no error message"),
    retryable: retryableOf(category, error?.retryable, action),
    action,
  };
}

/**
 * What a failed message says about itself: `msg.marketo.error` from an action node's output 2,
 * else a Catch node's `msg.error` ("MarketoError: marketo-lead: rate-limit: ..."), else nothing
 * the queue knows (held, category "unknown", for a person to look at).
 */
export function failureOf(msg: Record<string, unknown>): Failure {
  const marketo = isObject(msg.marketo) ? msg.marketo : undefined;
  const caught = isObject(msg.error) ? msg.error : undefined;
  const stored = storableMessage(msg);
  const unknownNode: Integration = { id: "unknown", type: "unknown", name: "" };
  if (marketo && isObject(marketo.error)) {
    const e = marketo.error;
    return {
      msg: stored,
      integration: integrationOf(e.source) ?? integrationOf(caught?.source) ?? unknownNode,
      ...errorFields(e),
    };
  }
  if (caught) {
    const text = typeof caught.message === "string" ? caught.message : String(caught.message ?? "");
    const m = CATCH_TEXT.exec(text);
    const integration = integrationOf(caught.source) ?? unknownNode;
    if (m) {
      const category = m[2];
      const code =
        /\bMarketo (\d{3,4})\b/.exec(m[3])?.[1] ?? (typeof caught.code === "string" ? caught.code : "UNKNOWN");
      // Catch sees no retryable flag: the category decides, as the action nodes' table does.
      const retryable = category !== "validation" && category !== "auth";
      return {
        msg: stored,
        integration,
        category,
        code,
        message: m[3],
        retryable,
        action: category === "quota" ? "wait-day" : retryable ? "retry" : "permanent",
      };
    }
    return {
      msg: stored,
      integration,
      category: "unknown",
      code: "UNKNOWN",
      message: text || "an error without a message",
      retryable: false,
      action: "permanent",
    };
  }
  const filtered = isObject(msg.filtered) && typeof msg.filtered.reason === "string" ? `: ${msg.filtered.reason}` : "";
  return {
    msg: stored,
    integration: unknownNode,
    category: "unknown",
    code: "UNKNOWN",
    message: `the message carries no msg.marketo.error and no msg.error${filtered}`,
    retryable: false,
    action: "permanent",
  };
}

function stringList(v: unknown, what: string): { ok: true; list?: string[] } | { ok: false; reason: string } {
  if (v === undefined || v === null) return { ok: true };
  if (typeof v === "string") return { ok: true, list: [v] };
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return { ok: true, list: v as string[] };
  return { ok: false, reason: `${what} must be a string or an array of strings` };
}

/** A filter from a command or a route body: {ids?, integration?, state?, category?}. */
export function parseFilter(v: unknown): { ok: true; filter: Filter } | { ok: false; reason: string } {
  if (v === undefined || v === null) return { ok: true, filter: {} };
  if (!isObject(v)) return { ok: false, reason: 'the filter must be an object like {"state": "held"}' };
  const filter: Filter = {};
  for (const key of Object.keys(v)) {
    if (!["ids", "integration", "state", "category"].includes(key))
      return { ok: false, reason: `unknown filter field "${key}" (use ids, integration, state, category)` };
  }
  for (const key of ["ids", "integration", "state", "category"] as const) {
    const r = stringList(v[key], key);
    if (!r.ok) return r;
    if (r.list) (filter as Record<string, string[]>)[key] = r.list;
  }
  const badState = filter.state?.find((s) => !STATES.includes(s));
  if (badState !== undefined) return { ok: false, reason: `unknown state "${badState}" (use ${STATES.join(", ")})` };
  return { ok: true, filter };
}

export function matches(entry: RetryEntry, f: Filter): boolean {
  if (f.ids && !f.ids.includes(entry.id)) return false;
  if (f.state && !f.state.includes(entry.state)) return false;
  if (f.category && !f.category.includes(entry.category)) return false;
  if (f.integration) {
    const i = entry.integration;
    if (!f.integration.some((x) => x === i.id || (i.name !== "" && x === i.name) || x === i.type)) return false;
  }
  return true;
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

function emptyTotals(): Totals {
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

/**
 * After a failure (or an unanswered resubmission): waiting again, held (a person must fix the
 * cause) or abandoned (attempts used up). Says which give-up it was, for the totals.
 */
export function decideEntry(
  e: RetryEntry,
  options: QueueOptions,
  now: number,
  random: () => number,
  quotaWait = true,
): "held" | "abandoned" | undefined {
  e.sentAt = undefined;
  if (!e.retryable) {
    e.state = "held";
    e.nextRetryAt = undefined;
    e.quotaWait = undefined;
    e.reason ??= `${e.category} failure: a person must fix the cause, then resubmit`;
    return "held";
  }
  if (quotaWait && (e.category === "quota" || e.action === "wait-day")) {
    e.state = "waiting";
    e.quotaWait = true;
    e.nextRetryAt = quotaResumeAt(now, random, options.quotaJitterMs ?? DEFAULTS.quotaJitterMs);
    return undefined;
  }
  e.quotaWait = undefined;
  if (e.attempts >= options.maxAttempts) {
    e.state = "abandoned";
    e.nextRetryAt = undefined;
    e.reason = e.reason
      ? `${e.reason}; gave up after ${e.attempts} of ${options.maxAttempts} attempts`
      : `gave up after ${e.attempts} of ${options.maxAttempts} attempts`;
    return "abandoned";
  }
  e.state = "waiting";
  e.nextRetryAt = now + backoffFor(options.backoffMs, e.attempts + 1);
  return undefined;
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

/** An in-memory store (no userDir, and tests). */
export class MemoryStore implements QueueStore {
  readonly values = new Map<string, unknown>();
  async put(id: string, value: unknown): Promise<void> {
    this.values.set(id, JSON.parse(JSON.stringify(value)));
  }
  async delete(id: string): Promise<void> {
    this.values.delete(id);
  }
  recovered(): Array<{ id: string; value: unknown }> {
    return [...this.values].map(([id, value]) => ({ id, value }));
  }
}

export class RetryQueue {
  readonly entries = new Map<string, RetryEntry>();
  readonly totals: Totals = emptyTotals();
  /** Recovered values that were not entries (skipped; the node says so). */
  readonly damaged: string[] = [];
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    readonly options: QueueOptions,
    private readonly store: QueueStore,
    recovered: Iterable<{ id: string; value: unknown }> = [],
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    for (const { id, value } of recovered) {
      if (id === TOTALS_ID) {
        if (isObject(value)) {
          for (const k of Object.keys(this.totals) as Array<keyof Totals>) {
            if (typeof value[k] === "number" && Number.isFinite(value[k])) this.totals[k] = value[k] as number;
          }
        }
        continue;
      }
      const e = entryOf(id, value);
      if (e) this.entries.set(id, e);
      else this.damaged.push(id);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get full(): boolean {
    return this.entries.size >= this.options.maxEntries;
  }

  /** When the entry needs the queue's attention next (undefined: only a person moves it). */
  wakeAt(e: RetryEntry): number | undefined {
    if (e.state === "waiting") return e.nextRetryAt;
    if (e.state === "retrying") return (e.sentAt ?? e.lastFailedAt) + this.options.answerTimeoutMs;
    return undefined;
  }

  nextWake(): number | undefined {
    let at: number | undefined;
    for (const e of this.entries.values()) {
      const w = this.wakeAt(e);
      if (w !== undefined && (at === undefined || w < at)) at = w;
    }
    return at;
  }

  /** A new failure. Resolves once it is in the store. */
  async receive(f: Failure): Promise<ReceiveResult> {
    if (this.full) {
      this.totals.overflow++;
      await this.saveTotals();
      return { kind: "overflow" };
    }
    const now = this.now();
    const entry = newEntry(f, now);
    this.totals.received++;
    this.decide(entry, now);
    this.entries.set(entry.id, entry);
    await this.save(entry);
    return { kind: entry.state as "waiting" | "held" | "abandoned", entry };
  }

  private decide(e: RetryEntry, now: number, quotaWait = true): void {
    const given = decideEntry(e, this.options, now, this.random, quotaWait);
    if (given) this.totals[given]++;
  }

  /**
   * Up to `limit` waiting entries that are due, turned into resubmissions (state retrying, one
   * more attempt, a new seq). Resolves once that is in the store, before anything is sent.
   */
  async takeDue(limit: number): Promise<RetryEntry[]> {
    const now = this.now();
    const due: RetryEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.state === "waiting" && (e.nextRetryAt ?? 0) <= now) {
        due.push(e);
        if (due.length >= limit) break;
      }
    }
    for (const e of due) {
      e.attempts++;
      e.seq++;
      e.state = "retrying";
      e.sentAt = now;
      e.nextRetryAt = undefined;
      e.quotaWait = undefined;
      this.totals.retried++;
    }
    if (due.length) await Promise.all([...due.map((e) => this.store.put(e.id, e)), this.saveTotals()]);
    return due;
  }

  /** Resubmissions taken but never sent (the node closed meanwhile): due again, no attempt spent. */
  async release(entries: RetryEntry[]): Promise<void> {
    const now = this.now();
    const back = entries.filter((e) => this.entries.get(e.id) === e && e.state === "retrying");
    for (const e of back) {
      e.attempts = Math.max(0, e.attempts - 1);
      e.state = "waiting";
      e.sentAt = undefined;
      e.nextRetryAt = now;
      this.totals.retried = Math.max(0, this.totals.retried - 1);
    }
    if (back.length) await Promise.all([...back.map((e) => this.store.put(e.id, e)), this.saveTotals()]);
  }

  /** The entry could not be sent at all (e.g. the node it failed in is gone): held, with why. */
  async hold(e: RetryEntry, reason: string): Promise<void> {
    if (this.entries.get(e.id) !== e) return;
    e.state = "held";
    e.reason = reason;
    e.sentAt = undefined;
    e.nextRetryAt = undefined;
    this.totals.held++;
    await this.save(e);
  }

  /**
   * How a resubmission went. An outcome for another seq, or for an entry no longer retrying, is
   * a duplicate (the registry and a wire both report failures) or too late: ignored.
   */
  async outcome(tag: { id: string; seq: number }, ok: boolean, error?: ErrorInfo): Promise<OutcomeResult> {
    const e = this.entries.get(tag.id);
    if (!e || e.state !== "retrying" || e.seq !== tag.seq) return { kind: "stale" };
    const now = this.now();
    if (ok) {
      this.entries.delete(e.id);
      this.totals.delivered++;
      await Promise.all([this.store.delete(e.id), this.saveTotals()]);
      return { kind: "delivered", entry: e };
    }
    Object.assign(e, errorFields(error));
    e.lastFailedAt = now;
    e.reason = undefined;
    // A quota failure waits for the reset without spending the attempt that met it.
    if (e.category === "quota" || e.action === "wait-day") e.attempts = Math.max(0, e.attempts - 1);
    this.decide(e, now);
    await this.save(e);
    return { kind: e.state, entry: e };
  }

  /** Resubmissions nobody answered within the answer timeout: that try counts as spent. */
  async expire(): Promise<RetryEntry[]> {
    const now = this.now();
    const late: RetryEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.state === "retrying" && (e.sentAt ?? e.lastFailedAt) + this.options.answerTimeoutMs <= now) late.push(e);
    }
    for (const e of late) {
      e.lastFailedAt = now;
      e.reason = `no answer within ${formatDuration(this.options.answerTimeoutMs)} to resubmission ${e.attempts} (is output 1 wired to the node that failed?)`;
      // Silence is not a quota answer, whatever the entry first failed with: it spends the attempt.
      this.decide(e, now, false);
    }
    if (late.length) await Promise.all([...late.map((e) => this.store.put(e.id, e)), this.saveTotals()]);
    return late;
  }

  select(filter: Filter): RetryEntry[] {
    if (filter.ids && !filter.integration && !filter.state && !filter.category) {
      return filter.ids.map((id) => this.entries.get(id)).filter((e): e is RetryEntry => e !== undefined);
    }
    const out: RetryEntry[] = [];
    for (const e of this.entries.values()) if (matches(e, filter)) out.push(e);
    return out;
  }

  /**
   * A person's resubmit: attempts start again and the entries are due now, whatever held them.
   * Entries whose resubmission is under way are left alone (their answer is coming).
   */
  async resubmit(filter: Filter): Promise<number> {
    const now = this.now();
    const chosen = this.select(filter).filter((e) => e.state !== "retrying");
    for (const e of chosen) {
      e.attempts = 0;
      e.state = "waiting";
      e.nextRetryAt = now;
      e.quotaWait = undefined;
      e.reason = undefined;
      // A person judged the cause fixed: a held entry may go out as it is.
      e.retryable = true;
    }
    await Promise.all(chosen.map((e) => this.store.put(e.id, e)));
    return chosen.length;
  }

  /** Every waiting entry due now, except those waiting for the quota reset. */
  async flush(): Promise<number> {
    const now = this.now();
    const chosen: RetryEntry[] = [];
    for (const e of this.entries.values()) {
      if (e.state === "waiting" && !e.quotaWait && (e.nextRetryAt ?? 0) > now) chosen.push(e);
    }
    for (const e of chosen) e.nextRetryAt = now;
    await Promise.all(chosen.map((e) => this.store.put(e.id, e)));
    return chosen.length;
  }

  async discard(filter: Filter): Promise<number> {
    const chosen = this.select(filter);
    for (const e of chosen) this.entries.delete(e.id);
    this.totals.discarded += chosen.length;
    await Promise.all([
      ...chosen.map((e) => this.store.delete(e.id)),
      chosen.length ? this.saveTotals() : Promise.resolve(),
    ]);
    return chosen.length;
  }

  counts(entries: Iterable<RetryEntry> = this.entries.values()): Counts {
    const c: Counts = { state: { waiting: 0, retrying: 0, held: 0, abandoned: 0 }, category: {}, integration: {} };
    for (const e of entries) {
      c.state[e.state]++;
      c.category[e.category] = (c.category[e.category] ?? 0) + 1;
      c.integration[e.integration.id] = (c.integration[e.integration.id] ?? 0) + 1;
    }
    return c;
  }

  /** The integrations the entries name, by id (their type and name, for a list's labels). */
  integrations(): Record<string, Integration> {
    const out: Record<string, Integration> = {};
    for (const e of this.entries.values()) out[e.integration.id] ??= { ...e.integration };
    return out;
  }

  list(filter: Filter, limit: number, offset: number): { total: number; entries: EntrySummary[] } {
    const chosen = this.select(filter);
    return { total: chosen.length, entries: chosen.slice(offset, offset + limit).map(summary) };
  }

  /** The answer to a "stats" command. */
  stats(): { size: number; maxEntries: number; counts: Counts; totals: Totals } {
    return {
      size: this.entries.size,
      maxEntries: this.options.maxEntries,
      counts: this.counts(),
      totals: { ...this.totals },
    };
  }

  private async save(e: RetryEntry): Promise<void> {
    await Promise.all([this.store.put(e.id, e), this.saveTotals()]);
  }

  private saveTotals(): Promise<void> {
    return this.store.put(TOTALS_ID, this.totals);
  }
}
