/**
 * The status-mapper's pure logic: presets, the status table and its lookup, the Marketo channel
 * table an admin builds by hand, and reading a status out of a message. No Node-RED import.
 *
 * Matching is tolerant: a source status and a table row match when they are equal after
 * `normaliseStatus` — case folded and every space, hyphen and underscore removed — so
 * "Un-registered", "unregistered", " UN_REGISTERED " and "Un registered" are one status.
 */

import { typeName } from "./paths";

/** A status of a Marketo program channel (one rung of the ladder). */
export interface ProgramStatus {
  name: string;
  step: number;
  success: boolean;
}

/** One row of the node's table: a platform status and the Marketo status it becomes. */
export interface StatusRow extends ProgramStatus {
  source: string;
}

/** What `msg.marketo.programStatus` holds after the node: the target plus the source status as read. */
export interface MappedStatus extends ProgramStatus {
  source: string;
  /** A backward move sent on purpose: the program status node removes the member, then sets it. */
  force?: boolean;
}

/** Marketo's own first rung: every channel has it, the API cannot set it (1025 / member delete). */
export const NOT_IN_PROGRAM: Readonly<ProgramStatus> = Object.freeze({
  name: "Not in Program",
  step: 0,
  success: false,
});

/** Longer values are rejected before normalising: no platform status is this long. */
export const MAX_STATUS_LENGTH = 255;

export const PRESET_NAMES = ["kaltura", "certain"] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

function rows(ladder: Record<string, [number, boolean]>, sources: Array<[string, string]>): StatusRow[] {
  return sources.map(([source, name]) => {
    const rung = ladder[name];
    if (!rung) throw new Error(`preset row ${source} targets ${name}, which is not on its ladder`);
    return { source, name, step: rung[0], success: rung[1] };
  });
}

/** The Kaltura data-sharing channel (Kaltura's "Channel setup" table). */
const KALTURA_LADDER: Record<string, [number, boolean]> = {
  Created: [10, false],
  Invited: [20, false],
  Registered: [30, true],
  Confirmed: [40, true],
  autoConfirmed: [40, true],
  Attended: [50, true],
  Participated: [60, true],
  Blocked: [70, false],
  "Un-registered": [80, false],
};

/** Marketo's standard "Webinar" channel (the emulator seeds the same one for program 1002). */
const CERTAIN_LADDER: Record<string, [number, boolean]> = {
  Invited: [10, false],
  Registered: [20, false],
  "No Show": [30, false],
  Attended: [40, true],
  "Attended On-demand": [40, true],
};

export const PRESETS: Readonly<Record<PresetName, readonly StatusRow[]>> = Object.freeze({
  kaltura: rows(KALTURA_LADDER, [
    // Kaltura's granular statuses, as the guide lists them for Marketo.
    ["SSO login", "Created"], // the attendee exists (signed in through SSO) but holds no invitation or registration yet
    ["Invited by team member", "Invited"],
    ["Invited by team member to register", "Invited"],
    ["Registered", "Registered"],
    ["Confirmed email", "Confirmed"],
    ["Registered no confirmation required", "autoConfirmed"], // confirmed automatically: the sibling of Confirmed at step 40
    ["Pre-event visit", "Attended"],
    ["During-event visit", "Participated"], // both show as "Attended" in Kaltura; keeping them apart lets pre → during move up
    ["Blocked", "Blocked"],
    ["Un-registered", "Un-registered"],
    // The ladder's own names, for platforms (or Kaltura's UI labels) that send them.
    ["Created", "Created"],
    ["Invited", "Invited"],
    ["Confirmed", "Confirmed"],
    ["autoConfirmed", "autoConfirmed"],
    ["Attended", "Attended"],
    ["Participated", "Participated"],
  ]),
  certain: rows(CERTAIN_LADDER, [
    ["Invited", "Invited"],
    ["Registered", "Registered"],
    ["Confirmed", "Registered"], // Certain's confirmed registration: registered for Marketo
    ["No Show", "No Show"],
    ["Attended", "Attended"],
    ["Checked In", "Attended"], // on-site check-in
    ["Attended On-demand", "Attended On-demand"],
  ]),
});

/** A fresh copy of a preset's rows (the editor and tests may change them). */
export function presetRows(name: PresetName): StatusRow[] {
  return PRESETS[name].map((r) => ({ ...r }));
}

const SEPARATORS = /[\s\-_]+/g;

/** The matching key: case folded, spaces, hyphens and underscores removed. */
export function normaliseStatus(status: string): string {
  return status.replace(SEPARATORS, "").toLowerCase();
}

/** The compiled table: normalised source status → target, built once at deploy. */
export interface StatusTable {
  readonly lookup: ReadonlyMap<string, Readonly<ProgramStatus>>;
  /** Targets by name, for the channel table. */
  readonly targets: ReadonlyMap<string, Readonly<ProgramStatus>>;
}

export interface CompiledTable {
  table: StatusTable;
  /** Everything wrong with the rows; a table with problems must not be used. */
  problems: string[];
}

function asStep(v: unknown): number | undefined {
  const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
  return Number.isInteger(n) ? n : undefined;
}

function asBool(v: unknown): boolean | undefined {
  if (typeof v === "boolean") return v;
  if (v === "true") return true;
  if (v === "false" || v === "" || v === undefined || v === null) return false;
  return undefined;
}

/**
 * Validates the rows and builds the lookup. Fully blank rows are ignored. Problems: a row
 * without source or target, a step that is not an integer ≥ 1 ("Not in Program" is step 0 and
 * cannot be set through the API), a source listed twice for different targets, a target name
 * given two steps or success flags, or two target names differing only in case.
 */
export function compileTable(input: unknown): CompiledTable {
  const problems: string[] = [];
  const lookup = new Map<string, ProgramStatus>();
  const sourceOf = new Map<string, string>();
  const targets = new Map<string, ProgramStatus>();
  const targetCase = new Map<string, string>();
  if (!Array.isArray(input)) {
    return { table: { lookup, targets }, problems: ["the status table is not a list of rows"] };
  }
  input.forEach((raw, i) => {
    const n = i + 1;
    if (!raw || typeof raw !== "object") {
      problems.push(`row ${n} is not a row`);
      return;
    }
    const r = raw as Record<string, unknown>;
    const source = typeof r.source === "string" ? r.source.trim() : "";
    const name = typeof r.name === "string" ? r.name.trim() : "";
    if (source === "" && name === "" && (r.step === undefined || r.step === "")) return; // blank row
    if (source === "") return void problems.push(`row ${n} has no source status`);
    if (source.length > MAX_STATUS_LENGTH)
      return void problems.push(`row ${n}: the source status is longer than ${MAX_STATUS_LENGTH} characters`);
    if (name === "") return void problems.push(`row ${n} (${source}) has no Marketo status`);
    if (normaliseStatus(name) === normaliseStatus(NOT_IN_PROGRAM.name)) {
      return void problems.push(
        `row ${n} (${source}): Marketo cannot set "${NOT_IN_PROGRAM.name}"; remove the member instead`,
      );
    }
    const step = asStep(r.step);
    if (step === undefined || step < 1)
      return void problems.push(`row ${n} (${source}): the step must be a whole number of 1 or more`);
    const success = asBool(r.success);
    if (success === undefined) return void problems.push(`row ${n} (${source}): success must be true or false`);
    const key = normaliseStatus(source);
    if (key === "") return void problems.push(`row ${n} has no source status`);

    let target = targets.get(name);
    if (target) {
      if (target.step !== step || target.success !== success) {
        problems.push(
          `row ${n} (${source}): ${name} is step ${step}${success ? " (success)" : ""} here but step ${target.step}${target.success ? " (success)" : ""} in an earlier row`,
        );
        return;
      }
    } else {
      const folded = name.toLowerCase();
      const other = targetCase.get(folded);
      if (other !== undefined) {
        problems.push(`row ${n} (${source}): Marketo status names "${other}" and "${name}" differ only in case`);
        return;
      }
      targetCase.set(folded, name);
      target = Object.freeze({ name, step, success });
      targets.set(name, target);
    }
    const existing = lookup.get(key);
    if (existing && existing !== target) {
      problems.push(
        `row ${n}: ${source} matches ${sourceOf.get(key)} of an earlier row, which maps to ${existing.name}, not ${name}`,
      );
      return;
    }
    lookup.set(key, target);
    if (!sourceOf.has(key)) sourceOf.set(key, source);
  });
  return { table: { lookup, targets }, problems };
}

/** One line of the channel to create in Marketo, with the source statuses that land on it. */
export interface ChannelStatus extends ProgramStatus {
  sources: string[];
}

/**
 * The channel's progression statuses: one per target name, "Not in Program" (0) first, sorted by
 * step then name. Rows with problems are left out; `compileTable` reports them.
 */
export function channelTable(input: unknown): { statuses: ChannelStatus[]; problems: string[] } {
  const { table, problems } = compileTable(input);
  const sources = new Map<string, string[]>();
  if (Array.isArray(input)) {
    for (const raw of input) {
      const r = (raw ?? {}) as Record<string, unknown>;
      const name = typeof r.name === "string" ? r.name.trim() : "";
      const source = typeof r.source === "string" ? r.source.trim() : "";
      const t = table.targets.get(name);
      if (!t || source === "" || table.lookup.get(normaliseStatus(source)) !== t) continue;
      const list = sources.get(name) ?? [];
      if (!list.includes(source)) list.push(source);
      sources.set(name, list);
    }
  }
  const statuses: ChannelStatus[] = [...table.targets.values()]
    .map((t) => ({ name: t.name, step: t.step, success: t.success, sources: sources.get(t.name) ?? [] }))
    .sort((a, b) => a.step - b.step || a.name.localeCompare(b.name));
  statuses.unshift({ ...NOT_IN_PROGRAM, sources: [] });
  return { statuses, problems };
}

/** Tab-separated, with a header: pastes into a spreadsheet or a ticket as a table. */
export function channelText(statuses: ProgramStatus[]): string {
  return ["Status\tStep\tSuccess", ...statuses.map((s) => `${s.name}\t${s.step}\t${s.success ? "Yes" : ""}`)].join(
    "\n",
  );
}

/** Why a message left on output 2 (or failed): `msg.filtered = {rule, reason}`, as tag-filter does. */
export type FilterRule =
  | "no-status"
  | "invalid-status"
  | "unknown-status"
  | "backward"
  | "unchanged"
  | "no-lead"
  | "invalid-program"
  | "invalid-input";

export interface Filtered {
  rule: FilterRule;
  reason: string;
}

export type StatusResult =
  { ok: true; source: string; target: Readonly<ProgramStatus> } | { ok: false; filtered: Filtered };

/** One normalisation and one lookup; anything that is not a usable string says why. */
export function matchStatus(table: StatusTable, value: unknown, label: string): StatusResult {
  if (typeof value !== "string") {
    if (value === undefined || value === null) {
      return { ok: false, filtered: { rule: "no-status", reason: `no status at ${label}` } };
    }
    return {
      ok: false,
      filtered: { rule: "invalid-status", reason: `the status at ${label} is ${typeName(value)}, not a string` },
    };
  }
  if (value.length > MAX_STATUS_LENGTH) {
    return {
      ok: false,
      filtered: {
        rule: "invalid-status",
        reason: `the status at ${label} is ${value.length} characters long (at most ${MAX_STATUS_LENGTH})`,
      },
    };
  }
  const key = normaliseStatus(value);
  if (key === "") return { ok: false, filtered: { rule: "no-status", reason: `the status at ${label} is empty` } };
  const target = table.lookup.get(key);
  if (!target) {
    return {
      ok: false,
      filtered: { rule: "unknown-status", reason: `status "${value.trim()}" (${label}) is not in the status table` },
    };
  }
  return { ok: true, source: value, target };
}
