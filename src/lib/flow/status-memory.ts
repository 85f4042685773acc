/**
 * The status-mapper's memory of the last status sent per (lead, program), and the backward-move
 * policy built on it. Pure: the node persists the memory through a context store.
 *
 * Marketo's Sync Program Member Status skips (1037 "already in or past this status") any status
 * whose step is not above the member's current one. The node applies the same rule before the
 * call, so users see the skip on output 2 with a reason instead of a silent 1037:
 *   - first status for the lead and program → "first" (sent);
 *   - a higher step → "forward" (sent);
 *   - the very same status again → "unchanged" (sent by default: harmless, and it lets a replay
 *     after a failed Marketo call go through; the repeat option can skip it instead);
 *   - a lower step, or the same step under another name (Confirmed after autoConfirmed) →
 *     "backward" (the backward policy decides: skip, pass or error).
 */
import type { ProgramStatus } from "./status-ladder";

export type Move = "first" | "forward" | "unchanged" | "backward";

export interface Remembered {
  name: string;
  step: number;
}

export function classifyMove(last: Remembered | undefined, next: ProgramStatus): Move {
  if (!last) return "first";
  if (next.name === last.name) return "unchanged";
  return next.step > last.step ? "forward" : "backward";
}

/** "force": sent with the force flag, so the program status node removes the member and sets it again. */
export type BackwardPolicy = "skip" | "pass" | "error" | "force";
export type RepeatPolicy = "pass" | "skip";
export type Decision = "send" | "skip" | "error";

export function decide(move: Move, backward: BackwardPolicy, repeat: RepeatPolicy): Decision {
  if (move === "backward") return backward === "pass" || backward === "force" ? "send" : backward;
  if (move === "unchanged") return repeat === "skip" ? "skip" : "send";
  return "send";
}

function programText(program: string): string {
  return program === "" ? "" : ` in program ${program}`;
}

/** `Registered (30) is below Attended (50) already sent for this lead in program 1001`. */
export function backwardReason(next: ProgramStatus, last: Remembered, program: string): string {
  const where = `already sent for this lead${programText(program)}`;
  if (next.step === last.step) {
    return `${next.name} (${next.step}) is at the same step as ${last.name} (${last.step}) ${where}; Marketo would skip it (1037)`;
  }
  return `${next.name} (${next.step}) is below ${last.name} (${last.step}) ${where}`;
}

export function unchangedReason(next: ProgramStatus, program: string): string {
  return `${next.name} (${next.step}) was already sent for this lead${programText(program)}`;
}

/** Longest lead key kept (an email is at most 254 characters). */
export const MAX_LEAD_KEY_LENGTH = 320;

/**
 * The lead half of the memory key: strings trimmed and lower-cased (Marketo matches emails
 * case-insensitively), whole numbers as their digits. Anything else (missing, empty, too long,
 * objects, arrays) gives undefined.
 */
export function leadKey(v: unknown): string | undefined {
  if (typeof v === "string") {
    const k = v.trim().toLowerCase();
    return k === "" || k.length > MAX_LEAD_KEY_LENGTH ? undefined : k;
  }
  if (typeof v === "number" && Number.isSafeInteger(v)) return String(v);
  return undefined;
}

/**
 * The program half: a positive whole number (or its digits). `undefined` and `""` mean "no
 * program" (returned as ""); anything else is invalid (null).
 */
export function programKey(v: unknown): string | null {
  if (v === undefined || v === null || v === "") return "";
  if (typeof v === "number") return Number.isSafeInteger(v) && v > 0 ? String(v) : null;
  if (typeof v === "string" && /^\s*\d{1,15}\s*$/.test(v)) {
    const n = Number(v);
    return n > 0 ? String(n) : null;
  }
  return null;
}

export function memoryKey(lead: string, program: string): string {
  return `${program}\u0000${lead}`;
}

export const DEFAULT_MAX_LEADS = 100_000;

/** What the memory looks like in a context store: oldest first, `[key, step, name]`. */
export interface MemoryData {
  v: 1;
  entries: Array<[string, number, string]>;
}

/**
 * Last status per key, bounded: past `max` entries the least recently updated one is forgotten
 * (a Map keeps insertion order; an update re-inserts). Serialises through `toJSON`, so a file
 * context store writes it as `MemoryData`.
 */
export class StatusMemory {
  private readonly map = new Map<string, Remembered>();
  readonly max: number;

  constructor(max: number = DEFAULT_MAX_LEADS) {
    this.max = Number.isSafeInteger(max) && max >= 1 ? max : DEFAULT_MAX_LEADS;
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): Remembered | undefined {
    return this.map.get(key);
  }

  set(key: string, status: ProgramStatus): void {
    this.map.delete(key);
    this.map.set(key, { name: status.name, step: status.step });
    if (this.map.size > this.max) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  clear(): void {
    this.map.clear();
  }

  toJSON(): MemoryData {
    const entries: MemoryData["entries"] = [];
    for (const [k, r] of this.map) entries.push([k, r.step, r.name]);
    return { v: 1, entries };
  }

  /**
   * Rebuilds from what a context store returned: a `StatusMemory` (memory store, same process),
   * its JSON form (file store after a restart), or anything else (ignored → empty). Only the
   * newest `max` entries are kept.
   */
  static from(data: unknown, max: number = DEFAULT_MAX_LEADS): StatusMemory {
    const m = new StatusMemory(max);
    const json: unknown = data instanceof StatusMemory ? data.toJSON() : data;
    if (!json || typeof json !== "object" || !Array.isArray((json as MemoryData).entries)) return m;
    const entries = (json as MemoryData).entries;
    for (let i = Math.max(0, entries.length - m.max); i < entries.length; i++) {
      const e = entries[i];
      if (
        Array.isArray(e) &&
        typeof e[0] === "string" &&
        typeof e[1] === "number" &&
        Number.isFinite(e[1]) &&
        typeof e[2] === "string"
      ) {
        m.set(e[0], { name: e[2], step: e[1], success: false });
      }
    }
    return m;
  }
}
