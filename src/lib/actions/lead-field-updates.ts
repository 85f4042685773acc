/**
 * Field ownership for marketo-lead's sync: the fields whose owner is not this flow (field-mapper's
 * "only if blank" / "never overwrite" rows, in msg.marketo.fieldUpdates) are left out of the record
 * when Marketo's lead keeps them.
 */
import type { MarketoClient } from "../marketo";
import type { Outcome } from "./action-outcome";
import { describeValue, isPlainRecord } from "./lead-action";
import { invalid, type LeadMode, type Msg } from "./lead-mode";

/**
 * Marketo's values for the fields not overwritten are read in the lookup batch (300 emails a
 * call, only for records that carry such rows) and the fields the policy keeps are left out of
 * the record. A lead that does not exist yet gets every field.
 */
export async function ownFields(
  mode: LeadMode,
  lead: Record<string, unknown>,
  msg: Msg,
  client: MarketoClient,
): Promise<{ ok: true; lead: Record<string, unknown>; kept: string[] } | { ok: false; outcome: Outcome }> {
  const { settings } = mode;
  const mk = (msg as { marketo?: unknown }).marketo;
  const updates = isPlainRecord(mk) ? mk.fieldUpdates : undefined;
  if (updates === undefined || updates === null) return { ok: true, lead, kept: [] };
  if (!isPlainRecord(updates))
    return {
      ok: false,
      outcome: invalid(
        mode,
        `msg.marketo.fieldUpdates must be an object of field: "ifBlank" | "never", not ${describeValue(updates)}`,
      ),
    };
  const fields: string[] = [];
  for (const [f, p] of Object.entries(updates)) {
    if (p !== "ifBlank" && p !== "never" && p !== "overwrite")
      return {
        ok: false,
        outcome: invalid(
          mode,
          `msg.marketo.fieldUpdates.${f} must be "overwrite", "ifBlank" or "never", not ${describeValue(p)}`,
        ),
      };
    if (p !== "overwrite" && Object.prototype.hasOwnProperty.call(lead, f)) fields.push(f);
  }
  // Nothing to keep, or no existing lead is ever written: no lookup.
  if (fields.length === 0 || settings.syncAction === "createOnly" || settings.syncAction === "createDuplicate")
    return { ok: true, lead, kept: [] };
  if (settings.lookupField !== "email")
    return {
      ok: false,
      outcome: invalid(
        mode,
        `fields that are not overwritten (${fields.join(", ")}) need the lookup field email, not ${settings.lookupField}`,
      ),
    };
  const matches = await client.findLeads(String(lead.email), fields);
  if (matches.length === 0) return { ok: true, lead, kept: [] };
  const existing = matches[0].fields ?? {};
  const kept = fields.filter((f) => updates[f] === "never" || !isBlank(existing[f]));
  if (kept.length === 0) return { ok: true, lead, kept };
  const out = { ...lead };
  for (const f of kept) delete out[f];
  return { ok: true, lead: out, kept };
}

function isBlank(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === "string" && v.trim() === "");
}
