/**
 * What every mode of marketo-lead (sync, trigger campaign, form fill) shares: the node's settings
 * and property readers, how a record fails validation, and the campaign a record asks for.
 */
import { errorText } from "../node-kit/guards";
import type { CampaignToken, MarketoClient } from "../marketo";
import { invalidRecord, type Outcome } from "./action-outcome";
import { normaliseTokens, pickId, type LeadSettings } from "./lead-action";
import type { BulkCollector } from "./lead-bulk";
import type { LeadHandlerOptions, LeadLabels, LeadReaders, Reader } from "./lead-handler";

export type Msg = { payload?: unknown; marketo?: unknown } & Record<string, unknown>;

/** One marketo-lead node as its modes see it. */
export interface LeadMode {
  settings: LeadSettings;
  readers: LeadReaders;
  labels: LeadLabels;
  /** The operation errors name (syncLeads, triggerCampaign, submitForm). */
  operation: string;
  /** Set when the bulk switch can take records. */
  bulk: BulkCollector<MarketoClient> | undefined;
  /** The node's callbacks: its backlog, duplicate leads met, its own state changed. */
  node: LeadHandlerOptions;
}

/** A record that fails validation, named as this node's. */
export function invalid(mode: LeadMode, message: string): Outcome {
  return { result: invalidRecord(`marketo-lead: ${message}`, mode.operation) };
}

/** A property that could not be read fails the record with the reader's reason. */
export async function readProperty(
  mode: LeadMode,
  r: Reader,
  msg: Msg,
  what: string,
): Promise<{ ok: true; value: unknown } | { ok: false; outcome: Outcome }> {
  try {
    return { ok: true, value: await r(msg) };
  } catch (err) {
    return { ok: false, outcome: invalid(mode, `${what} could not be read: ${errorText(err)}`) };
  }
}

/** The campaign and tokens a record asks for: the message's campaign, else the node's. */
export async function campaignOf(
  mode: LeadMode,
  msg: Msg,
): Promise<{ ok: true; campaignId: number; tokens: CampaignToken[] } | { ok: false; outcome: Outcome }> {
  const { readers, labels, settings } = mode;
  const rawCampaign = await readProperty(mode, readers.campaign, msg, labels.campaign);
  if (!rawCampaign.ok) return rawCampaign;
  const campaign = pickId(rawCampaign.value, settings.campaignId, "campaign id", labels.campaign);
  if (!campaign.ok) return { ok: false, outcome: invalid(mode, campaign.message) };
  const raw = await readProperty(mode, readers.tokens, msg, labels.tokens);
  if (!raw.ok) return { ok: false, outcome: { ...raw.outcome, marketo: { campaignId: campaign.value } } };
  const tokens = normaliseTokens(raw.value, labels.tokens);
  if (!tokens.ok)
    return { ok: false, outcome: { ...invalid(mode, tokens.message), marketo: { campaignId: campaign.value } } };
  return { ok: true, campaignId: campaign.value, tokens: tokens.value };
}
