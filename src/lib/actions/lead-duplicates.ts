/**
 * marketo-lead's duplicate policy for Create/Update lead. Sync Leads by email cannot choose among
 * several leads with that email: Marketo skips the record with 1007. With a policy other than
 * "fail", the node then looks the email up (one Get Leads call, batched with other lookups) and
 * updates the lead(s) the policy picks by id, as the lookup nodes act on them.
 */
import type { MarketoClient, RecordResult, SyncAction } from "../marketo";
import type { LeadIdCache } from "./lead-ids";
import { forEachLead, resolveLeadId, type DuplicatePolicy } from "./lead-lookup";

/** Whether a Sync Leads answer is Marketo's "several leads match" that a policy may settle. */
export function isDuplicateSkip(r: RecordResult, lookupField: string, action: SyncAction): boolean {
  const code = r.error?.code ?? r.reasons?.[0]?.code;
  return (
    !r.ok && code === "1007" && lookupField === "email" && (action === "createOrUpdate" || action === "updateOnly")
  );
}

export interface DuplicateSync {
  result: RecordResult;
  /** What msg.marketo says: the policy and every match, and the lead(s) updated. */
  marketo: Record<string, unknown>;
}

/**
 * Settles a 1007 by the node's policy: "fail" keeps Marketo's answer; "newest" / "oldest"
 * update the one lead picked; "all" updates each (the record is done when every one is).
 */
export async function syncDuplicates(
  client: MarketoClient,
  cache: LeadIdCache,
  lead: Record<string, unknown>,
  skipped: RecordResult,
  o: { policy: DuplicatePolicy; background?: boolean },
): Promise<DuplicateSync> {
  if (o.policy === "fail") return { result: skipped, marketo: { duplicates: { policy: "fail" } } };
  const found = await resolveLeadId(client, cache, {
    email: lead.email,
    operation: "syncLeads",
    duplicates: o.policy,
  });
  if (!found.ok) return { result: found.result, marketo: found.duplicates ? { duplicates: found.duplicates } : {} };
  const result = await forEachLead(found.leadIds, (id) =>
    client.syncLead(
      { ...lead, id },
      { action: "updateOnly", lookupField: "id", ...(o.background ? { background: true } : {}) },
    ),
  );
  return {
    result,
    marketo: {
      leadId: found.leadId,
      ...(found.leadIds.length > 1 ? { leadIds: found.leadIds } : {}),
      ...(found.duplicates ? { duplicates: found.duplicates } : {}),
    },
  };
}
