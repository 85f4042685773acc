/**
 * Exactly-once delivery for the writes Marketo does not deduplicate: custom activities, campaign
 * requests and form fills. A call that may have reached Marketo (a timeout or reset after the
 * request left, a 5xx, 604/608/611/713/719) is not simply sent again: Marketo is first asked
 * which of its records arrived (Get Paging Token + Get Lead Activities, by activity type and up
 * to 30 lead ids a call), and only the absent ones go again. A call that succeeds costs nothing
 * extra.
 */
import { SealedBatch, type BatchSeal } from "./batch-seal";
import type { OpContext } from "./context";
import { MarketoError } from "./errors";
import { getLeadsByFilter } from "./leads";
import { asError, failAll, type RecordOp } from "./results";
import { backoffDelay } from "./timers";
import type { Answer, CallSpec, Transport } from "./transport";
import type { ArrivalUsage, RecordResult } from "./types";

/** Get Lead Activities takes at most 30 lead ids and 10 activity types a call. */
export const MAX_QUERY_LEADS = 30;
export const MAX_QUERY_TYPES = 10;
/** Built-in activity types: Marketo records one for each campaign request and form fill. */
export const ACTIVITY_FILL_OUT_FORM = 2;
export const ACTIVITY_REQUEST_CAMPAIGN = 47;
/**
 * Marketo dates a campaign request or form fill by its own clock: the question starts this much
 * before the first attempt left, so a clock running behind ours does not hide an arrival.
 */
export const SERVER_CLOCK_MARGIN_MS = 5 * 60_000;
/** Pages read per question at most; a lead with more activities of the type since then is unusual. */
const MAX_PAGES = 50;

/** Network failures where the request never left this machine: nothing can have arrived. */
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "CLIENT_CLOSED"]);
/** Marketo answers that may come after the write was applied. */
const MAYBE_APPLIED = new Set(["604", "608", "611", "713", "719", "INVALID_RESPONSE"]);

/** The call may have been applied although the answer says it failed. */
export function mayHaveArrived(e: MarketoError): boolean {
  if (e.category === "network") return !NOT_SENT.has(e.code);
  if (MAYBE_APPLIED.has(e.code)) return true;
  return e.httpStatus !== undefined && e.httpStatus >= 500 && /^5\d\d$/.test(e.code);
}

/** One activity as Get Lead Activities answers it. */
export interface FoundActivity {
  leadId: number;
  activityTypeId: number;
  activityDate?: string;
  primaryAttributeValueId?: number;
  primaryAttributeValue?: string;
  attributes: Array<{ name?: string; value?: unknown }>;
}

/** How to ask Marketo whether records of one write arrived. */
export interface ArrivalQuestion<T> {
  /** The lead each record is about; undefined = none yet (a form fill for a new lead). */
  leadIds(items: T[], ctx: OpContext): Promise<Array<number | undefined>>;
  /** Activity types to ask for. */
  typeIds(items: T[]): number[];
  /** The earliest time a record of `items` can be dated, given the first attempt left at `since`. */
  from(items: T[], since: number): number;
  /** Whether a found activity is this record's. */
  matches(item: T, leadId: number, a: FoundActivity): boolean;
  /** The answer for a record found in Marketo. */
  found(item: T, leadId: number): RecordResult;
}

/** Counters behind `usage().arrivalChecks`. */
export class ArrivalCounter {
  private readonly u: ArrivalUsage = { checks: 0, calls: 0, found: 0, resent: 0, unconfirmed: 0 };
  constructor(private readonly changed: () => void = () => undefined) {}
  add(k: keyof ArrivalUsage, n = 1): void {
    if (n === 0) return;
    this.u[k] += n;
    this.changed();
  }
  snapshot(): ArrivalUsage {
    return { ...this.u };
  }
}

/** A context that knows where to count the questions. */
export interface OnceContext extends OpContext {
  arrivals: ArrivalCounter;
  retryAttempts: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
}

function n(v: unknown): number | undefined {
  const x = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof x === "number" && Number.isFinite(x) ? x : undefined;
}

/** Get Paging Token then Get Lead Activities for up to 30 leads at a time, every page. */
export async function leadActivitiesSince(
  ctx: OnceContext,
  since: number,
  typeIds: number[],
  leadIds: number[],
): Promise<FoundActivity[]> {
  const call = (operation: string, path: string, query: Record<string, string | number | Array<string | number>>) =>
    ctx.transport.call({
      operation,
      method: "GET",
      path,
      query,
      timeoutMs: ctx.timeoutMs(operation === "getPagingToken" ? 300 : 30),
    });
  const tokenAnswer = await call("getPagingToken", "/rest/v1/activities/pagingtoken.json", {
    sinceDatetime: new Date(since).toISOString(),
  });
  const first = tokenAnswer.envelope.nextPageToken;
  if (typeof first !== "string" || !first)
    throw new MarketoError({
      code: "INVALID_RESPONSE",
      message: "Get Paging Token answered without a token",
      category: "marketo",
      action: "retry",
      retryable: true,
      operation: "getPagingToken",
    });
  const out: FoundActivity[] = [];
  const types = [...new Set(typeIds)];
  const leads = [...new Set(leadIds)];
  for (let t = 0; t < types.length; t += MAX_QUERY_TYPES) {
    for (let l = 0; l < leads.length; l += MAX_QUERY_LEADS) {
      let token = first;
      for (let page = 0; page < MAX_PAGES; page++) {
        const a: Answer = await call("getLeadActivities", "/rest/v1/activities.json", {
          nextPageToken: token,
          activityTypeIds: types.slice(t, t + MAX_QUERY_TYPES),
          leadIds: leads.slice(l, l + MAX_QUERY_LEADS),
          batchSize: 300,
        });
        for (const r of a.envelope.result ?? []) {
          const leadId = n(r.leadId);
          const activityTypeId = n(r.activityTypeId);
          if (leadId === undefined || activityTypeId === undefined) continue;
          out.push({
            leadId,
            activityTypeId,
            ...(typeof r.activityDate === "string" ? { activityDate: r.activityDate } : {}),
            ...(n(r.primaryAttributeValueId) !== undefined
              ? { primaryAttributeValueId: n(r.primaryAttributeValueId) }
              : {}),
            ...(r.primaryAttributeValue !== undefined && r.primaryAttributeValue !== null
              ? { primaryAttributeValue: String(r.primaryAttributeValue) }
              : {}),
            attributes: Array.isArray(r.attributes) ? (r.attributes as Array<{ name?: string; value?: unknown }>) : [],
          });
        }
        const next = a.envelope.nextPageToken;
        if (a.envelope.moreResult !== true || typeof next !== "string" || !next) break;
        token = next;
      }
    }
  }
  return out;
}

/**
 * Which of `items` Marketo already holds. Each activity found counts for one record only, so
 * two identical records of which one arrived send the other again.
 */
export async function arrivedOf<T>(
  outer: OnceContext,
  operation: string,
  q: ArrivalQuestion<T>,
  items: T[],
  since: number,
): Promise<Array<RecordResult | undefined>> {
  outer.arrivals.add("checks");
  const ctx = asking(outer, operation);
  const leadIds = await q.leadIds(items, ctx);
  const known = leadIds.filter((id): id is number => id !== undefined);
  const out: Array<RecordResult | undefined> = items.map(() => undefined);
  if (known.length === 0) return out;
  const found = await leadActivitiesSince(ctx, q.from(items, since), q.typeIds(items), known);
  const used = new Set<number>();
  items.forEach((item, i) => {
    const leadId = leadIds[i];
    if (leadId === undefined) return;
    const k = found.findIndex((a, j) => !used.has(j) && a.leadId === leadId && q.matches(item, leadId, a));
    if (k < 0) return;
    used.add(k);
    out[i] = q.found(item, leadId);
  });
  ctx.arrivals.add("found", out.filter(Boolean).length);
  return out;
}

/**
 * A context whose calls are named after the write they ask about
 * (`addCustomActivities:getLeadActivities`), so usage counts them (every attempt) and the
 * sidebar shows what they cost and for which node.
 */
function asking(ctx: OnceContext, operation: string): OnceContext {
  const t = ctx.transport;
  const transport = {
    call(spec: CallSpec): Promise<Answer> {
      return t.call({ ...spec, operation: `${operation}:${spec.operation}` });
    },
  } as unknown as Transport;
  return { ...ctx, transport };
}

/** The failure of a record whose arrival could not be confirmed either way. */
function unconfirmed(error: MarketoError, since: number, why: string): RecordResult {
  return {
    ok: false,
    status: "failed",
    error: new MarketoError({ ...error.toJSON(), message: `${error.message}; ${why}` }),
    unconfirmedSince: new Date(since).toISOString(),
    ...(error.requestId ? { requestId: error.requestId } : {}),
  };
}

/**
 * Sends `items` so that each reaches Marketo once. `since` set: an earlier call (this process's
 * or one before a restart) may have carried them from then on, so Marketo is asked first.
 * `lastError`: the failure that made them ambiguous, when this call is a retry.
 */
export async function deliverOnce<T>(
  ctx: OnceContext,
  op: RecordOp<T>,
  q: ArrivalQuestion<T>,
  items: T[],
  o: { since?: number; attempts?: number; lastError?: MarketoError } = {},
): Promise<RecordResult[]> {
  const results: Array<RecordResult | undefined> = items.map(() => undefined);
  let pending = items.map((_, i) => i);
  let since = o.since;
  let attempts = o.attempts ?? 0;
  let lastError = o.lastError;
  const settleRest = (fill: (i: number) => RecordResult): RecordResult[] => {
    for (const i of pending) results[i] = fill(i);
    return results as RecordResult[];
  };
  for (;;) {
    if (since !== undefined) {
      const asking = pending.map((i) => items[i]);
      let got: Array<RecordResult | undefined>;
      try {
        got = await arrivedOf(ctx, op.operation, q, asking, since);
      } catch (err) {
        const e = lastError ?? asError(err, op.operation);
        ctx.arrivals.add("unconfirmed", pending.length);
        const s = since;
        return settleRest(() =>
          unconfirmed(
            e,
            s,
            `whether it reached Marketo could not be checked (${asError(err, "getLeadActivities").message})`,
          ),
        );
      }
      const absent: number[] = [];
      got.forEach((r, k) => {
        if (r) results[pending[k]] = r;
        else absent.push(pending[k]);
      });
      pending = absent;
      if (pending.length === 0) return results as RecordResult[];
      if (lastError && attempts >= ctx.retryAttempts) {
        // Asked after the last attempt: what is absent now did not arrive, and fails as it is.
        const e = new MarketoError({
          ...lastError.toJSON(),
          message: `${lastError.message} (after ${attempts} attempts)`,
        });
        return settleRest(() => ({
          ok: false,
          status: "failed",
          error: e,
          ...(e.requestId ? { requestId: e.requestId } : {}),
        }));
      }
      ctx.arrivals.add("resent", pending.length);
    }
    if (lastError) {
      try {
        await ctx.timers.sleep(backoffDelay(attempts, ctx.retryBaseDelayMs, ctx.retryMaxDelayMs));
      } catch {
        // The client closed while waiting: the records are absent (just checked) and may go again.
        return settleRest(() => ({ ok: false, status: "failed", error: closedWhileWaiting(op.operation) }));
      }
    }
    const sending = pending.map((i) => items[i]);
    const sentAt = Date.now();
    try {
      const answer = await ctx.transport.call(op.spec(sending));
      const mapped = op.map(sending, answer);
      return settleRest((i) => mapped[pending.indexOf(i)]);
    } catch (err) {
      const e = asError(err, op.operation);
      if (e.code === "413" && sending.length > 1) {
        const half = Math.ceil(sending.length / 2);
        const [a, b] = await Promise.all([
          deliverOnce(ctx, op, q, sending.slice(0, half)),
          deliverOnce(ctx, op, q, sending.slice(half)),
        ]);
        const both = [...a, ...b];
        return settleRest((i) => both[pending.indexOf(i)]);
      }
      if (!mayHaveArrived(e)) {
        const failed = failAll(sending.length, e);
        return settleRest((i) => failed[pending.indexOf(i)]);
      }
      attempts++;
      lastError = e;
      since = Math.min(since ?? sentAt, sentAt);
    }
  }
}

function closedWhileWaiting(operation: string): MarketoError {
  return new MarketoError({
    code: "CLIENT_CLOSED",
    message: "The Marketo client was closed before the record could be sent again",
    category: "network",
    action: "retry",
    retryable: true,
    operation,
  });
}

/**
 * The batched form: the records are sealed when the limiter runs the first call. A first call
 * that may have arrived goes on in deliverOnce, which asks before sending again.
 */
export async function sendSealedOnce<T>(
  ctx: OnceContext,
  op: RecordOp<T>,
  q: ArrivalQuestion<T>,
  seal: BatchSeal<T>,
  unconfirmedSince?: (items: T[]) => number | undefined,
): Promise<{ items: T[]; results: RecordResult[] }> {
  if (unconfirmedSince) {
    // Records that may already be in Marketo: asked about first, once for the whole batch.
    const items = seal();
    if (!items.length) return { items, results: [] };
    return { items, results: await deliverOnce(ctx, op, q, items, { since: unconfirmedSince(items) }) };
  }
  const batch = new SealedBatch(seal);
  let sentAt = 0;
  try {
    const answer = await ctx.transport.callPrepared(() => {
      const items = batch.items();
      sentAt = Date.now();
      return items.length ? op.spec(items) : undefined;
    });
    const items = batch.sent;
    if (!answer) return { items, results: [] };
    return { items, results: op.map(items, answer) };
  } catch (err) {
    // Sealed before the failure: the call may have reached Marketo. Not sealed: it never left.
    const sealed = batch.sealed;
    const items = batch.items();
    const e = asError(err, op.operation);
    if (sealed && mayHaveArrived(e))
      return { items, results: await deliverOnce(ctx, op, q, items, { since: sentAt, attempts: 1, lastError: e }) };
    if (e.code === "413" && items.length > 1) return { items, results: await deliverOnce(ctx, op, q, items) };
    return { items, results: failAll(items.length, e) };
  }
}

// ---- the three writes ----

/** Marketo keeps activity dates to the second. */
function second(v: unknown): number | undefined {
  const ms = typeof v === "string" ? Date.parse(v) : typeof v === "number" ? v : NaN;
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/** A value as Marketo may echo it back: numbers and dates compared by value, the rest as text. */
function norm(v: unknown): string {
  if (typeof v === "number" || (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))))
    return `n:${Number(v)}`;
  if (typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v) && Number.isFinite(Date.parse(v)))
    return `t:${Math.floor(Date.parse(v) / 1000)}`;
  if (typeof v === "boolean") return `s:${v}`;
  return `s:${String(v)}`;
}

export interface ActivityInput {
  leadId: number;
  activityTypeId: number;
  activityDate?: string;
  primaryAttributeValue?: unknown;
  attributes?: Array<{ name?: string; apiName?: string; value?: unknown }>;
}

/**
 * Custom activities: matched on lead, type, primary attribute, activity date and attribute values.
 * `sameRecordBy: "identity"` leaves the attribute values out: a replayed activity is the one its
 * event's first run sent, even when a mapping changed its values since.
 */
export function activityQuestion<T extends ActivityInput>(
  o: { sameRecordBy?: "values" | "identity" } = {},
): ArrivalQuestion<T> {
  return {
    leadIds: async (items) => items.map((a) => a.leadId),
    typeIds: (items) => items.map((a) => a.activityTypeId),
    from: (items, since) => {
      let earliest = since;
      for (const a of items) {
        const s = second(a.activityDate);
        if (s !== undefined) earliest = Math.min(earliest, s * 1000);
      }
      // An activity sent without a date is dated by Marketo's clock.
      return items.some((a) => second(a.activityDate) === undefined) ? earliest - SERVER_CLOCK_MARGIN_MS : earliest;
    },
    matches: (a, _leadId, f) => {
      if (f.activityTypeId !== a.activityTypeId) return false;
      if (String(a.primaryAttributeValue ?? "") !== String(f.primaryAttributeValue ?? "")) return false;
      const sent = second(a.activityDate);
      if (sent !== undefined && second(f.activityDate) !== sent) return false;
      if (o.sameRecordBy === "identity") return true;
      // Marketo answers attributes by display name, sent by API name: the values decide, each
      // sent value found once among those answered (Marketo may list unset ones as null).
      const answered = f.attributes.filter((x) => x.value !== null && x.value !== undefined).map((x) => norm(x.value));
      for (const attr of a.attributes ?? []) {
        if (attr.value === null || attr.value === undefined || attr.value === "") continue;
        const k = answered.indexOf(norm(attr.value));
        if (k < 0) return false;
        answered.splice(k, 1);
      }
      return true;
    },
    found: (a) => ({ ok: true, status: "added", id: a.leadId, arrived: true }),
  };
}

/** Campaign requests: the lead's "Request Campaign" activity for that campaign. */
export function campaignQuestion(campaignId: number): ArrivalQuestion<number> {
  return {
    leadIds: async (items) => items,
    typeIds: () => [ACTIVITY_REQUEST_CAMPAIGN],
    from: (_items, since) => since - SERVER_CLOCK_MARGIN_MS,
    matches: (_id, _leadId, f) =>
      f.activityTypeId === ACTIVITY_REQUEST_CAMPAIGN && f.primaryAttributeValueId === campaignId,
    found: (id) => ({ ok: true, status: "triggered", id, arrived: true }),
  };
}

/**
 * Form fills: the lead's "Fill Out Form" activity for that form. The lead is found by the fill's
 * e-mail address (the fill itself may have created it): no lead, no fill.
 */
export function formQuestion(formId: number): ArrivalQuestion<Record<string, unknown>> {
  return {
    leadIds: async (items, ctx) =>
      Promise.all(
        items.map((f) =>
          typeof f.email === "string" && f.email.trim()
            ? leadIdByEmail(ctx, f.email.trim())
            : Promise.resolve(undefined),
        ),
      ),
    typeIds: () => [ACTIVITY_FILL_OUT_FORM],
    from: (_items, since) => since - SERVER_CLOCK_MARGIN_MS,
    matches: (_f, _leadId, a) => a.activityTypeId === ACTIVITY_FILL_OUT_FORM && a.primaryAttributeValueId === formId,
    found: (_f, leadId) => ({ ok: true, status: "updated", id: leadId, arrived: true }),
  };
}

/** The lead a form fill with this address went to: Marketo allows several, a fill updates the most recently updated. */
async function leadIdByEmail(ctx: OpContext, email: string): Promise<number | undefined> {
  const leads = await getLeadsByFilter(ctx, "email", [email], ["id", "email", "updatedAt"]);
  let best: Record<string, unknown> | undefined;
  for (const l of leads) if (!best || String(l.updatedAt ?? "") > String(best.updatedAt ?? "")) best = l;
  return best ? n(best.id) : undefined;
}
