/**
 * The Marketo lead id a record is about, for the nodes after marketo-lead: the id on the
 * message, else one marketo-lead learned, else a (batched) lookup by email, else — when the
 * node is set to — a new lead made from the email.
 */
import { invalidRecord } from "./action-outcome";
import type { MarketoClient, RecordResult } from "./marketo";
import type { LeadIdCache } from "./lead-ids";

export type LeadResolution = { ok: true; leadId: number; source: "message" | "cache" | "lookup" | "created" } | { ok: false; result: RecordResult };

export interface ResolveLeadOptions {
  /** `msg.marketo.leadId` (or wherever the node reads it). */
  leadId?: unknown;
  email?: unknown;
  /** Create the lead (createOrUpdate by email) when no lead has the email. */
  createMissing?: boolean;
  /** Named in errors. */
  operation: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function toLeadId(v: unknown): number | undefined {
  const n = typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : undefined;
}

export async function resolveLeadId(client: MarketoClient, cache: LeadIdCache, o: ResolveLeadOptions): Promise<LeadResolution> {
  const given = toLeadId(o.leadId);
  if (given !== undefined) return { ok: true, leadId: given, source: "message" };
  if (o.leadId !== undefined && o.leadId !== null && o.leadId !== "") {
    return { ok: false, result: invalidRecord(`the lead id ${JSON.stringify(o.leadId)} is not a positive whole number`, o.operation) };
  }
  const email = typeof o.email === "string" ? o.email.trim() : "";
  if (!email) return { ok: false, result: invalidRecord("no lead: msg.marketo.leadId is not set and the record has no email to look the lead up by", o.operation) };
  if (!EMAIL.test(email)) return { ok: false, result: invalidRecord(`no lead: ${JSON.stringify(email.slice(0, 100))} is not an email address`, o.operation) };
  const cached = cache.get("email", email);
  if (cached !== undefined) return { ok: true, leadId: cached, source: "cache" };
  // findLeadId rejects with a MarketoError when the lookup call itself failed; the caller's
  // handler lets that reject, and the record fails with the lookup's category.
  const found = await client.findLeadId(email);
  if (found !== undefined) {
    cache.set("email", email, found);
    return { ok: true, leadId: found, source: "lookup" };
  }
  if (!o.createMissing) {
    return { ok: false, result: invalidRecord(`no lead has the email ${email} (enable "create missing leads" or put marketo-lead before this node)`, o.operation) };
  }
  const created = await client.syncLead({ email }, { action: "createOrUpdate", lookupField: "email" });
  if (!created.ok || created.id === undefined) return { ok: false, result: created.ok ? invalidRecord(`Marketo named no lead for ${email}`, o.operation) : created };
  cache.set("email", email, created.id);
  return { ok: true, leadId: created.id, source: "created" };
}
