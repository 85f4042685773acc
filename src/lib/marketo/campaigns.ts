import type { OpContext } from "./context";
import { MarketoError } from "./errors";
import type { RecordOp } from "./results";
import type { CampaignToken, RecordResult } from "./types";

/** Request Campaign takes at most 100 leads and 100 tokens per call. */
export const MAX_TRIGGER_LEADS = 100;

/** Request (trigger) Campaign; its op, for deliverOnce and the batcher. Marketo answers `[{id: campaignId}]`, not per lead: success = every lead triggered. */
export function triggerCampaignOp(ctx: OpContext, campaignId: number, tokens?: CampaignToken[]): RecordOp<number> {
  const operation = "triggerCampaign";
  return {
    operation,
    maxBatchSize: Math.min(ctx.maxBatchSize, MAX_TRIGGER_LEADS),
    spec: (leadIds) => ({
      operation,
      method: "POST",
      path: `/rest/v1/campaigns/${encodeURIComponent(campaignId)}/trigger.json`,
      json: { input: { leads: leadIds.map((id) => ({ id })), ...(tokens?.length ? { tokens } : {}) } },
      records: leadIds.length,
      timeoutMs: ctx.timeoutMs(30),
      // Marketo runs the campaign for every request: never retried blind.
      writeOnce: true,
    }),
    map: (items, answer): RecordResult[] =>
      items.map((id) => ({
        ok: true,
        status: "triggered",
        id,
        ...(answer.requestId ? { requestId: answer.requestId } : {}),
      })),
  };
}

/** Get Campaign by Id; unknown campaign (1013) → undefined. */
export async function getCampaign(ctx: OpContext, id: number): Promise<Record<string, unknown> | undefined> {
  try {
    const answer = await ctx.transport.call({
      operation: "getCampaign",
      method: "GET",
      path: `/rest/v1/campaigns/${encodeURIComponent(id)}.json`,
      timeoutMs: ctx.timeoutMs(30),
    });
    return answer.envelope.result?.[0];
  } catch (err) {
    if (err instanceof MarketoError && (err.code === "1013" || err.code === "702")) return undefined;
    throw err;
  }
}
