/** marketo-lead's trigger mode: a campaign request for a lead found by id or email. */
import type { Outcome } from "./action-outcome";
import { describeValue, isPlainRecord } from "./lead-action";
import { forEachLead, resolveLeadId } from "./lead-lookup";
import { campaignOf, invalid, type LeadMode, type Msg } from "./lead-mode";
import type { LeadContext } from "./lead-handler";
import { writeOnceOptions } from "../delivery/delivery-once";

export async function triggerCampaign(
  mode: LeadMode,
  record: unknown,
  msg: Msg,
  { client, config }: LeadContext,
): Promise<Outcome> {
  const { settings } = mode;
  const m = msg as Msg & { marketo?: { leadId?: unknown } };
  const campaign = await campaignOf(mode, msg);
  if (!campaign.ok) return campaign.outcome;
  const campaignId = campaign.campaignId;
  const withCampaign = (o: Outcome, leadId?: number): Outcome => ({
    ...o,
    marketo: { ...o.marketo, campaignId, ...(leadId !== undefined ? { leadId } : {}) },
  });
  // msg.marketo.leadId names the lead of a one-record message; in an array it would name none.
  const givenLeadId = Array.isArray(msg.payload) ? undefined : m.marketo?.leadId;
  if (givenLeadId === undefined && !isPlainRecord(record)) {
    return withCampaign(
      invalid(
        mode,
        `msg.payload must be a lead record with an email (or set msg.marketo.leadId), got ${describeValue(record)}`,
      ),
    );
  }
  const tokens = { value: campaign.tokens };
  const lead = await resolveLeadId(client, config.leadIds, {
    leadId: givenLeadId,
    email: isPlainRecord(record) ? record.email : undefined,
    createMissing: settings.createMissing,
    operation: mode.operation,
    duplicates: settings.duplicates,
  });
  const dup = lead.duplicates ? { marketo: { duplicates: lead.duplicates } } : {};
  if (lead.duplicates) mode.node.duplicateLeads();
  if (!lead.ok) return withCampaign({ result: lead.result, ...dup });
  const once = writeOnceOptions(msg);
  const r = await forEachLead(lead.leadIds, (leadId) =>
    client.triggerCampaignFor(campaignId, leadId, tokens.value.length ? tokens.value : undefined, once),
  );
  return withCampaign(
    { result: r, marketo: { ...dup.marketo, ...(lead.leadIds.length > 1 ? { leadIds: lead.leadIds } : {}) } },
    lead.leadId,
  );
}
