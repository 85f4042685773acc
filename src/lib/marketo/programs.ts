import { assetGet, assetGetAll } from "./asset";
import type { OpContext } from "./context";
import { numberOr, postRecordsOp, type RecordOp } from "./results";
import type { Channel, Program } from "./types";

/** Sync Program Member Status (current endpoint): upserts membership; 1037 = already there or past. */
export function syncProgramMemberStatusOp(ctx: OpContext, programId: number, statusName: string): RecordOp<number> {
  return postRecordsOp<number>(ctx, "syncProgramMemberStatus", {
    path: `/rest/v1/programs/${encodeURIComponent(programId)}/members/status.json`,
    body: (leadIds) => ({ statusName, input: leadIds.map((leadId) => ({ leadId })) }),
    serverTimeoutS: 30,
    idOf: (e, leadId) => numberOr(e?.leadId) ?? leadId,
  });
}

/**
 * Delete Program Members: takes leads out of a program, and with them their status and its
 * history in that program. 1037 = the lead was not a member.
 */
export function deleteProgramMembersOp(ctx: OpContext, programId: number): RecordOp<number> {
  return postRecordsOp<number>(ctx, "deleteProgramMembers", {
    path: `/rest/v1/programs/${encodeURIComponent(programId)}/members/delete.json`,
    body: (leadIds) => ({ input: leadIds.map((leadId) => ({ leadId })) }),
    serverTimeoutS: 30,
    idOf: (e, leadId) => numberOr(e?.leadId) ?? leadId,
  });
}

/** Change Lead Program Status (legacy endpoint): body `status` + input `{id}`. */
export function changeLeadProgramStatusOp(ctx: OpContext, programId: number, status: string): RecordOp<number> {
  return postRecordsOp<number>(ctx, "changeLeadProgramStatus", {
    path: `/rest/v1/leads/programs/${encodeURIComponent(programId)}/status.json`,
    body: (leadIds) => ({ status, input: leadIds.map((id) => ({ id })) }),
    serverTimeoutS: 30,
    idOf: (e, id) => numberOr(e?.id) ?? id,
  });
}

export async function getProgram(ctx: OpContext, id: number): Promise<Program | undefined> {
  const r = await assetGet<Program>(ctx, "getProgram", `/rest/asset/v1/program/${encodeURIComponent(id)}.json`);
  return r[0];
}

export async function getProgramByName(ctx: OpContext, name: string): Promise<Program | undefined> {
  const r = await assetGet<Program>(ctx, "getProgramByName", "/rest/asset/v1/program/byName.json", { name });
  return r[0];
}

export function getChannels(ctx: OpContext): Promise<Channel[]> {
  return assetGetAll<Channel>(ctx, "getChannels", "/rest/asset/v1/channels.json");
}

export async function getChannelByName(ctx: OpContext, name: string): Promise<Channel | undefined> {
  const r = await assetGet<Channel>(ctx, "getChannelByName", "/rest/asset/v1/channel/byName.json", { name });
  return r[0];
}
