import type { OpContext } from "./context";
import { numberOr, postRecordsOp, type RecordOp } from "./results";
import type { SyncCustomObjectOptions } from "./types";

export type CustomObjectRecord = Record<string, unknown>;

/** Sync Custom Objects (server timeout 120 s). Results carry `seq` and `marketoGUID`. */
export function syncCustomObjectsOp(
  ctx: OpContext,
  apiName: string,
  opts: SyncCustomObjectOptions = {},
): RecordOp<CustomObjectRecord> {
  return postRecordsOp<CustomObjectRecord>(ctx, "syncCustomObjects", {
    path: `/rest/v1/customobjects/${encodeURIComponent(apiName)}.json`,
    body: (input) => ({ action: opts.action ?? "createOrUpdate", dedupeBy: opts.dedupeBy ?? "dedupeFields", input }),
    serverTimeoutS: 120,
    // A link field named leadId is the lead this object belongs to.
    idOf: (_e, r) => numberOr(r.leadId),
  });
}

/**
 * Dedupe key for the batcher: the values of the dedupe fields (or marketoGUID with
 * dedupeBy idField). Unknown dedupe fields → no key (records are not held back).
 */
export function customObjectKey(
  record: CustomObjectRecord,
  dedupeFields: string[] | undefined,
  dedupeBy: SyncCustomObjectOptions["dedupeBy"] = "dedupeFields",
): string | undefined {
  const fields = dedupeBy === "idField" ? ["marketoGUID"] : dedupeFields;
  if (!fields?.length) return undefined;
  const values = fields.map((f) => record[f]);
  if (values.every((v) => v === undefined || v === null || v === "")) return undefined;
  return JSON.stringify(values.map((v) => (typeof v === "string" ? v.trim().toLowerCase() : v)));
}

export async function describeCustomObject(
  ctx: OpContext,
  apiName: string,
): Promise<Record<string, unknown> | undefined> {
  const answer = await ctx.transport.call({
    operation: "describeCustomObject",
    method: "GET",
    path: `/rest/v1/customobjects/${encodeURIComponent(apiName)}/describe.json`,
    timeoutMs: ctx.timeoutMs(30),
  });
  return answer.envelope.result?.[0];
}

export async function listCustomObjects(ctx: OpContext, names?: string[]): Promise<Record<string, unknown>[]> {
  const answer = await ctx.transport.call({
    operation: "listCustomObjects",
    method: "GET",
    path: "/rest/v1/customobjects.json",
    query: { names: names?.length ? names : undefined },
    timeoutMs: ctx.timeoutMs(30),
  });
  return answer.envelope.result ?? [];
}
