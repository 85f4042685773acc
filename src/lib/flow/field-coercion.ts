/**
 * Transforms and coercion for the field-mapper: Trim and lower / Proper / UPPER case, email
 * checks, and turning a text or number into the value a Marketo field of a given type takes.
 */
import { typeName } from "./paths";
import type { CaseTransform, ProblemCode } from "./field-mapping-rows";

/** Marketo text-area fields hold up to 65,535 characters; no lead field holds more. */
export const MAX_TEXT_LENGTH = 65535;
/** RFC 5321 limit for a whole address. */
export const MAX_EMAIL_LENGTH = 254;

const STRING_TYPES = new Set(["string", "text", "email", "phone", "url", "reference"]);
const INTEGER_TYPES = new Set(["integer", "score", "link"]);
const FLOAT_TYPES = new Set(["float", "currency", "percent"]);
const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const NON_ASCII = /[^\x00-\x7f]/;
// ASCII, one @, a local part of atext / dot-atoms, a dotted domain. Linear-time (no nested
// ambiguous quantifiers), and only run on strings of at most MAX_EMAIL_LENGTH.
const EMAIL =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$/;
/** Whitespace only: a blank value counts as no value. */
export const BLANK = /^\s*$/;

// ---------------------------------------------------------------------------------------------
// Transforms

/** Proper Case: every word starts upper-case, the rest lower-case. Word starts are after a
 * non-letter (space, hyphen, slash, parenthesis...); after an apostrophe only when one letter
 * precedes it (O'Neil, d'Arcy → D'Arcy) so "don't" stays "Don't". Unicode-aware. */
export function properCase(text: string): string {
  const lower = text.toLowerCase();
  return lower
    .replace(/(^|[^\p{L}\p{M}\p{N}'’])(\p{L})/gu, (_m, pre: string, ch: string) => pre + ch.toUpperCase())
    .replace(
      /(^|[^\p{L}\p{M}\p{N}])(\p{L}\p{M}*)(['’])(\p{Ll})/gu,
      (_m, pre: string, one: string, ap: string, ch: string) => pre + one + ap + ch.toUpperCase(),
    );
}

export const CASE_FNS: Record<CaseTransform, ((s: string) => string) | undefined> = {
  none: undefined,
  lower: (s) => s.toLowerCase(),
  upper: (s) => s.toUpperCase(),
  proper: properCase,
};

/** Applies a row's transform to a text value (Trim first, then the case). */
export function transformText(text: string, trim: boolean, kase: CaseTransform): string {
  const t = trim ? text.trim() : text;
  const fn = CASE_FNS[kase];
  return fn ? fn(t) : t;
}

// ---------------------------------------------------------------------------------------------
// Email and type coercion

export function emailProblem(value: string): string | undefined {
  if (value.length > MAX_EMAIL_LENGTH) return `not a valid email address: longer than ${MAX_EMAIL_LENGTH} characters`;
  if (NON_ASCII.test(value)) return "not a valid email address: Marketo accepts ASCII email addresses only";
  if (!EMAIL.test(value)) return "not a valid email address";
  return undefined;
}

export function isEmail(value: string): boolean {
  return emailProblem(value) === undefined;
}

type Coerced = { ok: true; value: unknown } | { ok: false; code: ProblemCode; problem: string };

function fail(code: ProblemCode, problem: string): Coerced {
  return { ok: false, code, problem };
}

function isoDateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Converts a non-empty scalar into what Marketo stores for a field of `dataType`, or says why it
 * does not fit. `dataType` undefined = no metadata: the value passes as given.
 */
export function coerceValue(value: string | number | boolean, dataType: string | undefined, length?: number): Coerced {
  if (dataType === undefined) {
    if (typeof value === "string" && value.length > MAX_TEXT_LENGTH) {
      return fail(
        "length",
        `too long: ${value.length} characters, no Marketo field holds more than ${MAX_TEXT_LENGTH}`,
      );
    }
    return { ok: true, value };
  }
  if (STRING_TYPES.has(dataType)) {
    if (dataType === "email" && typeof value !== "string")
      return fail("email", `not a valid email address: expected text, got ${typeName(value)}`);
    const text = typeof value === "string" ? value : String(value);
    const max = length ?? MAX_TEXT_LENGTH;
    if (text.length > max) return fail("length", `too long: ${text.length} characters, the field holds ${max}`);
    if (dataType === "email") {
      const p = emailProblem(text);
      if (p) return fail("email", p);
    }
    return { ok: true, value: text };
  }
  const text = typeof value === "string" ? value.trim() : undefined;
  if (INTEGER_TYPES.has(dataType)) {
    const n = typeof value === "number" ? value : text !== undefined && INTEGER.test(text) ? Number(text) : NaN;
    return Number.isSafeInteger(n)
      ? { ok: true, value: n }
      : fail(
          "type",
          `expected a whole number (${dataType}), got ${typeof value === "string" ? "text" : typeName(value)}`,
        );
  }
  if (FLOAT_TYPES.has(dataType)) {
    const n = typeof value === "number" ? value : text !== undefined && NUMBER.test(text) ? Number(text) : NaN;
    return Number.isFinite(n)
      ? { ok: true, value: n }
      : fail("type", `expected a number (${dataType}), got ${typeof value === "string" ? "text" : typeName(value)}`);
  }
  if (dataType === "boolean") {
    const s = typeof value === "string" ? (text as string).toLowerCase() : String(value);
    if (s === "true" || s === "1") return { ok: true, value: true };
    if (s === "false" || s === "0") return { ok: true, value: false };
    return fail("type", "expected a boolean (true/false, 1/0)");
  }
  if (dataType === "date") {
    if (text === undefined)
      return fail("type", `expected a date (YYYY-MM-DD or an ISO date-time), got ${typeName(value)}`);
    const m = DATE.exec(text);
    if (m) {
      const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
      return d.toISOString().slice(0, 10) === text ? { ok: true, value: text } : fail("type", "not a calendar date");
    }
    const ms = Date.parse(text);
    return Number.isNaN(ms)
      ? fail("type", "expected a date (YYYY-MM-DD or an ISO date-time)")
      : { ok: true, value: new Date(ms).toISOString().slice(0, 10) };
  }
  if (dataType === "datetime") {
    if (text === undefined) return fail("type", `expected a date-time (ISO 8601), got ${typeName(value)}`);
    const ms = Date.parse(text);
    return Number.isNaN(ms) ? fail("type", "expected a date-time (ISO 8601)") : { ok: true, value: isoDateTime(ms) };
  }
  // Types Marketo describes but the mapper has no rule for (lead_function...): text, as given.
  if (typeof value === "string" && value.length > MAX_TEXT_LENGTH) {
    return fail("length", `too long: ${value.length} characters, no Marketo field holds more than ${MAX_TEXT_LENGTH}`);
  }
  return { ok: true, value };
}
