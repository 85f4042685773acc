/**
 * The no-show sweep of marketo-program-status: after an event ends, the program's members still
 * at a registered status (below the attended step) move to the channel's no-show status. Pure
 * parts (settings, the ladder the sweep works on, the plan) and the run itself, which takes the
 * node's client so every call goes through the shared limits. No Node-RED import.
 */
import { MarketoError, type ErrorCategory, type RecordResult } from "../marketo";
import type { ProgramMember } from "../marketo/program-members";
import { normaliseStatus } from "../flow/status-ladder";
import type { ChannelStatusInfo, ProgramChannel } from "./program-status";

export const SWEEP_TOPIC = "no-show sweep";
export const SWEEP_OPERATION = "noShowSweep";
/** Marketo's standard event channels call it this; Kaltura users add it under this name too. */
export const DEFAULT_NO_SHOW_STATUS = "No Show";
export const DEFAULT_DELAY_HOURS = 24;
/** A year: a longer delay is a typo, not a plan. */
const MAX_DELAY_HOURS = 24 * 366;

/** What the editor saves for the sweep (strings or booleans, missing in flows saved before it). */
export interface NoShowSettingsInput {
  noShow?: unknown;
  noShowDelay?: unknown;
  noShowStatus?: unknown;
  noShowRegistered?: unknown;
  noShowAttended?: unknown;
}

export interface NoShowSettings {
  /** Sweep by itself at the delay after each event's end. A sweep message works either way. */
  enabled: boolean;
  delayHours: number;
  statusName: string;
  /** The statuses that count as registered; empty: from the channel's ladder. */
  registered: string[];
  /** The statuses that count as attended; empty: from the channel's ladder. */
  attended: string[];
}

/** A comma list of status names, trimmed, blanks and repeats dropped. */
export function statusList(v: unknown): string[] {
  const parts = Array.isArray(v) ? v : typeof v === "string" ? v.split(",") : [];
  const out: string[] = [];
  for (const p of parts) {
    const t = typeof p === "string" ? p.trim() : "";
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

export function parseNoShowSettings(input: NoShowSettingsInput): { settings: NoShowSettings; problems: string[] } {
  const problems: string[] = [];
  const rawDelay = input.noShowDelay;
  let delayHours = DEFAULT_DELAY_HOURS;
  if (rawDelay !== undefined && rawDelay !== null && rawDelay !== "") {
    const n = typeof rawDelay === "number" ? rawDelay : Number(String(rawDelay).trim());
    if (!Number.isFinite(n) || n < 0 || n > MAX_DELAY_HOURS)
      problems.push(
        `the no-show delay must be between 0 and ${MAX_DELAY_HOURS} hours, not ${JSON.stringify(rawDelay)}`,
      );
    else delayHours = n;
  }
  const statusName =
    typeof input.noShowStatus === "string" && input.noShowStatus.trim() !== ""
      ? input.noShowStatus.trim()
      : DEFAULT_NO_SHOW_STATUS;
  const settings: NoShowSettings = {
    enabled: input.noShow === true || input.noShow === "true",
    delayHours,
    statusName,
    registered: statusList(input.noShowRegistered),
    attended: statusList(input.noShowAttended),
  };
  const both = settings.registered.filter((s) => settings.attended.includes(s));
  if (both.length) problems.push(`a status cannot count as both registered and attended: ${both.join(", ")}`);
  if (settings.registered.includes(statusName) || settings.attended.includes(statusName))
    problems.push(`the no-show status "${statusName}" cannot also count as registered or attended`);
  return { settings, problems };
}

/** The sweep's view of a channel: the status to set, where members are swept from, and the attended step. */
export interface SweepLadder {
  noShow: ChannelStatusInfo;
  registered: ChannelStatusInfo[];
  attended: ChannelStatusInfo[];
  /** The lowest attended step: members at or past it are never swept. */
  attendedStep: number;
}

/** A sweep that cannot run as set: a validation error a Catch node gets. */
export function sweepError(message: string): MarketoError {
  return new MarketoError({
    code: "INVALID_INPUT",
    message,
    category: "validation",
    action: "permanent",
    retryable: false,
    operation: SWEEP_OPERATION,
  });
}

function names(statuses: ChannelStatusInfo[]): string {
  return statuses.map((s) => `${s.name} (${s.step})`).join(", ") || "none";
}

/**
 * The ladder from the channel and the settings. Defaults: attended = the success statuses above
 * the no-show step; registered = the statuses below the no-show step from the channel's
 * "Registered" up (every status below it when the channel has none), so Invited is never swept.
 */
export function sweepLadder(info: ProgramChannel, settings: NoShowSettings): SweepLadder {
  const where = `program ${info.programId}`;
  if (!info.programFound)
    throw sweepError(`${where} does not exist in Marketo (or the API user cannot see its workspace)`);
  if (!info.channel || !info.channelFound)
    throw sweepError(`${where} has no channel Marketo returned: the no-show status comes from the program's channel`);
  const channel = `channel "${info.channel}" of ${where}`;
  const byName = (name: string): ChannelStatusInfo | undefined => info.statuses.find((s) => s.name === name);
  const missing = (name: string, role: string): MarketoError => {
    const near = info.statuses.find((s) => normaliseStatus(s.name) === normaliseStatus(name));
    return sweepError(
      `the ${role} status "${name}" is not in ${channel} (statuses: ${names(info.statuses)})` +
        (near ? `; the channel has "${near.name}": names must match exactly` : ""),
    );
  };
  const noShow = byName(settings.statusName);
  if (!noShow) throw missing(settings.statusName, "no-show");

  let attended: ChannelStatusInfo[];
  if (settings.attended.length) {
    attended = settings.attended.map((n) => byName(n) ?? missingThrow(missing(n, "attended")));
  } else {
    attended = info.statuses.filter((s) => s.success && s.step > noShow.step);
    if (!attended.length)
      throw sweepError(`${channel} has no success status above "${noShow.name}": say which statuses count as attended`);
  }
  const attendedStep = Math.min(...attended.map((s) => s.step));

  let registered: ChannelStatusInfo[];
  if (settings.registered.length) {
    registered = settings.registered.map((n) => byName(n) ?? missingThrow(missing(n, "registered")));
    const above = registered.filter((s) => s.step >= noShow.step);
    if (above.length)
      throw sweepError(
        `the registered statuses ${names(above)} are not below "${noShow.name}" (${noShow.step}) in ${channel}: Marketo only moves members forward`,
      );
  } else {
    const floor = info.statuses.find((s) => normaliseStatus(s.name) === "registered" && s.step < noShow.step)?.step;
    registered = info.statuses.filter((s) => s.step < noShow.step && (floor === undefined || s.step >= floor));
    if (!registered.length)
      throw sweepError(`${channel} has no status below "${noShow.name}": say which statuses count as registered`);
  }
  registered = registered.filter((s) => s.step < attendedStep);
  if (!registered.length)
    throw sweepError(`no registered status of ${channel} is below the attended step (${attendedStep})`);
  return { noShow, registered, attended, attendedStep };
}

function missingThrow(err: MarketoError): never {
  throw err;
}

export interface SweepSkip {
  leadId: number;
  reason: string;
}

export interface SweepPlan {
  /** Leads to move to the no-show status. */
  toNoShow: number[];
  skipped: SweepSkip[];
}

/** Which of the members read move to the no-show status, and why the others do not. */
export function planSweep(members: readonly ProgramMember[], ladder: SweepLadder): SweepPlan {
  const steps = new Map(ladder.registered.map((s) => [s.name, s.step]));
  const seen = new Set<number>();
  const plan: SweepPlan = { toNoShow: [], skipped: [] };
  for (const m of members) {
    if (seen.has(m.leadId)) continue;
    seen.add(m.leadId);
    const status = typeof m.statusName === "string" ? m.statusName : "";
    const step = steps.get(status);
    if (status === ladder.noShow.name) plan.skipped.push({ leadId: m.leadId, reason: `already ${status}` });
    else if (step === undefined)
      plan.skipped.push({ leadId: m.leadId, reason: `at "${status || "unknown"}", not a registered status` });
    else if (step >= ladder.attendedStep)
      plan.skipped.push({ leadId: m.leadId, reason: `at "${status}", at or past the attended step` });
    else plan.toNoShow.push(m.leadId);
  }
  return plan;
}

/** One kind of failure in a sweep, with how many leads it failed. */
export interface SweepErrorCount {
  code: string;
  category: ErrorCategory;
  message: string;
  count: number;
}

/** What a sweep did (or, dry, would do). */
export interface SweepReport {
  programId: number;
  dryRun: boolean;
  statusName: string;
  registered: string[];
  attended: string[];
  /** Members read at the registered statuses. */
  read: number;
  /** The dry-run count: members below the attended step, to move to the no-show status. */
  planned: number;
  /** Moved to the no-show status (0 in a dry run). */
  set: number;
  /** Read but not moved: already past (Marketo 1037), or not at a registered status any more. */
  skipped: number;
  failed: number;
  errors: SweepErrorCount[];
  startedAt: string;
  finishedAt: string;
}

export interface SweepClient {
  getProgramMembers(
    programId: number,
    filterType: "statusName",
    values: string[],
    fields?: readonly string[],
  ): Promise<ProgramMember[]>;
  syncProgramMemberStatus(programId: number, statusName: string, leadIds: number[]): Promise<RecordResult[]>;
}

function countErrors(results: RecordResult[]): SweepErrorCount[] {
  const out: SweepErrorCount[] = [];
  for (const r of results) {
    if (r.ok) continue;
    const e = r.error;
    const code = e?.code ?? "UNKNOWN";
    const message = e?.message ?? `Marketo answered ${r.status}`;
    const same = out.find((x) => x.code === code && x.message === message);
    if (same) same.count++;
    else out.push({ code, category: e?.category ?? "marketo", message, count: 1 });
  }
  return out;
}

/**
 * One sweep: read the members at the registered statuses (Query Program Members by statusName,
 * paged), plan, and unless dry set the no-show status (Sync Program Member Status, 300 leads a
 * call). Throws a MarketoError when the ladder is unusable or a read fails; write failures are
 * counted per lead in the report.
 */
export async function runSweep(
  client: SweepClient,
  info: ProgramChannel,
  settings: NoShowSettings,
  opts: { dryRun: boolean; now?: () => number },
): Promise<SweepReport> {
  const now = opts.now ?? Date.now;
  const startedAt = new Date(now()).toISOString();
  const ladder = sweepLadder(info, settings);
  const members = await client.getProgramMembers(
    info.programId,
    "statusName",
    ladder.registered.map((s) => s.name),
    ["statusName"],
  );
  const plan = planSweep(members, ladder);
  const report: SweepReport = {
    programId: info.programId,
    dryRun: opts.dryRun,
    statusName: ladder.noShow.name,
    registered: ladder.registered.map((s) => s.name),
    attended: ladder.attended.map((s) => s.name),
    read: members.length,
    planned: plan.toNoShow.length,
    set: 0,
    skipped: plan.skipped.length,
    failed: 0,
    errors: [],
    startedAt,
    finishedAt: startedAt,
  };
  if (!opts.dryRun && plan.toNoShow.length) {
    const results = await client.syncProgramMemberStatus(info.programId, ladder.noShow.name, plan.toNoShow);
    for (const r of results) {
      if (r.ok && r.status === "unchanged") report.skipped++;
      else if (r.ok) report.set++;
      else report.failed++;
    }
    report.errors = countErrors(results);
  }
  report.finishedAt = new Date(now()).toISOString();
  return report;
}

/** The end of an event as epoch ms, from an ISO date-time (or epoch ms); undefined when unreadable. */
export function endTimeOf(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v > 0 ? v : undefined;
  if (typeof v !== "string" || v.trim() === "") return undefined;
  const t = Date.parse(v.trim());
  return Number.isFinite(t) ? t : undefined;
}

/** `msg.payload.event.endDate` (or `msg.source.event.endDate` after field-mapper), as epoch ms. */
export function eventEndOf(root: unknown): number | undefined {
  if (root === null || typeof root !== "object") return undefined;
  const event = (root as { event?: unknown }).event;
  if (event === null || typeof event !== "object") return undefined;
  return endTimeOf((event as { endDate?: unknown }).endDate);
}
