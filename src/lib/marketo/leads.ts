import type { OpContext } from "./context";
import { SealedBatch, type BatchSeal } from "./batch-seal";
import { MARKETO_MAX_RECORDS } from "./context";
import { MarketoError } from "./errors";
import { numberOr, postRecordsOp, type RecordOp } from "./results";
import type { Answer, CallSpec } from "./transport";
import type { LeadRecord, SyncLeadOptions } from "./types";

/** Sync Leads: POST /rest/v1/leads.json (server timeout 90 s). */
export function syncLeadsOp(ctx: OpContext, opts: SyncLeadOptions = {}): RecordOp<LeadRecord> {
  return postRecordsOp<LeadRecord>(ctx, "syncLeads", {
    path: "/rest/v1/leads.json",
    body: (input) => ({
      action: opts.action ?? "createOrUpdate",
      lookupField: opts.lookupField ?? "email",
      ...(opts.partitionName ? { partitionName: opts.partitionName } : {}),
      input,
    }),
    serverTimeoutS: 90,
    idOf: (e) => numberOr(e?.id),
  });
}

/** The batcher's dedupe key for a lead: its lookup value, case-insensitive like Marketo's email match. */
export function leadKey(record: LeadRecord, lookupField = "email"): string | undefined {
  const v = record[lookupField];
  if (v === undefined || v === null || v === "") return undefined;
  return String(v).trim().toLowerCase();
}

function filterSpec(
  ctx: OpContext,
  filterType: string,
  values: Array<string | number>,
  fields: string[] | undefined,
  nextPageToken?: string,
): CallSpec {
  return {
    operation: "getLeadsByFilter",
    method: "GET",
    path: "/rest/v1/leads.json",
    query: {
      filterType,
      filterValues: values,
      fields: fields?.length ? fields : undefined,
      batchSize: MARKETO_MAX_RECORDS,
      nextPageToken,
    },
    records: values.length,
    timeoutMs: ctx.timeoutMs(60),
  };
}

function more(answer: Answer): string | undefined {
  const env = answer.envelope;
  const got = Array.isArray(env.result) ? env.result.length : 0;
  if (!env.nextPageToken || got === 0 || env.moreResult === false) return undefined;
  return env.nextPageToken;
}

const MAX_PAGES = 1000;

/** Follows nextPageToken from a first answer. */
async function allPages(ctx: OpContext, first: Answer, next: (token: string) => CallSpec): Promise<LeadRecord[]> {
  const out: LeadRecord[] = [...((first.envelope.result ?? []) as LeadRecord[])];
  let token = more(first);
  for (let page = 1; token && page < MAX_PAGES; page++) {
    const answer = await ctx.transport.call(next(token));
    out.push(...((answer.envelope.result ?? []) as LeadRecord[]));
    token = more(answer);
  }
  return out;
}

/** Get Leads by Filter Type; > 300 values become several calls. Throws MarketoError. */
export async function getLeadsByFilter(
  ctx: OpContext,
  filterType: string,
  values: Array<string | number>,
  fields?: string[],
): Promise<LeadRecord[]> {
  const out: LeadRecord[] = [];
  for (let i = 0; i < values.length; i += MARKETO_MAX_RECORDS) {
    const chunk = values.slice(i, i + MARKETO_MAX_RECORDS);
    const first = await ctx.transport.call(filterSpec(ctx, filterType, chunk, fields));
    out.push(...(await allPages(ctx, first, (t) => filterSpec(ctx, filterType, chunk, fields, t))));
  }
  return out;
}

/** One lead an email lookup found: enough to choose among duplicates. */
export interface LeadMatch {
  id: number;
  updatedAt?: string;
  createdAt?: string;
  /** The extra fields the lookup asked for, as Marketo has them (absent: null). */
  fields?: Record<string, unknown>;
}

/**
 * Batched email → leads lookups. Several leads can share an email (Marketo allows duplicates):
 * each email gets every lead that has it, newest updated first (ties: highest id first) — the
 * lead a person most likely touched last, and the one Marketo's own UI lists first.
 */
export async function findLeadMatches(
  ctx: OpContext,
  seal: BatchSeal<string>,
  extraFields: readonly string[] = [],
): Promise<{ items: string[]; results: LeadMatch[][] } | { items: string[]; error: unknown }> {
  const batch = new SealedBatch(seal);
  let values: string[] = [];
  const fields = [...new Set(["id", "email", "updatedAt", "createdAt", ...extraFields])];
  let leads: LeadRecord[];
  let items: string[] = [];
  try {
    const first = await ctx.transport.callPrepared(() => {
      items = batch.items();
      values = [...new Set(items.map((e) => e.trim().toLowerCase()))];
      return values.length ? filterSpec(ctx, "email", values, fields) : undefined;
    });
    if (!first) return { items, results: [] };
    leads = await allPages(ctx, first, (t) => filterSpec(ctx, "email", values, fields, t));
  } catch (error) {
    // Failed before sealing: these lookups share the failure.
    return { items: batch.items(), error };
  }
  const byEmail = new Map<string, LeadMatch[]>();
  for (const lead of leads) {
    const email = typeof lead.email === "string" ? lead.email.trim().toLowerCase() : undefined;
    const id = numberOr(lead.id);
    if (!email || id === undefined) continue;
    const list = byEmail.get(email) ?? [];
    const extra = extraFields.length
      ? { fields: Object.fromEntries(extraFields.map((f) => [f, lead[f] ?? null])) }
      : {};
    list.push({
      id,
      ...(lead.updatedAt ? { updatedAt: String(lead.updatedAt) } : {}),
      ...(lead.createdAt ? { createdAt: String(lead.createdAt) } : {}),
      ...extra,
    });
    byEmail.set(email, list);
  }
  for (const list of byEmail.values()) list.sort((a, b) => (newer(a, b) ? -1 : newer(b, a) ? 1 : 0));
  return { items, results: items.map((e) => byEmail.get(e.trim().toLowerCase()) ?? []) };
}

function newer(a: LeadMatch, b: LeadMatch): boolean {
  const ta = Date.parse(a.updatedAt ?? "") || 0;
  const tb = Date.parse(b.updatedAt ?? "") || 0;
  if (ta !== tb) return ta > tb;
  return a.id > b.id;
}

/** Describe the lead object: "describe2" (current, one object with fields) or legacy "describe". */
export async function describeLeads(
  ctx: OpContext,
  version: "describe2" | "describe" = "describe2",
): Promise<Record<string, unknown>[]> {
  const answer = await ctx.transport.call({
    operation: "describeLeads",
    method: "GET",
    path: `/rest/v1/leads/${version}.json`,
    timeoutMs: ctx.timeoutMs(30),
  });
  const result = answer.envelope.result;
  if (!Array.isArray(result)) {
    throw new MarketoError({
      code: "INVALID_RESPONSE",
      message: "Marketo's describe answer has no result",
      category: "marketo",
      action: "permanent",
      retryable: false,
      operation: "describeLeads",
    });
  }
  return result;
}
