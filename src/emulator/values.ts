/**
 * The one value coercer for typed fields: Sync Leads, custom activities, custom objects, bulk
 * rows and form fills all validate through it, so a value Marketo accepts in one place is
 * accepted everywhere. Marketo accepts JSON numbers or their string forms (bulk files only have
 * strings), and rejects a value that does not fit the declared type with 1003.
 */
import { leadDbDate } from "./common";
import type { FieldDataType } from "./types";

export type { FieldDataType };

/** What `coerce` needs to know about a field: its name (for the message), type and max length. */
export interface TypedField {
  name: string;
  dataType: FieldDataType;
  length?: number;
}

export type Coerced = { ok: true; value: unknown } | { ok: false; message: string };

const STRING_TYPES = new Set<FieldDataType>(["string", "text", "phone", "url", "email", "reference"]);
// Marketo requires ASCII email addresses: printable ASCII other than `@` on
// either side of the one `@`, and a dot in the domain.
const EMAIL = /^[\x21-\x3f\x41-\x7e]+@[\x21-\x3f\x41-\x7e]+\.[\x21-\x3f\x41-\x7e]+$/;
const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isEmail(value: string): boolean {
  return EMAIL.test(value);
}

/** String-like types keep the client's text (subject to `length`); the others are parsed. */
export function isStringType(dataType: FieldDataType): boolean {
  return STRING_TYPES.has(dataType);
}

/** Converts a value sent by a client into the stored form for `field`, or says why it cannot. */
export function coerce(field: TypedField, value: unknown): Coerced {
  // null (and an absent value) clears the field.
  if (value === null || value === undefined) return { ok: true, value: null };
  const bad: Coerced = { ok: false, message: invalidValueMessage(field.name, value) };
  if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") return bad;
  if (STRING_TYPES.has(field.dataType)) {
    const text = String(value);
    if (field.length !== undefined && text.length > field.length) {
      return { ok: false, message: `Value for field '${field.name}' exceeds max length ${field.length}` };
    }
    if (field.dataType === "email" && text !== "" && !isEmail(text)) return bad;
    return { ok: true, value: text };
  }
  // CSV imports and form posts send empty cells for "no value".
  if (value === "") return { ok: true, value: null };
  const text = typeof value === "string" ? value.trim() : undefined;
  switch (field.dataType) {
    case "integer":
    case "score":
    case "link": {
      const n = typeof value === "number" ? value : text !== undefined && INTEGER.test(text) ? Number(text) : NaN;
      return Number.isSafeInteger(n) ? { ok: true, value: n } : bad;
    }
    case "float":
    case "currency": {
      const n = typeof value === "number" ? value : text !== undefined && NUMBER.test(text) ? Number(text) : NaN;
      return Number.isFinite(n) ? { ok: true, value: n } : bad;
    }
    case "boolean": {
      const s = String(value).trim().toLowerCase();
      if (s === "true" || s === "1") return { ok: true, value: true };
      if (s === "false" || s === "0") return { ok: true, value: false };
      return bad;
    }
    case "date": {
      const m = text === undefined ? null : DATE.exec(text);
      if (!m) return bad;
      // Date.UTC rolls 1990-02-30 over into March; a real calendar date survives the round trip.
      const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
      return d.toISOString().slice(0, 10) === text ? { ok: true, value: text } : bad;
    }
    case "datetime": {
      const ms = text === undefined ? NaN : Date.parse(text);
      return Number.isNaN(ms) ? bad : { ok: true, value: leadDbDate(ms) };
    }
    default:
      return bad;
  }
}

/** Marketo's message for a value of the wrong type (as recorded from a live instance). */
export function invalidValueMessage(field: string, value: unknown): string {
  return `Invalid value for field '${field}' and value '${typeof value === "string" ? value : (JSON.stringify(value) ?? String(value))}'`;
}
