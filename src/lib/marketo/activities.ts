import type { OpContext } from "./context";
import { postRecordsOp, type RecordOp } from "./results";
import type { CustomActivity } from "./types";

/**
 * Add Custom Activities. Write-once (no dedupe key): a blind retry after a 604/502 can duplicate
 * an activity, so a failure that may have applied comes back to the caller, which asks Marketo
 * before sending again (arrival-check.ts). Per-record failures come in `errors`.
 */
export function addCustomActivitiesOp(ctx: OpContext): RecordOp<CustomActivity> {
  const op = postRecordsOp<CustomActivity>(ctx, "addCustomActivities", {
    path: "/rest/v1/activities/external.json",
    body: (input) => ({ input }),
    serverTimeoutS: 90,
    // The entry's id is the activity's; RecordResult.id is the lead the activity belongs to.
    idOf: (_e, a) => a.leadId,
  });
  return { ...op, spec: (items) => ({ ...op.spec(items), writeOnce: true }) };
}

async function get(ctx: OpContext, operation: string, path: string): Promise<Record<string, unknown>[]> {
  const answer = await ctx.transport.call({ operation, method: "GET", path, timeoutMs: ctx.timeoutMs(30) });
  return answer.envelope.result ?? [];
}

/** Standard and custom activity types. */
export function getActivityTypes(ctx: OpContext): Promise<Record<string, unknown>[]> {
  return get(ctx, "getActivityTypes", "/rest/v1/activities/types.json");
}

/** Custom activity types only, with their approval status. */
export function listCustomActivityTypes(ctx: OpContext): Promise<Record<string, unknown>[]> {
  return get(ctx, "listCustomActivityTypes", "/rest/v1/activities/external/types.json");
}

export async function describeCustomActivityType(
  ctx: OpContext,
  apiName: string,
): Promise<Record<string, unknown> | undefined> {
  const r = await get(
    ctx,
    "describeCustomActivityType",
    `/rest/v1/activities/external/type/${encodeURIComponent(apiName)}/describe.json`,
  );
  return r[0];
}
