/**
 * marketo-program-status's pure logic: the node's settings, reading the program id and status
 * name, the program's channel (read once, cached), the check of the statuses a flow may send
 * against that channel, the message for Marketo's 1025, and the walk back from the node to the
 * status-mapper nodes that feed it. No Node-RED import.
 */
import type { Channel, MarketoClient, Program } from "../marketo";
import {
  compileTable,
  normaliseStatus,
  presetRows,
  MAX_STATUS_LENGTH,
  NOT_IN_PROGRAM,
  PRESET_NAMES,
  type PresetName,
} from "../flow/status-ladder";
import { typeName } from "../flow/paths";

export const NODE_TYPE = "marketo-program-status";
export const OPERATION = "syncProgramMemberStatus";

export const PROGRAM_TYPES = ["msg", "num", "env", "flow", "global"] as const;
export const STATUS_TYPES = ["msg", "str"] as const;
export const EMAIL_TYPES = ["msg", "event"] as const;
export type ProgramType = (typeof PROGRAM_TYPES)[number];
export type StatusType = (typeof STATUS_TYPES)[number];
export type EmailType = (typeof EMAIL_TYPES)[number];

/** What the editor saves (all strings or booleans, some possibly missing in old flows). */
export interface ProgramStatusSettingsInput {
  program?: unknown;
  programType?: unknown;
  programStatus?: unknown;
  programStatusType?: unknown;
  /**
   * Where flows saved by 0.1.0 keep the status setting. The editor also keeps a node's shown
   * status in `status`, so a later Deploy may have written that object over the setting.
   */
  status?: unknown;
  statusType?: unknown;
  email?: unknown;
  emailType?: unknown;
  createMissing?: unknown;
}

export interface ProgramStatusSettings {
  program: { type: ProgramType; value: string };
  status: { type: StatusType; value: string };
  email: { type: EmailType; value: string };
  createMissing: boolean;
}

export const DEFAULT_SETTINGS: Readonly<ProgramStatusSettings> = Object.freeze<ProgramStatusSettings>({
  program: { type: "msg", value: "programId" },
  status: { type: "msg", value: "marketo.programStatus.name" },
  email: { type: "msg", value: "payload.email" },
  createMissing: false,
});

function str(v: unknown): string {
  return typeof v === "string" ? v.trim() : typeof v === "number" && Number.isFinite(v) ? String(v) : "";
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], fallback: T): T | undefined {
  if (v === undefined || v === null || v === "") return fallback;
  return (allowed as readonly unknown[]).includes(v) ? (v as T) : undefined;
}

/** A Marketo program id: a positive whole number, or a string of digits. */
export function toProgramId(v: unknown): number | undefined {
  const n = typeof v === "string" && /^\s*\d{1,15}\s*$/.test(v) ? Number(v) : v;
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

function shown(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return typeName(v);
}

/**
 * The status setting and its type under today's names, else under the names 0.1.0 used. A
 * `status` that is not a string is the editor's shown status saved over the setting: it is
 * ignored, and `lost` says so.
 */
export function statusSetting(input: ProgramStatusSettingsInput): { value: unknown; type: unknown; lost: boolean } {
  if (input.programStatus !== undefined || input.programStatusType !== undefined) {
    return { value: input.programStatus, type: input.programStatusType, lost: false };
  }
  if (typeof input.status === "string") return { value: input.status, type: input.statusType, lost: false };
  return { value: undefined, type: input.statusType, lost: input.status !== undefined && input.status !== null };
}

/** Validates the node's settings; every problem is a sentence naming the setting. */
export function parseSettings(input: ProgramStatusSettingsInput): {
  settings: ProgramStatusSettings;
  problems: string[];
} {
  const problems: string[] = [];
  const given = statusSetting(input);
  const programType = oneOf(input.programType, PROGRAM_TYPES, DEFAULT_SETTINGS.program.type);
  const statusType = oneOf(given.type, STATUS_TYPES, DEFAULT_SETTINGS.status.type);
  const emailType = oneOf(input.emailType, EMAIL_TYPES, DEFAULT_SETTINGS.email.type);
  if (!programType) problems.push(`the program cannot come from "${String(input.programType)}"`);
  if (!statusType) problems.push(`the status cannot come from "${String(given.type)}"`);
  if (!emailType) problems.push(`the email cannot come from "${String(input.emailType)}"`);

  const settings: ProgramStatusSettings = {
    program: {
      type: programType ?? "msg",
      value: input.program === undefined ? DEFAULT_SETTINGS.program.value : str(input.program),
    },
    status: {
      type: statusType ?? "msg",
      value: given.value === undefined ? (statusType === "str" ? "" : DEFAULT_SETTINGS.status.value) : str(given.value),
    },
    email: {
      type: emailType ?? "msg",
      value: input.email === undefined ? DEFAULT_SETTINGS.email.value : str(input.email),
    },
    createMissing: input.createMissing === true || input.createMissing === "true",
  };

  const p = settings.program;
  if (p.value === "")
    problems.push(p.type === "num" ? "no program id is set" : `no ${p.type} property is named for the program id`);
  else if (p.type === "num" && toProgramId(p.value) === undefined)
    problems.push(`the program id ${shown(p.value)} is not a positive whole number`);

  const s = settings.status;
  if (s.value === "" && s.type === "str" && given.lost) {
    problems.push(
      "the fixed status name was lost (an older editor saved the node's shown status over it): open the node and choose the status again",
    );
  } else if (s.value === "")
    problems.push(s.type === "str" ? "no status name is set" : "no msg property is named for the status");
  else if (s.type === "str") {
    const bad = statusProblem(s.value);
    if (bad) problems.push(`the status: ${bad}`);
  }
  if (settings.email.value === "") problems.push("no property is named for the email");
  return { settings, problems };
}

/** Why a status name cannot be sent, or undefined. */
function statusProblem(name: string): string | undefined {
  if (name.length > MAX_STATUS_LENGTH) return `a status name is at most ${MAX_STATUS_LENGTH} characters`;
  if (normaliseStatus(name) === normaliseStatus(NOT_IN_PROGRAM.name)) {
    return `Marketo cannot set "${NOT_IN_PROGRAM.name}" through the API; remove the member instead`;
  }
  return undefined;
}

export type Read<T> = { ok: true; value: T } | { ok: false; message: string };

/** The program id read from `where` (e.g. `msg.programId`). */
export function programIdFrom(value: unknown, where: string): Read<number> {
  if (value === undefined || value === null || value === "") return { ok: false, message: `no program id at ${where}` };
  const id = toProgramId(value);
  if (id === undefined)
    return { ok: false, message: `the program id at ${where} (${shown(value)}) is not a positive whole number` };
  return { ok: true, value: id };
}

/**
 * The status name read from `where`. A string, or the `{name}` object status-mapper writes
 * (when the property names `msg.marketo.programStatus` itself).
 */
export function statusNameFrom(value: unknown, where: string): Read<string> {
  const v =
    value !== null && typeof value === "object" && !Array.isArray(value) && "name" in value
      ? (value as { name: unknown }).name
      : value;
  if (v === undefined || v === null)
    return {
      ok: false,
      message: `no program status at ${where} (put a status-mapper before this node, or set a fixed status)`,
    };
  if (typeof v !== "string")
    return { ok: false, message: `the program status at ${where} is ${typeName(v)}, not a string` };
  const name = v.trim();
  if (name === "") return { ok: false, message: `the program status at ${where} is empty` };
  const bad = statusProblem(name);
  return bad ? { ok: false, message: `the program status at ${where}: ${bad}` } : { ok: true, value: name };
}

// ---- the program's channel ----

export interface ChannelStatusInfo {
  name: string;
  step: number;
  success: boolean;
}

/** What Marketo says about a program and its channel. */
export interface ProgramChannel {
  programId: number;
  /** False when Marketo has no such program (or the API user cannot see its workspace). */
  programFound: boolean;
  programName?: string;
  channel?: string;
  /** False when the program names a channel Marketo did not return. */
  channelFound: boolean;
  /** The channel's statuses by step, without "Not in Program" (which the API cannot set). */
  statuses: ChannelStatusInfo[];
}

export function programChannelOf(
  programId: number,
  program: Program | undefined,
  channel: Channel | undefined,
): ProgramChannel {
  const statuses: ChannelStatusInfo[] = (Array.isArray(channel?.progressionStatuses) ? channel.progressionStatuses : [])
    .filter((s) => s && typeof s.name === "string" && s.name !== NOT_IN_PROGRAM.name)
    .map((s) => ({ name: s.name, step: Number(s.step), success: s.success === true }))
    .sort((a, b) => a.step - b.step);
  return {
    programId,
    programFound: program !== undefined,
    ...(program?.name ? { programName: program.name } : {}),
    ...(program?.channel ? { channel: program.channel } : {}),
    channelFound: channel !== undefined,
    statuses,
  };
}

/** Two reads at most: Get Program by Id, then Get Channel by Name. */
export async function readProgramChannel(
  client: Pick<MarketoClient, "getProgram" | "getChannelByName">,
  programId: number,
): Promise<ProgramChannel> {
  const program = await client.getProgram(programId);
  const channel = program?.channel ? await client.getChannelByName(program.channel) : undefined;
  return programChannelOf(programId, program, channel);
}

/**
 * Program channels by program id, read once each for the node's life. Concurrent askers share
 * one read; a failed read is answered from memory for `retryAfterMs`, then tried again, so a
 * flood of 1025s with a missing Assets permission costs one read a minute, not one a batch.
 */
export class ChannelCache {
  private readonly entries = new Map<number, { p: Promise<ProgramChannel>; failedAt?: number }>();

  constructor(
    private readonly load: (programId: number) => Promise<ProgramChannel>,
    private readonly retryAfterMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(programId: number): Promise<ProgramChannel> {
    const e = this.entries.get(programId);
    if (e && (e.failedAt === undefined || this.now() - e.failedAt < this.retryAfterMs)) return e.p;
    const entry: { p: Promise<ProgramChannel>; failedAt?: number } = {
      p: Promise.resolve().then(() => this.load(programId)),
    };
    entry.p.catch(() => {
      entry.failedAt = this.now();
    });
    this.entries.set(programId, entry);
    return entry.p;
  }

  /** The answer if one has arrived, without a read. */
  peek(programId: number): Promise<ProgramChannel> | undefined {
    return this.entries.get(programId)?.p;
  }
}

function statusList(info: ProgramChannel): string {
  return info.statuses.length ? info.statuses.map((s) => s.name).join(", ") : "none";
}

/** `status "Attended" is not in channel "Webinar" of program 1002 (Webinar statuses: ...)`. */
export function unknownStatusMessage(
  status: string,
  programId: number,
  info: ProgramChannel | undefined,
  marketoMessage?: string,
): string {
  const head = `status "${status}"`;
  if (!info) {
    return `${head} is not in the channel of program ${programId}${marketoMessage ? ` (Marketo: ${marketoMessage}; the channel could not be read)` : ""}`;
  }
  if (!info.programFound) return `${head}: program ${programId} was not found in Marketo`;
  if (!info.channel || !info.channelFound) {
    return `${head} is not in the channel${info.channel ? ` "${info.channel}"` : ""} of program ${programId}, and Marketo returned no such channel`;
  }
  if (info.statuses.some((s) => s.name === status)) {
    // Read earlier, the channel had it: someone changed the channel since (redeploy re-reads it).
    return `${head} is not in channel "${info.channel}" of program ${programId} any more (Marketo 1025; when read, ${info.channel} statuses were: ${statusList(info)})`;
  }
  let text = `${head} is not in channel "${info.channel}" of program ${programId} (${info.channel} statuses: ${statusList(info)})`;
  const near = info.statuses.find((s) => s.name !== status && normaliseStatus(s.name) === normaliseStatus(status));
  if (near) text += `; the channel has "${near.name}": names must match exactly`;
  return text;
}

// ---- the check: the statuses the flow may send against the channel ----

export interface CheckReport {
  programId: number;
  program?: { id: number; name?: string; channel?: string };
  channel?: { name: string; statuses: ChannelStatusInfo[] };
  /** The statuses checked (unique, in the order given). */
  statuses: string[];
  /** Those the channel lacks. */
  missing: string[];
  /** Sentences for a person: missing program, missing channel, missing statuses. */
  problems: string[];
  /** True when the program and channel exist and no checked status is missing. */
  ok: boolean;
}

function unique(names: Iterable<string>): string[] {
  const out: string[] = [];
  for (const n of names) {
    const t = typeof n === "string" ? n.trim() : "";
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

export function checkReport(info: ProgramChannel, statusesToCheck: Iterable<string>): CheckReport {
  const statuses = unique(statusesToCheck);
  const report: CheckReport = { programId: info.programId, statuses, missing: [], problems: [], ok: false };
  if (!info.programFound) {
    report.problems.push(
      `program ${info.programId} does not exist in Marketo (or the API user cannot see its workspace)`,
    );
    return report;
  }
  report.program = {
    id: info.programId,
    ...(info.programName ? { name: info.programName } : {}),
    ...(info.channel ? { channel: info.channel } : {}),
  };
  if (!info.channel || !info.channelFound) {
    report.problems.push(
      info.channel
        ? `program ${info.programId} is on channel "${info.channel}", which Marketo did not return`
        : `program ${info.programId} has no channel: Marketo sets program statuses through the program's channel`,
    );
    return report;
  }
  report.channel = { name: info.channel, statuses: info.statuses.map((s) => ({ ...s })) };
  const names = new Set(info.statuses.map((s) => s.name));
  report.missing = statuses.filter((s) => !names.has(s));
  if (report.missing.length > 0) {
    report.problems.push(
      `channel "${info.channel}" of program ${info.programId} lacks ${report.missing.length === 1 ? "the status" : "the statuses"} this flow may send: ` +
        `${report.missing.join(", ")} (records with ${report.missing.length === 1 ? "it" : "them"} fail with Marketo 1025; ` +
        `add ${report.missing.length === 1 ? "it" : "them"} to the channel in Marketo Admin > Tags > Channels, or change the status table)`,
    );
  }
  report.ok = report.problems.length === 0;
  return report;
}

/** The extra word for a failed read: which permission a 603 means here. */
export function readFailureHint(code: string | undefined): string {
  return code === "603"
    ? ' (the API user\'s role needs "Read-Only Assets" or "Read-Write Assets" to read programs and channels)'
    : "";
}

// ---- the status-mapper nodes that feed this node ----

/** A node of the flow as the runtime (RED.nodes.eachNode) or the editor describes it. */
export interface FlowNode {
  id: string;
  type: string;
  wires?: unknown;
  /** link out / link in: the ids of the other side. */
  links?: unknown;
  /** Disabled. */
  d?: boolean;
  rules?: unknown;
  preset?: unknown;
}

export const STATUS_MAPPER = "status-mapper";

/**
 * The status-mapper nodes whose mapped output (output 1) reaches `startId`, walking wires and
 * link nodes backwards. The walk stops at such a mapper (the status it writes is the one this
 * node reads), goes on through a mapper reached by its skipped output, and never through a
 * disabled node.
 */
export function upstreamStatusMappers(nodes: Iterable<FlowNode>, startId: string): FlowNode[] {
  const byId = new Map<string, FlowNode>();
  const preds = new Map<string, Array<{ from: string; port: number }>>();
  const addPred = (to: string, from: string, port: number): void => {
    const list = preds.get(to) ?? [];
    list.push({ from, port });
    preds.set(to, list);
  };
  for (const n of nodes) {
    if (!n || typeof n.id !== "string") continue;
    byId.set(n.id, n);
    if (Array.isArray(n.wires)) {
      n.wires.forEach((port, i) => {
        if (Array.isArray(port)) for (const to of port) if (typeof to === "string") addPred(to, n.id, i);
      });
    }
    if (Array.isArray(n.links)) {
      for (const other of n.links) {
        if (typeof other !== "string") continue;
        if (n.type === "link out") addPred(other, n.id, 0);
        else if (n.type === "link in") addPred(n.id, other, 0);
      }
    }
  }
  const found: FlowNode[] = [];
  const seen = new Set<string>([startId]);
  const queue = [startId];
  while (queue.length > 0) {
    const id = queue.shift()!;
    for (const { from, port } of preds.get(id) ?? []) {
      const n = byId.get(from);
      if (!n || n.d === true) continue;
      if (n.type === STATUS_MAPPER && port === 0) {
        if (!found.includes(n)) found.push(n);
        continue;
      }
      if (seen.has(from)) continue;
      seen.add(from);
      queue.push(from);
    }
  }
  return found;
}

/** The Marketo statuses a status-mapper may write: its table's targets (the Kaltura preset when it has no rows). */
export function mapperTargets(mapper: { rules?: unknown; preset?: unknown }): {
  statuses: string[];
  problems: string[];
} {
  const preset: PresetName = (PRESET_NAMES as readonly unknown[]).includes(mapper.preset)
    ? (mapper.preset as PresetName)
    : "kaltura";
  const { table, problems } = compileTable(mapper.rules ?? presetRows(preset));
  return { statuses: [...table.targets.keys()], problems };
}

/** The statuses a flow may send through these mappers, unique. */
export function statusesOfMappers(mappers: Iterable<{ rules?: unknown; preset?: unknown }>): string[] {
  const out: string[] = [];
  for (const m of mappers) for (const s of mapperTargets(m).statuses) if (!out.includes(s)) out.push(s);
  return out;
}
