/**
 * marketo-lead's sync mode: Create/Update lead (Sync Leads, or the bulk import when the backlog is
 * large), then the campaign request for that lead when the node asks for one.
 */
import type { MarketoClient } from "../marketo";
import { invalidRecord, type Outcome } from "./action-outcome";
import { bulkAnswer } from "./bulk-switch";
import { isDuplicateSkip, syncDuplicates } from "./lead-duplicates";
import { suppressedByReplay, syncRecordProblem } from "./lead-action";
import { BulkCollector, overThreshold } from "./lead-bulk";
import { resolveLeadId } from "./lead-lookup";
import { ownFields } from "./lead-field-updates";
import { campaignOf, invalid, type LeadMode, type Msg } from "./lead-mode";
import type { LeadContext, LeadHandlerOptions } from "./lead-handler";
import { isReplayed, writeOnceOptions } from "../delivery/delivery-once";

/** The bulk switch, when the node's settings let records take it. */
export function bulkCollectorFor(o: LeadHandlerOptions): BulkCollector<MarketoClient> | undefined {
  const { settings } = o;
  // Bulk import is Marketo's createOrUpdate; with lookupField id it would be updateOnly.
  const bulkAllowed =
    settings.action === "sync" &&
    settings.syncAction === "createOrUpdate" &&
    settings.lookupField !== "id" &&
    settings.bulkThreshold > 0;
  return bulkAllowed
    ? new BulkCollector<MarketoClient>({
        run: (rows, client) =>
          client.bulkImportLeads(rows, {
            lookupField: settings.lookupField,
            ...(settings.partitionName ? { partitionName: settings.partitionName } : {}),
          }),
        onChange: () => o.refreshStatus(),
      })
    : undefined;
}

type Campaign = Extract<Awaited<ReturnType<typeof campaignOf>>, { ok: true }>;
/** The lead written: its outcome, and the id a campaign request goes to. */
type Synced = { synced: Outcome; leadId: number | undefined };

/**
 * Create/Update lead, then the campaign request for that lead: the record is done when both
 * are. The campaign is checked before anything is sent, so a record with none sends nothing.
 */
export async function syncLeadRecord(mode: LeadMode, record: unknown, msg: Msg, ctx: LeadContext): Promise<Outcome> {
  const { settings } = mode;
  const problem = syncRecordProblem(record, settings.lookupField, settings.syncAction);
  if (problem) return invalid(mode, problem);
  // A replay updates the lead but requests no campaign, as Trigger campaign mode does.
  const campaign = settings.campaignAfterSync && !suppressedByReplay(msg) ? await campaignOf(mode, msg) : undefined;
  if (campaign && !campaign.ok) return campaign.outcome;
  const owned = await ownFields(mode, record as Record<string, unknown>, msg, ctx.client);
  if (!owned.ok) return owned.outcome;
  const keptInfo = owned.kept.length ? { fieldsKept: owned.kept } : {};
  const withKept = (o: Outcome): Outcome => (owned.kept.length ? { ...o, marketo: { ...o.marketo, ...keptInfo } } : o);
  const { synced, leadId } =
    mode.bulk && overThreshold(settings.bulkThreshold, mode.node.backlog())
      ? await viaBulkImport(mode, mode.bulk, owned.lead, ctx, campaign, withKept)
      : await viaSyncLeads(mode, owned.lead, msg, ctx, withKept);
  if (!campaign || !synced.result.ok) return synced;
  return campaignAfterSync(campaign, synced, leadId, msg, ctx.client);
}

/** The lead into the bulk import; a campaign's lead is then looked up, as the import names none. */
async function viaBulkImport(
  mode: LeadMode,
  bulk: BulkCollector<MarketoClient>,
  lead: Record<string, unknown>,
  { client, config }: LeadContext,
  campaign: Campaign | undefined,
  withKept: (o: Outcome) => Outcome,
): Promise<Synced> {
  const synced = withKept(bulkAnswer(await bulk.submit(lead, client)));
  if (!campaign || !synced.result.ok) return { synced, leadId: undefined };
  // Bulk import names no lead id: the campaign's lead is looked up by email, as a trigger's is.
  const found = await resolveLeadId(client, config.leadIds, {
    email: lead.email,
    operation: "triggerCampaign",
    duplicates: mode.settings.duplicates,
  });
  if (!found.ok)
    return {
      synced: {
        result: found.result,
        marketo: {
          ...synced.marketo,
          campaignId: campaign.campaignId,
          ...(found.duplicates ? { duplicates: found.duplicates } : {}),
        },
      },
      leadId: undefined,
    };
  return { synced, leadId: found.leadId };
}

/** The lead through Sync Leads; several leads with the email go to the node's duplicate policy. */
async function viaSyncLeads(
  mode: LeadMode,
  lead: Record<string, unknown>,
  msg: Msg,
  { client, config }: LeadContext,
  withKept: (o: Outcome) => Outcome,
): Promise<Synced> {
  const { settings } = mode;
  // A replayed message (tag-filter's msg.replay) waits behind live ones for Marketo's capacity.
  const background = isReplayed(msg);
  const r = await client.syncLead(lead, {
    ...(background ? { background: true } : {}),
    action: settings.syncAction,
    lookupField: settings.lookupField,
    ...(settings.partitionName ? { partitionName: settings.partitionName } : {}),
  });
  if (r.ok && r.id !== undefined) config.leadIds.set(settings.lookupField, lead[settings.lookupField], r.id);
  if (!isDuplicateSkip(r, settings.lookupField, settings.syncAction))
    return { synced: withKept({ result: r }), leadId: r.id };
  // Several leads have the email: the node's duplicate policy decides, as on the lookup nodes.
  mode.node.duplicateLeads();
  const d = await syncDuplicates(client, config.leadIds, lead, r, { policy: settings.duplicates, background });
  return {
    synced: withKept({ result: d.result, marketo: d.marketo }),
    leadId: d.result.ok ? (d.marketo.leadId as number | undefined) : undefined,
  };
}

/** The campaign request for the lead just written. */
async function campaignAfterSync(
  campaign: Campaign,
  synced: Outcome,
  leadId: number | undefined,
  msg: Msg,
  client: MarketoClient,
): Promise<Outcome> {
  if (leadId === undefined)
    return {
      result: invalidRecord("Marketo named no lead for the record, so no campaign was requested", "triggerCampaign"),
      marketo: { ...synced.marketo, campaignId: campaign.campaignId },
    };
  const t = await client.triggerCampaignFor(
    campaign.campaignId,
    leadId,
    campaign.tokens.length ? campaign.tokens : undefined,
    writeOnceOptions(msg),
  );
  const marketo = {
    ...synced.marketo,
    leadId,
    campaignId: campaign.campaignId,
    campaign: { status: t.ok ? t.status : "failed", ...(t.requestId ? { requestId: t.requestId } : {}) },
  };
  // The sync's status (created/updated) says what happened to the lead; a failed request fails the record.
  return t.ok ? { result: synced.result, marketo } : { result: t, marketo };
}
