/**
 * The Marketo lead id a record is about, for the nodes after marketo-lead: the id on the
 * message, else one marketo-lead learned, else a (batched) lookup by email, else — when the
 * node is set to — a new lead made from the email. When several leads share the email, the
 * node's duplicate policy decides which (or whether any) the record is about.
 */
import { invalidRecord } from "./action-outcome";
import { marketoError, type LeadMatch, type MarketoClient, type RecordResult } from "../marketo";
import type { LeadIdCache } from "./lead-ids";

/**
 * Several leads with the lookup's email: "fail" the record as Marketo's Sync Leads does (1007),
 * take the "newest" updated, the "oldest" created, or act on "all" of them.
 */
export const DUPLICATE_POLICIES = ["fail", "newest", "oldest", "all"] as const;
export type DuplicatePolicy = (typeof DUPLICATE_POLICIES)[number];
/** The policy of nodes saved before there was a setting: the newest updated lead, as they did. */
export const DEFAULT_DUPLICATE_POLICY: DuplicatePolicy = "newest";

/** How a lookup met duplicates; travels in msg.marketo.duplicates. */
export interface DuplicateInfo {
  policy: DuplicatePolicy;
  /** Every lead that has the email, newest updated first. */
  leadIds: number[];
}

export type LeadResolution =
  | {
      ok: true;
      /** The lead the record is about (with "all", the first of leadIds). */
      leadId: number;
      /** Every lead to act on: one, or with policy "all" each duplicate. */
      leadIds: number[];
      source: "message" | "cache" | "lookup" | "created";
      duplicates?: DuplicateInfo;
    }
  | { ok: false; result: RecordResult; duplicates?: DuplicateInfo };

export interface ResolveLeadOptions {
  /** `msg.marketo.leadId` (or wherever the node reads it). */
  leadId?: unknown;
  email?: unknown;
  /** Create the lead (createOrUpdate by email) when no lead has the email. */
  createMissing?: boolean;
  /** Named in errors. */
  operation: string;
  /** Several leads with the email: see DuplicatePolicy. Default DEFAULT_DUPLICATE_POLICY. */
  duplicates?: DuplicatePolicy;
}

/** The lead a duplicate policy picks from matches sorted newest updated first. */
function pick(matches: LeadMatch[], policy: DuplicatePolicy): number {
  if (policy !== "oldest") return matches[0].id;
  let best = matches[0];
  for (const m of matches) {
    const tm = Date.parse(m.createdAt ?? "") || Number.POSITIVE_INFINITY;
    const tb = Date.parse(best.createdAt ?? "") || Number.POSITIVE_INFINITY;
    if (tm < tb || (tm === tb && m.id < best.id)) best = m;
  }
  return best.id;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function toLeadId(v: unknown): number | undefined {
  const n = typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : undefined;
}

export async function resolveLeadId(
  client: MarketoClient,
  cache: LeadIdCache,
  o: ResolveLeadOptions,
): Promise<LeadResolution> {
  const given = toLeadId(o.leadId);
  if (given !== undefined) return { ok: true, leadId: given, leadIds: [given], source: "message" };
  if (o.leadId !== undefined && o.leadId !== null && o.leadId !== "") {
    return {
      ok: false,
      result: invalidRecord(`the lead id ${JSON.stringify(o.leadId)} is not a positive whole number`, o.operation),
    };
  }
  const email = typeof o.email === "string" ? o.email.trim() : "";
  if (!email)
    return {
      ok: false,
      result: invalidRecord(
        "no lead: msg.marketo.leadId is not set and the record has no email to look the lead up by",
        o.operation,
      ),
    };
  if (!EMAIL.test(email))
    return {
      ok: false,
      result: invalidRecord(`no lead: ${JSON.stringify(email.slice(0, 100))} is not an email address`, o.operation),
    };
  // Only an email with exactly one lead is ever cached, so a cached id is never a duplicate's pick.
  const cached = cache.get("email", email);
  if (cached !== undefined) return { ok: true, leadId: cached, leadIds: [cached], source: "cache" };
  // findLeads rejects with a MarketoError when the lookup call itself failed; the caller's
  // handler lets that reject, and the record fails with the lookup's category.
  const matches = await client.findLeads(email);
  if (matches.length === 1) {
    cache.set("email", email, matches[0].id);
    return { ok: true, leadId: matches[0].id, leadIds: [matches[0].id], source: "lookup" };
  }
  if (matches.length > 1) {
    const policy = o.duplicates ?? DEFAULT_DUPLICATE_POLICY;
    const duplicates: DuplicateInfo = { policy, leadIds: matches.map((m) => m.id) };
    if (policy === "fail") {
      const error = marketoError(
        "1007",
        `Multiple leads match the lookup criteria: ${matches.length} leads have the email ${email} (ids ${duplicates.leadIds.join(", ")}); the node's duplicate policy is "fail"`,
        {
          operation: o.operation,
        },
      );
      return { ok: false, result: { ok: false, status: "skipped", error }, duplicates };
    }
    if (policy === "all")
      return { ok: true, leadId: matches[0].id, leadIds: duplicates.leadIds, source: "lookup", duplicates };
    const leadId = pick(matches, policy);
    return { ok: true, leadId, leadIds: [leadId], source: "lookup", duplicates };
  }
  if (!o.createMissing) {
    return {
      ok: false,
      result: invalidRecord(
        `no lead has the email ${email} (enable "create missing leads" or put marketo-lead before this node)`,
        o.operation,
      ),
    };
  }
  const created = await client.syncLead({ email }, { action: "createOrUpdate", lookupField: "email" });
  if (!created.ok || created.id === undefined)
    return {
      ok: false,
      result: created.ok ? invalidRecord(`Marketo named no lead for ${email}`, o.operation) : created,
    };
  cache.set("email", email, created.id);
  return { ok: true, leadId: created.id, leadIds: [created.id], source: "created" };
}

/**
 * Runs one action per lead of a resolution (one, or each duplicate with policy "all") in turn
 * and answers with the first failure, else the first lead's result: a record is done only when
 * every lead it is about is.
 */
export async function forEachLead(
  leadIds: number[],
  act: (leadId: number) => Promise<RecordResult>,
): Promise<RecordResult> {
  let first: RecordResult | undefined;
  for (const id of leadIds) {
    const r = await act(id);
    if (!r.ok) return r;
    first ??= r;
  }
  return first!;
}

/** The duplicate policy from a node's setting; undefined when the setting is not one. */
export function duplicatePolicy(v: unknown): DuplicatePolicy | undefined {
  if (v === undefined || v === null || v === "") return DEFAULT_DUPLICATE_POLICY;
  return typeof v === "string" && (DUPLICATE_POLICIES as readonly string[]).includes(v)
    ? (v as DuplicatePolicy)
    : undefined;
}
