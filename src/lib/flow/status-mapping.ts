/**
 * What status-mapper does with one message, without Node-RED: its settings read from the node's
 * config, and the decision for a message once its status and lead have been read. The node only
 * reads, sends and counts; everything it decides is here so that it can be tested on its own.
 */
import type { Filtered, MappedStatus, ProgramStatus, StatusTable } from "./status-ladder";
import { matchStatus } from "./status-ladder";
import {
  backwardReason,
  classifyMove,
  decide,
  leadKey,
  memoryKey,
  programKey,
  unchangedReason,
  DEFAULT_MAX_LEADS,
  type BackwardPolicy,
  type RepeatPolicy,
  type StatusMemory,
} from "./status-memory";

/** What a message is refused with: why, and what happens to it (held on output 2, or an error). */
export type RefusalPolicy = "skip" | "error" | "pass";

/** The policies and store settings of one status-mapper, with their defaults filled in. */
export interface StatusMapperSettings {
  backward: BackwardPolicy;
  repeat: RepeatPolicy;
  unknown: "skip" | "error";
  store: string | undefined;
  maxLeads: number;
}

/** Reads the policies from the node's config; anything unknown falls back to the default. */
export function statusMapperSettings(config: {
  backward?: string;
  repeat?: string;
  unknown?: string;
  store?: string;
  maxLeads?: string | number;
}): StatusMapperSettings {
  const backward: BackwardPolicy =
    config.backward === "pass" || config.backward === "error" || config.backward === "force" ? config.backward : "skip";
  return {
    backward,
    repeat: config.repeat === "skip" ? "skip" : "pass",
    unknown: config.unknown === "error" ? "error" : "skip",
    store: typeof config.store === "string" && config.store.trim() !== "" ? config.store.trim() : undefined,
    maxLeads: Number(config.maxLeads ?? DEFAULT_MAX_LEADS),
  };
}

/** A message refused: why, and under which policy. */
export interface Refusal {
  kind: "refuse";
  filtered: Filtered;
  policy: RefusalPolicy;
}

/** A status read and checked, before the lead is known: where it goes and on which program. */
export interface MatchedStatus {
  kind: "matched";
  target: Readonly<ProgramStatus>;
  source: string;
  program: string;
  /** msg.marketo when it is already an object (programStatus is added to it), else undefined. */
  marketo: Record<string, unknown> | undefined;
}

/**
 * Checks the status read from a message and the message's own program id and msg.marketo.
 * `configProgram` is the node's program (null when the setting is not a program id).
 */
export function matchMessage(
  table: StatusTable,
  statusRead: { ok: true; value: unknown; where: string } | { ok: false; reason: string },
  msg: { marketo?: unknown; programId?: unknown },
  configProgram: string | null,
  unknown: "skip" | "error",
): MatchedStatus | Refusal {
  if (!statusRead.ok)
    return { kind: "refuse", filtered: { rule: "invalid-input", reason: statusRead.reason }, policy: unknown };
  const m = matchStatus(table, statusRead.value, statusRead.where);
  if (!m.ok) return { kind: "refuse", filtered: m.filtered, policy: unknown };

  const mk = msg.marketo;
  if (mk !== undefined && (mk === null || typeof mk !== "object" || Array.isArray(mk))) {
    const what = mk === null ? "null" : Array.isArray(mk) ? "an array" : `a ${typeof mk}`;
    return {
      kind: "refuse",
      filtered: { rule: "invalid-input", reason: `msg.marketo is ${what}, not an object` },
      policy: unknown,
    };
  }
  const rawProgram = msg.programId;
  const program = rawProgram === undefined ? configProgram! : programKey(rawProgram);
  if (program === null) {
    return {
      kind: "refuse",
      filtered: {
        rule: "invalid-program",
        reason: `msg.programId is not a program id: ${String(rawProgram).slice(0, 40)}`,
      },
      policy: unknown,
    };
  }
  return {
    kind: "matched",
    target: m.target,
    source: m.source,
    program,
    marketo: mk as Record<string, unknown> | undefined,
  };
}

/** A message sent on: the status to set, whether it is forced, and what to remember (if anything). */
export interface Sending {
  kind: "send";
  status: MappedStatus;
  /** The memory key to record the status under once sent; undefined when nothing is recorded. */
  remember: string | undefined;
  /** Whether the message named a lead, so the memory was consulted (and is saved soon after). */
  leadKnown: boolean;
}

/**
 * Decides whether a matched status goes out, given the lead read from the message and the
 * memory of each lead's last status. Changes nothing: the caller records `remember` once sent.
 */
export function decideMove(
  matched: MatchedStatus,
  leadRead: { ok: true; value: unknown; where: string } | { ok: false; reason: string },
  memory: StatusMemory,
  backward: BackwardPolicy,
  repeat: RepeatPolicy,
): Sending | Refusal {
  const { target, program } = matched;
  const status = (force: boolean): MappedStatus => ({
    name: target.name,
    step: target.step,
    success: target.success,
    source: matched.source,
    ...(force ? { force: true } : {}),
  });
  const lead = leadRead.ok ? leadKey(leadRead.value) : undefined;
  if (lead === undefined) {
    if (backward === "pass") return { kind: "send", status: status(false), remember: undefined, leadKnown: false };
    // "force" without a lead cannot know the move is backward: it is refused like skip, never forced blind.
    const why = leadRead.ok ? `no usable lead key at ${leadRead.where}` : leadRead.reason;
    return {
      kind: "refuse",
      filtered: { rule: "no-lead", reason: `${why}; cannot check for a backward move` },
      policy: backward === "force" ? "skip" : backward,
    };
  }
  const key = memoryKey(lead, program);
  const last = memory.get(key);
  const move = classifyMove(last, target);
  const decision = decide(move, backward, repeat);
  if (decision !== "send") {
    const filtered: Filtered =
      move === "backward"
        ? { rule: "backward", reason: backwardReason(target, last!, program) }
        : { rule: "unchanged", reason: unchangedReason(target, program) };
    return { kind: "refuse", filtered, policy: decision };
  }
  const forced = move === "backward" && backward === "force";
  // A backward move sent under the "pass" policy is not recorded: Marketo skips it, so the member
  // stays where it was. A forced one is: the program status node takes the member out and sets it again.
  return {
    kind: "send",
    status: status(forced),
    remember: move !== "backward" || forced ? key : undefined,
    leadKnown: true,
  };
}
