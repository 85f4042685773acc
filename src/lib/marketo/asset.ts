import type { OpContext } from "./context";
import { MarketoError } from "./errors";
import type { QueryValue } from "./transport";

/**
 * Asset API reads: "not found" is a success with a warning and no `result` (or, on some
 * endpoints, error 702 "no data found"). Both mean an empty list here, not a failure.
 */
export async function assetGet<T>(
  ctx: OpContext,
  operation: string,
  path: string,
  query?: Record<string, QueryValue>,
): Promise<T[]> {
  try {
    const answer = await ctx.transport.call({ operation, method: "GET", path, query, timeoutMs: ctx.timeoutMs(30) });
    return Array.isArray(answer.envelope.result) ? (answer.envelope.result as T[]) : [];
  } catch (err) {
    if (err instanceof MarketoError && err.code === "702") return [];
    throw err;
  }
}

/** Asset API paging: maxReturn (≤ 200) + offset, until a short page. */
export async function assetGetAll<T>(ctx: OpContext, operation: string, path: string): Promise<T[]> {
  const pageSize = 200;
  const out: T[] = [];
  for (let offset = 0; offset < 100_000; offset += pageSize) {
    const page = await assetGet<T>(ctx, operation, path, { maxReturn: pageSize, offset });
    out.push(...page);
    if (page.length < pageSize) break;
  }
  return out;
}
