/**
 * Value checks for typed fields of custom activities, custom objects and bulk rows. Marketo
 * accepts JSON numbers or their string forms (bulk files only have strings), and rejects a
 * value that does not fit the declared type with 1003.
 */
import { leadDbDate } from "./common";

export type FieldDataType =
  | "string"
  | "text"
  | "email"
  | "phone"
  | "url"
  | "integer"
  | "float"
  | "currency"
  | "boolean"
  | "date"
  | "datetime"
  | "link"
  | "score"
  | "reference";

export type Coerced = { ok: true; value: unknown } | { ok: false };

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function isEmail(value: string): boolean {
  // Marketo requires ASCII email addresses (reference §6.1).
  return EMAIL.test(value) && /^[\x21-\x7e]+$/.test(value);
}

/** Coerces `value` to `dataType`; `null` always passes (it clears the field). */
export function coerce(dataType: FieldDataType, value: unknown, length?: number): Coerced {
  if (value === null) return { ok: true, value: null };
  switch (dataType) {
    case "string":
    case "text":
    case "phone":
    case "url":
    case "reference": {
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
        return { ok: false };
      }
      const text = String(value);
      if (length !== undefined && text.length > length) return { ok: false };
      return { ok: true, value: text };
    }
    case "email":
      return typeof value === "string" && (value === "" || isEmail(value)) ? { ok: true, value } : { ok: false };
    case "integer":
    case "score":
    case "link": {
      if (typeof value === "number") {
        return Number.isInteger(value) ? { ok: true, value } : { ok: false };
      }
      if (typeof value === "string" && INTEGER.test(value.trim())) {
        return { ok: true, value: Number(value.trim()) };
      }
      return { ok: false };
    }
    case "float":
    case "currency": {
      if (typeof value === "number") return Number.isFinite(value) ? { ok: true, value } : { ok: false };
      if (typeof value === "string" && NUMBER.test(value.trim())) {
        return { ok: true, value: Number(value.trim()) };
      }
      return { ok: false };
    }
    case "boolean": {
      if (typeof value === "boolean") return { ok: true, value };
      if (value === 1 || value === 0) return { ok: true, value: value === 1 };
      if (typeof value === "string") {
        const lower = value.trim().toLowerCase();
        if (lower === "true" || lower === "1") return { ok: true, value: true };
        if (lower === "false" || lower === "0") return { ok: true, value: false };
      }
      return { ok: false };
    }
    case "date":
      return typeof value === "string" && DATE.test(value) && !Number.isNaN(Date.parse(value))
        ? { ok: true, value }
        : { ok: false };
    case "datetime": {
      if (typeof value !== "string") return { ok: false };
      const ms = Date.parse(value);
      return Number.isNaN(ms) ? { ok: false } : { ok: true, value: leadDbDate(ms) };
    }
  }
}

/** Marketo's message for a value of the wrong type (as recorded from a live instance). */
export function invalidValueMessage(field: string, value: unknown): string {
  return `Invalid value for field '${field}' and value '${typeof value === "string" ? value : JSON.stringify(value)}'`;
}
