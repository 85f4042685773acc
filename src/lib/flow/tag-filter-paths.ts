/**
 * Safe reading of message data for the tag-filter: property paths parsed once at deploy, own
 * properties only (never the prototype chain), limits on what one message may make us read, and
 * short printable descriptions of values for rejection reasons. No Node-RED import.
 */

import { isRecord } from "../node-kit/guards";
import { newOwnPathWalk, readOwnPath, splitPath, typeName as sharedTypeName } from "./paths";

/** Longest string the filter reads (topics, tags, field values); longer ones are rejected. */
export const MAX_TEXT = 10_000;
/** Longest list the filter reads (tag lists, list-valued fields); longer ones are rejected. */
export const MAX_LIST = 1_000;

export type PathSegment = string | number;

/**
 * Parses a property expression such as `payload`, `payload.event`, `questions["Campaign Id"]`
 * or `tags[0]` into segments. Throws an Error naming the problem for an empty path, a malformed
 * bracket, or a forbidden key (`__proto__`, `constructor`, `prototype`).
 */
export function parsePath(expr: unknown, what: string): PathSegment[] {
  if (typeof expr !== "string") throw new Error(`${what} must be a text path, not ${typeName(expr)}`);
  const src = expr.trim();
  const split = splitPath(src, { spacedNames: true });
  if (split.ok) return split.keys;
  const p = split.problem;
  switch (p.kind) {
    case "empty":
      throw new Error(`${what} is empty`);
    case "unclosed":
      throw new Error(`${what} "${src}" has an unclosed [`);
    case "unterminated-quote":
      throw new Error(`${what} "${src}" has a quoted key without its closing quote and ]`);
    case "bad-index":
      throw new Error(`${what} "${src}" has an invalid index [${p.inner}]`);
    case "empty-part":
    case "bad-key":
      throw new Error(`${what} "${src}" has an empty part`);
    case "needs-dot":
      throw new Error(`${what} "${src}" needs a . before "${p.rest}"`);
    case "ends-with-dot":
      throw new Error(`${what} "${src}" ends with a .`);
    case "unsafe-key":
      throw new Error(`${what} "${src}" uses the forbidden key "${p.key}"`);
  }
}

/** `["payload","event"]` → `payload.event`; used to name paths in reasons. */
export function formatPath(segs: readonly PathSegment[]): string {
  let s = "";
  for (const seg of segs) {
    if (typeof seg === "number") s += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(seg)) s += s === "" ? seg : `.${seg}`;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}

const hasOwn = Object.prototype.hasOwnProperty;

/** An own property of a plain object (or an array element), else undefined. */
export function own(obj: unknown, key: PathSegment): unknown {
  if (obj === null || typeof obj !== "object") return undefined;
  if (typeof key === "number")
    return Array.isArray(obj) ? obj[key] : hasOwn.call(obj, key) ? (obj as Record<number, unknown>)[key] : undefined;
  return hasOwn.call(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
}

const walk = newOwnPathWalk();

/** Follows pre-parsed segments through own properties only; undefined when a step is not an object. */
export function readPath(obj: unknown, segs: readonly PathSegment[]): unknown {
  return readOwnPath(obj, segs, walk).value;
}

/** A plain (non-array) object holding fields: a Buffer payload (a binary webhook body) is not an event. */
export function isFieldObject(v: unknown): v is Record<string, unknown> {
  return isRecord(v) && !ArrayBuffer.isView(v);
}

/** "a string", "a number", "a list", "an object", "a Buffer", "null", "missing"... for reasons. */
export function typeName(v: unknown): string {
  if (Buffer.isBuffer(v)) return "a Buffer";
  return Array.isArray(v) ? "a list" : sharedTypeName(v);
}

const SHOW = 60;

/** A short printable form of a value for reasons: `"Registered"`, `42`, `[a, b]`. */
export function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > SHOW ? `${v.slice(0, SHOW)}…` : v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v === undefined) return "missing";
  if (v === null) return "null";
  if (Array.isArray(v)) return showList(v);
  return "an object";
}

/** `[a, b, c]` with at most 10 entries shown, each shortened. */
export function showList(list: readonly unknown[]): string {
  const parts: string[] = [];
  for (let i = 0; i < list.length && i < 10; i++) {
    const x = list[i];
    parts.push(typeof x === "string" ? (x.length > SHOW ? `${x.slice(0, SHOW)}…` : x) : show(x));
  }
  if (list.length > 10) parts.push(`… ${list.length - 10} more`);
  return `[${parts.join(", ")}]`;
}

/** Tag and topic normalisation: case- and surrounding-space-insensitive. */
export function normTag(s: string): string {
  return s.trim().toLowerCase();
}

/** A number when the text (or number) is a finite number, else undefined. */
export function asNumber(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v !== "string" || v.trim() === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

const ISO_DATE = /^\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?\s*$/;

/** Milliseconds since the epoch when the text is an ISO 8601 date (or date-time), else undefined. */
export function asIsoDate(v: unknown): number | undefined {
  if (typeof v !== "string" || !ISO_DATE.test(v)) return undefined;
  const t = Date.parse(v.trim());
  return Number.isFinite(t) ? t : undefined;
}
