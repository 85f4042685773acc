/**
 * Query Program Members: `GET /rest/v1/programs/{programId}/members.json`, by statusName or
 * leadId (at most 300 values a call), paged with nextPageToken. Marketo answers 1003 when more
 * than 100,000 members match.
 */
import { MARKETO_MAX_RECORDS, type OpContext } from "./context";
import type { Answer, CallSpec } from "./transport";

/** One member as the query returns it: `leadId` always, the other asked-for fields when set. */
export interface ProgramMember {
  leadId: number;
  statusName?: string;
  reachedSuccess?: boolean;
  [field: string]: unknown;
}

/** Pages followed at most: 100,000 members at 300 a page is 334. */
const MAX_PAGES = 400;

function spec(
  ctx: OpContext,
  programId: number,
  filterType: string,
  values: Array<string | number>,
  fields: readonly string[],
  nextPageToken?: string,
): CallSpec {
  return {
    operation: "getProgramMembers",
    method: "GET",
    path: `/rest/v1/programs/${encodeURIComponent(programId)}/members.json`,
    query: {
      filterType,
      filterValues: values.map(String),
      fields: fields.length ? [...fields] : undefined,
      batchSize: MARKETO_MAX_RECORDS,
      nextPageToken,
    },
    records: values.length,
    timeoutMs: ctx.timeoutMs(30),
  };
}

function nextToken(answer: Answer): string | undefined {
  const env = answer.envelope;
  const got = Array.isArray(env.result) ? env.result.length : 0;
  if (!env.nextPageToken || got === 0 || env.moreResult === false) return undefined;
  return env.nextPageToken;
}

function membersOf(answer: Answer): ProgramMember[] {
  const result = Array.isArray(answer.envelope.result) ? answer.envelope.result : [];
  const out: ProgramMember[] = [];
  for (const r of result) {
    if (r === null || typeof r !== "object") continue;
    const leadId = Number((r as { leadId?: unknown }).leadId);
    if (Number.isSafeInteger(leadId) && leadId > 0) out.push({ ...(r as Record<string, unknown>), leadId });
  }
  return out;
}

/** Every member matching the filter, all pages. Throws MarketoError. */
export async function getProgramMembers(
  ctx: OpContext,
  programId: number,
  filterType: string,
  values: Array<string | number>,
  fields: readonly string[] = [],
): Promise<ProgramMember[]> {
  const out: ProgramMember[] = [];
  for (let i = 0; i < values.length; i += MARKETO_MAX_RECORDS) {
    const chunk = values.slice(i, i + MARKETO_MAX_RECORDS);
    let answer = await ctx.transport.call(spec(ctx, programId, filterType, chunk, fields));
    out.push(...membersOf(answer));
    let token = nextToken(answer);
    for (let page = 1; token && page < MAX_PAGES; page++) {
      answer = await ctx.transport.call(spec(ctx, programId, filterType, chunk, fields, token));
      out.push(...membersOf(answer));
      token = nextToken(answer);
    }
  }
  return out;
}
