/**
 * marketo-program-status's handler: reads a record's program, status and lead, and sets the
 * lead's status in the program (REST, or the program member import above the bulk threshold).
 * Settings and property readers come in, so it runs without a Node-RED runtime.
 */
import { isReplayed } from "../delivery/delivery-once";
import { MarketoError, type MarketoClient } from "../marketo";
import { isRecord } from "../node-kit/guards";
import { invalidRecord, type Outcome } from "./action-outcome";
import { KeyedBulk, bulkAnswer, overThreshold } from "./bulk-switch";
import type { LeadIdCache } from "./lead-ids";
import { forEachLead, resolveLeadId, toLeadId, type DuplicatePolicy } from "./lead-lookup";
import {
  programIdFrom,
  statusNameFrom,
  unknownStatusMessage,
  OPERATION,
  type ChannelCache,
  type ProgramChannel,
  type ProgramStatusSettings,
  type Read,
} from "./program-status";

/** The message a record is read from: with an array payload, msg.payload is that record. */
export type ProgramStatusMessage = { payload?: unknown; marketo?: unknown; source?: unknown } & Record<string, unknown>;

/** A property read per message; `label` says where it is (`msg.programId`, `env PROGRAM`...). */
export interface ProgramStatusReader {
  label: string;
  read(msg: ProgramStatusMessage): Promise<Read<unknown>>;
}

export interface ProgramStatusReaders {
  program: ProgramStatusReader;
  status: ProgramStatusReader;
  email: ProgramStatusReader;
}

export interface ProgramStatusContext {
  client: MarketoClient;
  config: { leadIds: LeadIdCache };
}

export interface ProgramStatusHandlerOptions {
  settings: ProgramStatusSettings;
  readers: ProgramStatusReaders;
  /** Several leads with the email: the policy, or undefined for the client's default. */
  duplicates: DuplicatePolicy | undefined;
  /** Each program's channel, read once, for the 1025 message. */
  channels: ChannelCache;
  /** A record of this program went through (the no-show sweep schedules from it). */
  sawProgram?(programId: number, msg: ProgramStatusMessage): void;
  /** A lead was found more than once by email. */
  duplicateLeads(): void;
  /** Above the threshold, a record about one lead known by its email goes to the program member import. */
  bulk?: { collector: KeyedBulk; threshold: number; backlog(): number };
}

export interface ProgramStatusHandler {
  handle(record: unknown, msg: ProgramStatusMessage, ctx: ProgramStatusContext): Promise<Outcome>;
}

export function programStatusHandler(o: ProgramStatusHandlerOptions): ProgramStatusHandler {
  return { handle: (record, inMsg, ctx) => setStatus(o, record, inMsg, ctx) };
}

/** The lead a record names: its id, or the email to find it by. */
type LeadRef = { givenLead: unknown; email: unknown };
/** A lead found (or created) for a record. */
type Lead = Extract<Awaited<ReturnType<typeof resolveLeadId>>, { ok: true }>;

/** One record: program and status read, the lead resolved, then the status set (REST or import). */
async function setStatus(
  o: ProgramStatusHandlerOptions,
  record: unknown,
  inMsg: ProgramStatusMessage,
  ctx: ProgramStatusContext,
): Promise<Outcome> {
  // With an array payload each record is read as if it were the message's payload.
  const many = Array.isArray(inMsg.payload);
  const msg: ProgramStatusMessage = many ? { ...inMsg, payload: record } : inMsg;
  const marketo: Record<string, unknown> = {};

  const p = await o.readers.program.read(msg);
  const program = p.ok ? programIdFrom(p.value, o.readers.program.label) : p;
  if (!program.ok) return { result: invalidRecord(program.message, OPERATION) };
  marketo.programId = program.value;
  o.sawProgram?.(program.value, msg);

  const s = await o.readers.status.read(msg);
  const status = s.ok ? statusNameFrom(s.value, o.readers.status.label) : s;
  if (!status.ok) return { result: invalidRecord(status.message, OPERATION), marketo };
  const prev = isRecord(msg.marketo) ? msg.marketo.programStatus : undefined;
  marketo.programStatus = isRecord(prev) && prev.name === status.value ? prev : { name: status.value };

  const ref = await leadRefOf(o.readers.email, record, msg, many);
  if (!ref.ok) return { result: invalidRecord(ref.message, OPERATION), marketo };
  const lead = await resolveLeadId(ctx.client, ctx.config.leadIds, {
    leadId: ref.givenLead,
    email: ref.email,
    createMissing: o.settings.createMissing,
    operation: OPERATION,
    ...(o.duplicates ? { duplicates: o.duplicates } : {}),
  });
  if (lead.duplicates) {
    marketo.duplicates = lead.duplicates;
    o.duplicateLeads();
  }
  if (!lead.ok) return { result: lead.result, marketo };
  marketo.leadId = lead.leadId;
  if (lead.leadIds.length > 1) marketo.leadIds = lead.leadIds;

  const force = forced(msg);
  if (force) marketo.forced = true;
  const target = { programId: program.value, statusName: status.value };
  const email = ref.email;
  if (o.bulk && !force && !lead.duplicates && lead.leadIds.length === 1 && typeof email === "string") {
    const imported = await viaMemberImport(o.bulk, ctx.client, target, email, marketo);
    if (imported) return imported;
  }
  return viaRest(o, ctx, { ...target, lead, email, force, replayed: isReplayed(inMsg) }, marketo);
}

/**
 * The lead of one record: one msg.marketo.leadId names one lead, so an array of records brings
 * its own (leadId) or emails. The email is read only when no usable id is given.
 */
async function leadRefOf(
  emailReader: ProgramStatusReader,
  record: unknown,
  msg: ProgramStatusMessage,
  many: boolean,
): Promise<({ ok: true } & LeadRef) | { ok: false; message: string }> {
  const givenLead = many
    ? isRecord(record)
      ? record.leadId
      : undefined
    : isRecord(msg.marketo)
      ? msg.marketo.leadId
      : undefined;
  if (toLeadId(givenLead) !== undefined) return { ok: true, givenLead, email: undefined };
  const e = await emailReader.read(msg);
  if (!e.ok && (givenLead === undefined || givenLead === null || givenLead === "")) {
    return { ok: false, message: `no lead: msg.marketo.leadId is not set and the email cannot be read: ${e.message}` };
  }
  return { ok: true, givenLead, email: e.ok ? e.value : undefined };
}

/**
 * The force flag (status-mapper's "force" backward policy, or msg.marketo.force): Marketo never
 * moves a member down, so the member is taken out of the program and the status set anew.
 */
function forced(msg: ProgramStatusMessage): boolean {
  const mk = isRecord(msg.marketo) ? msg.marketo : undefined;
  return mk !== undefined && (mk.force === true || (isRecord(mk.programStatus) && mk.programStatus.force === true));
}

/**
 * Above the threshold, a record about one lead known by its email goes to the program member
 * import (its rows are keyed by email). The lead was resolved first, so the duplicate policy
 * and "create missing" decide as they do for REST; a duplicate or a forced record stays on REST.
 * Undefined when the record stays on REST.
 */
async function viaMemberImport(
  bulk: NonNullable<ProgramStatusHandlerOptions["bulk"]>,
  client: MarketoClient,
  { programId, statusName }: { programId: number; statusName: string },
  email: string,
  marketo: Record<string, unknown>,
): Promise<Outcome | undefined> {
  if (email.trim() === "" || !overThreshold(bulk.threshold, bulk.backlog())) return undefined;
  const row = await bulk.collector.submit(`${programId}\n${statusName}`, { email: email.trim() }, (rows) =>
    client.bulkImportProgramMembers(programId, statusName, rows),
  );
  const answer = bulkAnswer(row);
  return { result: answer.result, marketo: { ...marketo, ...answer.marketo } };
}

/** What one record asks of Marketo once its lead is known. */
interface StatusRequest {
  programId: number;
  statusName: string;
  lead: Lead;
  email: unknown;
  force: boolean;
  /** A replayed message (tag-filter's msg.replay) waits behind live ones for Marketo's capacity. */
  replayed: boolean;
}

/** The status set through REST for each lead, and Marketo's refusals made readable. */
async function viaRest(
  o: ProgramStatusHandlerOptions,
  { client, config }: ProgramStatusContext,
  { programId, statusName, lead, email, force, replayed }: StatusRequest,
  marketo: Record<string, unknown>,
): Promise<Outcome> {
  const result = await forEachLead(lead.leadIds, async (leadId) => {
    if (force) {
      const removed = await client.removeProgramMember(programId, leadId);
      if (!removed.ok) return removed;
    }
    return client.setProgramStatus(programId, statusName, leadId, replayed ? { background: true } : {});
  });
  if (!result.ok && result.error?.code === "1025") {
    const info = await o.channels.get(programId).catch((): ProgramChannel | undefined => undefined);
    const e = result.error;
    result.error = new MarketoError({
      code: e.code,
      message: unknownStatusMessage(statusName, programId, info, e.message),
      category: e.category,
      action: e.action,
      retryable: e.retryable,
      ...(e.operation ? { operation: e.operation } : {}),
      ...(e.requestId ? { requestId: e.requestId } : {}),
    });
  } else if (!result.ok && result.error?.code === "1004" && (lead.source === "cache" || lead.source === "lookup")) {
    // The id learned for this email is gone in Marketo (merged or deleted): look it up afresh next time.
    config.leadIds.forget("email", email);
  }
  return { result, marketo };
}
