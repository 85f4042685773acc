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
  const { settings, readers, duplicates, channels, bulk } = o;

  const handle = async (record: unknown, inMsg: ProgramStatusMessage, ctx: ProgramStatusContext): Promise<Outcome> => {
    const { client, config } = ctx;
    // With an array payload each record is read as if it were the message's payload.
    const many = Array.isArray(inMsg.payload);
    const msg: ProgramStatusMessage = many ? { ...inMsg, payload: record } : inMsg;
    const marketo: Record<string, unknown> = {};

    const p = await readers.program.read(msg);
    const program = p.ok ? programIdFrom(p.value, readers.program.label) : p;
    if (!program.ok) return { result: invalidRecord(program.message, OPERATION) };
    marketo.programId = program.value;
    o.sawProgram?.(program.value, msg);

    const s = await readers.status.read(msg);
    const status = s.ok ? statusNameFrom(s.value, readers.status.label) : s;
    if (!status.ok) return { result: invalidRecord(status.message, OPERATION), marketo };
    const prev = isRecord(msg.marketo) ? msg.marketo.programStatus : undefined;
    marketo.programStatus = isRecord(prev) && prev.name === status.value ? prev : { name: status.value };

    // One msg.marketo.leadId names one lead: an array of records brings its own (leadId) or emails.
    const givenLead = many
      ? isRecord(record)
        ? record.leadId
        : undefined
      : isRecord(msg.marketo)
        ? msg.marketo.leadId
        : undefined;
    let email: unknown;
    if (toLeadId(givenLead) === undefined) {
      const e = await readers.email.read(msg);
      if (!e.ok && (givenLead === undefined || givenLead === null || givenLead === "")) {
        return {
          result: invalidRecord(
            `no lead: msg.marketo.leadId is not set and the email cannot be read: ${e.message}`,
            OPERATION,
          ),
          marketo,
        };
      }
      email = e.ok ? e.value : undefined;
    }
    const lead = await resolveLeadId(client, config.leadIds, {
      leadId: givenLead,
      email,
      createMissing: settings.createMissing,
      operation: OPERATION,
      ...(duplicates ? { duplicates } : {}),
    });
    if (lead.duplicates) {
      marketo.duplicates = lead.duplicates;
      o.duplicateLeads();
    }
    if (!lead.ok) return { result: lead.result, marketo };
    marketo.leadId = lead.leadId;
    if (lead.leadIds.length > 1) marketo.leadIds = lead.leadIds;

    // The force flag (status-mapper's "force" backward policy, or msg.marketo.force): Marketo never
    // moves a member down, so the member is taken out of the program and the status set anew.
    const mk = isRecord(msg.marketo) ? msg.marketo : undefined;
    const force =
      mk !== undefined && (mk.force === true || (isRecord(mk.programStatus) && mk.programStatus.force === true));
    if (force) marketo.forced = true;
    // Above the threshold, a record about one lead known by its email goes to the program member
    // import (its rows are keyed by email). The lead was resolved first, so the duplicate policy
    // and "create missing" decide as they do for REST; a duplicate or a forced record stays on REST.
    if (
      bulk &&
      !force &&
      !lead.duplicates &&
      lead.leadIds.length === 1 &&
      typeof email === "string" &&
      email.trim() !== "" &&
      overThreshold(bulk.threshold, bulk.backlog())
    ) {
      const programId = program.value;
      const statusName = status.value;
      const row = await bulk.collector.submit(`${programId}\n${statusName}`, { email: email.trim() }, (rows) =>
        client.bulkImportProgramMembers(programId, statusName, rows),
      );
      const answer = bulkAnswer(row);
      return { result: answer.result, marketo: { ...marketo, ...answer.marketo } };
    }
    // A replayed message (tag-filter's msg.replay) waits behind live ones for Marketo's capacity.
    const replayed = isReplayed(inMsg);
    const result = await forEachLead(lead.leadIds, async (leadId) => {
      if (force) {
        const removed = await client.removeProgramMember(program.value, leadId);
        if (!removed.ok) return removed;
      }
      return client.setProgramStatus(program.value, status.value, leadId, replayed ? { background: true } : {});
    });
    if (!result.ok && result.error?.code === "1025") {
      const info = await channels.get(program.value).catch((): ProgramChannel | undefined => undefined);
      const e = result.error;
      result.error = new MarketoError({
        code: e.code,
        message: unknownStatusMessage(status.value, program.value, info, e.message),
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
  };

  return { handle };
}
