/**
 * The field-mapper's logic, free of Node-RED: mapping rows (Marketo target field ← source),
 * sources (msg path, several msg paths joined, literal, env var, JSONata), transforms (Trim plus
 * lower / Proper / UPPER case), required flags and defaults, and coercion / validation against
 * the target field's Marketo metadata (type, length, read-only).
 *
 * Everything that can be decided once is decided in `compileMapping` (paths split, transforms
 * picked, JSONata prepared through a hook, target metadata looked up); mapping one message is
 * then property walks and string operations. The node's runtime and its dialog's preview both
 * go through `compileMapping` + `mapping.map`, so the preview shows exactly what the runtime does.
 */

import { newOwnPathWalk, readOwnPath, typeName } from "./paths";
import { errorText, isRecord, UNSAFE_KEYS } from "../node-kit/guards";

export const SOURCE_TYPES = ["msg", "concat", "str", "env", "jsonata"] as const;
export type SourceType = (typeof SOURCE_TYPES)[number];

export const CASES = ["none", "lower", "proper", "upper"] as const;

/**
 * Who owns a field once the lead exists: "overwrite" (every sync writes it), "ifBlank" (only
 * while Marketo has no value), "never" (written when the lead is created, never after).
 */
export const UPDATE_POLICIES = ["overwrite", "ifBlank", "never"] as const;
export type UpdatePolicy = (typeof UPDATE_POLICIES)[number];
export type CaseTransform = (typeof CASES)[number];

/** One mapping row as the node stores it in its `rows` property. */
export interface MappingRow {
  /** Marketo REST field name (the key in the record). */
  target: string;
  /**
   * msg: `source` is one msg path ("payload.profile.email"; a leading "msg." is accepted);
   * concat: `source` is several msg paths separated by commas, joined with `separator`;
   * str: `source` is the literal value; env: `source` is the variable name;
   * jsonata: `source` is the expression, evaluated against msg.
   */
  sourceType: SourceType;
  source: string;
  /** concat only; default one space. */
  separator?: string;
  trim?: boolean;
  case?: CaseTransform;
  required?: boolean;
  /** Used, as typed (no transform), when the source value is empty. "" = no default. */
  default?: string;
  /** Default "overwrite". */
  update?: UpdatePolicy;
}

/** Target-field metadata, as cached from Marketo's describe. */
export interface TargetField {
  name: string;
  displayName?: string;
  /** Marketo dataType: string, text, email, phone, url, integer, float, currency, boolean, date, datetime... */
  dataType: string;
  length?: number;
  readOnly?: boolean;
}

export type ProblemCode = "required" | "email" | "type" | "length" | "shape" | "readOnly" | "source" | "empty";

export interface Problem {
  /** The target field ("(record)" for a problem with the whole record). */
  field: string;
  code: ProblemCode;
  /** Human-readable reason. */
  problem: string;
  /** The offending value (long strings shortened), when there is one. */
  value?: unknown;
}

export interface MapOutcome {
  /** The Marketo record: target field → value, in row order; empty optional fields left out. */
  record: Record<string, unknown>;
  /** Every problem found; the record is valid when this is empty. */
  problems: Problem[];
}

/** How the runtime (or the preview) resolves env vars and JSONata; Node-RED supplies both. */
export interface SourceHooks {
  env?: (name: string) => unknown;
  /** Prepares an expression once; the returned function evaluates it against a message. Throws on syntax errors. */
  jsonata?: (expression: string) => (msg: unknown) => Promise<unknown>;
}

export interface CompiledMapping {
  readonly rows: readonly CompiledRow[];
  /** True when a JSONata row makes `map` return a promise. */
  readonly async: boolean;
  /** Non-fatal remarks on the configuration (unknown target, read-only target...). */
  readonly warnings: readonly string[];
  /** The fields whose rows do not overwrite, by policy; empty when every row overwrites. */
  readonly updatePolicies: Readonly<Record<string, Exclude<UpdatePolicy, "overwrite">>>;
  map(msg: unknown): MapOutcome | Promise<MapOutcome>;
}

export type CompileResult = { ok: true; mapping: CompiledMapping } | { ok: false; errors: string[] };

/** Marketo text-area fields hold up to 65,535 characters; no lead field holds more. */
export const MAX_TEXT_LENGTH = 65535;
/** RFC 5321 limit for a whole address. */
export const MAX_EMAIL_LENGTH = 254;
export const MAX_ROWS = 500;
const MAX_SOURCE_LENGTH = 10000;

/** Marketo REST field names: letters, digits, underscores (custom fields end in __c). */
const TARGET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Keys that could reach an object's prototype; refused as targets and in paths. */

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
const BLANK = /^\s*$/;

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

const CASE_FNS: Record<CaseTransform, ((s: string) => string) | undefined> = {
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

// ---------------------------------------------------------------------------------------------
// msg paths

/**
 * Splits a msg path ("payload.profile.email", "msg.payload['first name']", "payload.tags[0]")
 * into keys. Throws with a readable message on syntax Node-RED would refuse or on keys that
 * reach a prototype.
 */
export function parsePath(path: string): Array<string | number> {
  let p = path.trim();
  if (p.startsWith("msg.")) p = p.slice(4);
  else if (p.startsWith("msg[")) p = p.slice(3);
  if (p === "") throw new Error("empty msg path");
  const keys: Array<string | number> = [];
  let i = 0;
  const n = p.length;
  let expectKey = true;
  while (i < n) {
    const c = p[i];
    if (c === "[") {
      const q = p[i + 1];
      if (q === '"' || q === "'") {
        const end = p.indexOf(q, i + 2);
        if (end < 0 || p[end + 1] !== "]") throw new Error(`unterminated quoted key in "${path}"`);
        keys.push(p.slice(i + 2, end));
        i = end + 2;
      } else {
        const end = p.indexOf("]", i + 1);
        const inner = end < 0 ? "" : p.slice(i + 1, end).trim();
        if (!/^\d+$/.test(inner)) throw new Error(`"${path}": only numbers or quoted keys may go inside [ ]`);
        keys.push(Number(inner));
        i = end + 1;
      }
      expectKey = false;
    } else if (c === ".") {
      if (expectKey) throw new Error(`"${path}" has an empty key`);
      expectKey = true;
      i++;
    } else {
      if (!expectKey) throw new Error(`"${path}": expected "." or "[" at position ${i + 1}`);
      let j = i;
      while (j < n && p[j] !== "." && p[j] !== "[") j++;
      const key = p.slice(i, j);
      if (/[\s\]"']/.test(key))
        throw new Error(`"${path}": "${key}" is not a valid key (use ["..."] for keys with spaces or quotes)`);
      keys.push(key);
      i = j;
      expectKey = false;
    }
  }
  if (expectKey) throw new Error(`"${path}" ends with "."`);
  for (const k of keys) {
    if (typeof k === "string" && UNSAFE_KEYS.has(k))
      throw new Error(`"${path}" uses the key "${k}", which is not allowed`);
  }
  return keys;
}

/** Splits a concat source on commas that are not inside [ ] or quotes. */
export function splitPaths(source: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote = "";
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (quote) {
      if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "[") depth++;
    else if (c === "]") depth--;
    else if (c === "," && depth === 0) {
      out.push(source.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(source.slice(start).trim());
  return out.filter((s) => s !== "");
}

function showPath(keys: ReadonlyArray<string | number>, upto: number): string {
  let s = "msg";
  for (let i = 0; i < upto; i++) {
    const k = keys[i];
    s += typeof k === "number" ? `[${k}]` : /^[A-Za-z_$][\w$]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`;
  }
  return s;
}

/** A value that is not there; says why only when asked (most missing optional fields never are). */
class Missing {
  constructor(
    private readonly keys: ReadonlyArray<string | number>,
    private readonly depth: number,
    private readonly found: unknown,
  ) {}
  why(): string {
    if (this.depth === 0) return "msg is not an object";
    const at = showPath(this.keys, this.depth);
    if (this.found === undefined) return `${at} is missing`;
    return `${at} is ${typeName(this.found)}, not an object`;
  }
}

class Absent {
  constructor(private readonly reason: string) {}
  why(): string {
    return this.reason;
  }
}

type Raw = unknown;

/**
 * Precompiled own-property walker (the shared `readOwnPath`): never reads inherited properties
 * (no prototype access). Built once per path at deploy, with its own reusable result holder.
 */
function walker(keys: ReadonlyArray<string | number>): (msg: unknown) => Raw {
  const n = keys.length;
  const walk = newOwnPathWalk();
  return (msg) => {
    readOwnPath(msg, keys, walk);
    return walk.stoppedAt < n || walk.value === undefined
      ? new Missing(keys, walk.stoppedAt, walk.stoppedOn)
      : walk.value;
  };
}

// ---------------------------------------------------------------------------------------------
// Compiling rows

export interface CompiledRow {
  readonly target: string;
  /** How the source reads in messages: "msg.payload.profile.email", "env FOO"... */
  readonly label: string;
  readonly required: boolean;
}

interface RowImpl extends CompiledRow {
  read?: (msg: unknown) => Raw;
  jsonata?: (msg: unknown) => Promise<unknown>;
  trim: boolean;
  caseFn: ((s: string) => string) | undefined;
  dflt: string | undefined;
  dataType: string | undefined;
  length: number | undefined;
  readOnly: boolean;
}

class ShapeError {
  constructor(readonly problem: string) {}
}

/** Names of environment variables that hold secrets by convention (MARKETO_CLIENT_SECRET, DB_PASSWORD...). */
const SECRET_NAME = /SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|PRIVATE_?KEY|API_?KEY/i;

function describeSource(type: SourceType, source: string): string {
  switch (type) {
    case "msg":
      return showPath(parsePath(source), parsePath(source).length);
    case "concat":
      return splitPaths(source)
        .map((p) => showPath(parsePath(p), parsePath(p).length))
        .join(" + ");
    case "str":
      return "literal";
    case "env":
      return `env var ${source}`;
    case "jsonata":
      return "JSONata";
  }
}

function checkTargetFields(input: unknown, errors: string[]): Map<string, TargetField> {
  const map = new Map<string, TargetField>();
  if (input === undefined || input === null || input === "") return map;
  if (!Array.isArray(input)) {
    errors.push("targetFields must be an array");
    return map;
  }
  input.forEach((f, i) => {
    if (!isRecord(f) || typeof f.name !== "string" || typeof f.dataType !== "string") {
      errors.push(`targetFields[${i}] needs a name and a dataType`);
      return;
    }
    if (UNSAFE_KEYS.has(f.name)) {
      errors.push(`targetFields[${i}]: "${f.name}" is not an allowed field name`);
      return;
    }
    const tf: TargetField = { name: f.name, dataType: f.dataType };
    if (typeof f.displayName === "string") tf.displayName = f.displayName;
    if (typeof f.length === "number" && Number.isFinite(f.length) && f.length > 0) tf.length = f.length;
    if (f.readOnly === true) tf.readOnly = true;
    map.set(f.name, tf);
  });
  return map;
}

/**
 * Checks and compiles the node's rows against the cached target fields. Refuses (ok: false,
 * every error listed) rows that cannot work: a missing or unsafe target name, a target twice, an
 * unknown source type, a bad msg path, a JSONata syntax error.
 */
export function compileMapping(rowsInput: unknown, targetFieldsInput: unknown, hooks: SourceHooks = {}): CompileResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const fields = checkTargetFields(targetFieldsInput, errors);
  if (!Array.isArray(rowsInput)) return { ok: false, errors: ["rows must be an array of mapping rows", ...errors] };
  if (rowsInput.length === 0) errors.push("there are no mapping rows");
  if (rowsInput.length > MAX_ROWS)
    return { ok: false, errors: [`too many rows (${rowsInput.length}, at most ${MAX_ROWS})`] };
  const seen = new Set<string>();
  const rows: RowImpl[] = [];
  const policies: Record<string, Exclude<UpdatePolicy, "overwrite">> = {};
  rowsInput.forEach((r, i) => {
    const where = `row ${i + 1}`;
    if (!isRecord(r)) {
      errors.push(`${where} is not an object`);
      return;
    }
    const target = r.target;
    if (typeof target !== "string" || target.trim() === "") {
      errors.push(`${where}: the target field is empty`);
      return;
    }
    const at = `${where} (${target})`;
    if (UNSAFE_KEYS.has(target)) {
      errors.push(`${at}: "${target}" is not allowed as a field name`);
      return;
    }
    if (!TARGET_NAME.test(target)) {
      errors.push(`${at}: a Marketo REST field name has only letters, digits and underscores`);
      return;
    }
    if (seen.has(target)) errors.push(`${at}: the target field is mapped twice`);
    seen.add(target);
    const sourceType = r.sourceType ?? "msg";
    if (typeof sourceType !== "string" || !(SOURCE_TYPES as readonly string[]).includes(sourceType)) {
      errors.push(`${at}: unknown source type "${String(sourceType)}"`);
      return;
    }
    const source = r.source ?? "";
    if (typeof source !== "string") {
      errors.push(`${at}: the source must be text`);
      return;
    }
    if (source.length > MAX_SOURCE_LENGTH) {
      errors.push(`${at}: the source is longer than ${MAX_SOURCE_LENGTH} characters`);
      return;
    }
    const kase = r.case ?? "none";
    if (typeof kase !== "string" || !(CASES as readonly string[]).includes(kase)) {
      errors.push(`${at}: case must be one of ${CASES.join(", ")}`);
      return;
    }
    for (const b of ["trim", "required"] as const) {
      if (r[b] !== undefined && typeof r[b] !== "boolean") errors.push(`${at}: ${b} must be true or false`);
    }
    const dflt = r.default ?? "";
    if (typeof dflt !== "string" || dflt.length > MAX_SOURCE_LENGTH) {
      errors.push(`${at}: the default must be text (at most ${MAX_SOURCE_LENGTH} characters)`);
      return;
    }
    const separator = r.separator ?? " ";
    if (typeof separator !== "string" || separator.length > 100) {
      errors.push(`${at}: the separator must be text (at most 100 characters)`);
      return;
    }
    const update = r.update ?? "overwrite";
    if (typeof update !== "string" || !(UPDATE_POLICIES as readonly string[]).includes(update)) {
      errors.push(`${at}: update must be one of ${UPDATE_POLICIES.join(", ")}`);
      return;
    }
    if (update !== "overwrite") {
      if (target === "email") {
        errors.push(`${at}: the email finds the lead, so it is always written`);
        return;
      }
      policies[target] = update as Exclude<UpdatePolicy, "overwrite">;
    }
    const meta = fields.get(target);
    if (fields.size > 0 && !meta)
      warnings.push(`${target}: not among the cached Marketo fields (refresh target fields, or Marketo may refuse it)`);
    if (meta?.readOnly) warnings.push(`${target}: read-only in Marketo; records with a value for it go to output 2`);
    const row: RowImpl = {
      target,
      label: "",
      required: r.required === true,
      trim: r.trim === true,
      caseFn: CASE_FNS[kase as CaseTransform],
      dflt: dflt === "" ? undefined : dflt,
      dataType: meta ? meta.dataType : target === "email" ? "email" : undefined,
      length: meta?.length,
      readOnly: meta?.readOnly === true,
    };
    try {
      (row as { label: string }).label = compileSource(row, sourceType as SourceType, source, separator, hooks);
    } catch (err) {
      errors.push(`${at}: ${errorText(err)}`);
      return;
    }
    rows.push(row);
  });
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, mapping: new Mapping(rows, warnings, policies) };
}

function compileSource(row: RowImpl, type: SourceType, source: string, separator: string, hooks: SourceHooks): string {
  switch (type) {
    case "msg": {
      row.read = walker(parsePath(source));
      break;
    }
    case "concat": {
      const parts = splitPaths(source);
      if (parts.length === 0) throw new Error("list one or more msg paths, separated by commas");
      const walkers = parts.map((p) => walker(parsePath(p)));
      const labels = parts.map((p) => showPath(parsePath(p), parsePath(p).length));
      row.read = (msg) => {
        let out: string | undefined;
        for (let i = 0; i < walkers.length; i++) {
          const v = walkers[i](msg);
          if (v instanceof Missing || v === null) continue;
          let s: string;
          if (typeof v === "string") s = v;
          else if (typeof v === "number" || typeof v === "boolean") s = String(v);
          else return new ShapeError(`${labels[i]} is ${typeName(v)}; only text and numbers can be joined`);
          if (BLANK.test(s)) continue;
          out = out === undefined ? s : out + separator + s;
        }
        return out === undefined ? new Absent(`${labels.join(" + ")} are all empty or missing`) : out;
      };
      break;
    }
    case "str": {
      row.read = () => source;
      break;
    }
    case "env": {
      const name = source.trim();
      if (name === "") throw new Error("name the environment variable");
      // A lead field is data Marketo stores and shows, and the dialog's preview answers with the
      // value: a secret (the Marketo client secret is often an env var) must reach neither.
      const secret = SECRET_NAME.exec(name);
      if (secret)
        throw new Error(
          `environment variable ${name} looks like a secret (its name says ${secret[0]}): field-mapper does not copy secrets into lead records`,
        );
      const env = hooks.env ?? ((n: string) => process.env[n]);
      const absent = new Absent(`environment variable ${name} is not set`);
      row.read = () => {
        const v = env(name);
        return v === undefined || v === null ? absent : v;
      };
      break;
    }
    case "jsonata": {
      if (source.trim() === "") throw new Error("the JSONata expression is empty");
      if (!hooks.jsonata) throw new Error("JSONata is not available here");
      try {
        row.jsonata = hooks.jsonata(source);
      } catch (err) {
        const e = err as { message?: string; position?: number };
        throw new Error(
          `invalid JSONata expression: ${e.message ?? String(err)}${typeof e.position === "number" ? ` (at ${e.position})` : ""}`,
        );
      }
      break;
    }
  }
  return describeSource(type, source);
}

function shortValue(v: unknown): unknown {
  if (typeof v === "string" && v.length > 120) return `${v.slice(0, 100)}… (${v.length} characters)`;
  return v;
}

/** Longest JSONata error message kept in a problem: some quote the offending value, which may be huge. */
const MAX_ERROR_TEXT = 200;

class JsonataFailure {
  readonly message: string;
  constructor(message: string) {
    this.message =
      message.length > MAX_ERROR_TEXT ? `${message.slice(0, MAX_ERROR_TEXT)}… (${message.length} characters)` : message;
  }
}

class Mapping implements CompiledMapping {
  readonly async: boolean;
  private readonly jsonataRows: RowImpl[];
  constructor(
    readonly rows: readonly RowImpl[],
    readonly warnings: readonly string[],
    readonly updatePolicies: Readonly<Record<string, Exclude<UpdatePolicy, "overwrite">>> = {},
  ) {
    this.jsonataRows = rows.filter((r) => r.jsonata !== undefined);
    this.async = this.jsonataRows.length > 0;
  }

  map(msg: unknown): MapOutcome | Promise<MapOutcome> {
    if (!this.async) return this.build(msg, undefined);
    return Promise.all(
      this.jsonataRows.map((r) =>
        (r.jsonata as (m: unknown) => Promise<unknown>)(msg).then(
          (v) => v,
          (err: unknown) => new JsonataFailure(errorText(err)),
        ),
      ),
    ).then((values) => {
      const byRow = new Map<RowImpl, unknown>();
      this.jsonataRows.forEach((r, i) => byRow.set(r, values[i]));
      return this.build(msg, byRow);
    });
  }

  private build(msg: unknown, jsonataValues: Map<RowImpl, unknown> | undefined): MapOutcome {
    const record: Record<string, unknown> = {};
    const problems: Problem[] = [];
    for (const row of this.rows) {
      let raw: unknown = row.read ? row.read(msg) : jsonataValues?.get(row);
      if (raw instanceof JsonataFailure) {
        problems.push({ field: row.target, code: "source", problem: `JSONata expression failed: ${raw.message}` });
        continue;
      }
      if (raw instanceof ShapeError) {
        problems.push({ field: row.target, code: "shape", problem: raw.problem });
        continue;
      }
      let why: Missing | Absent | undefined;
      if (raw instanceof Missing || raw instanceof Absent) {
        why = raw;
        raw = undefined;
      }
      let v: string | number | boolean | undefined;
      if (raw === undefined || raw === null) v = undefined;
      else if (typeof raw === "string") {
        // Trim first and refuse absurd sizes before any case transform works through them.
        v = row.trim ? raw.trim() : raw;
        if (v.length > MAX_TEXT_LENGTH) {
          problems.push({
            field: row.target,
            code: "length",
            problem: `too long: ${v.length} characters, no Marketo field holds more than ${MAX_TEXT_LENGTH}`,
            value: shortValue(v),
          });
          continue;
        }
        if (row.caseFn) v = row.caseFn(v);
      } else if (typeof raw === "number") {
        if (!Number.isFinite(raw)) {
          problems.push({
            field: row.target,
            code: "type",
            problem: `${row.label} is not a finite number`,
            value: String(raw),
          });
          continue;
        }
        v = raw;
      } else if (typeof raw === "boolean") v = raw;
      else if (raw instanceof Date) {
        if (Number.isNaN(raw.getTime())) {
          problems.push({ field: row.target, code: "type", problem: `${row.label} is an invalid date` });
          continue;
        }
        v = raw.toISOString();
      } else {
        problems.push({
          field: row.target,
          code: "shape",
          problem: `${row.label} is ${typeName(raw)}; expected a single value (text, number or boolean)`,
        });
        continue;
      }

      if (v === undefined || (typeof v === "string" && (v.length === 0 || (!row.trim && BLANK.test(v))))) {
        if (row.dflt !== undefined) v = row.dflt;
        else {
          if (row.required) {
            const because = why ? why.why() : `${row.label} is empty`;
            problems.push({ field: row.target, code: "required", problem: `required but empty: ${because}` });
          }
          continue;
        }
      }
      if (row.readOnly) {
        problems.push({ field: row.target, code: "readOnly", problem: "read-only in Marketo", value: shortValue(v) });
        continue;
      }
      const c = coerceValue(v, row.dataType, row.length);
      if (c.ok) record[row.target] = c.value;
      else problems.push({ field: row.target, code: c.code, problem: c.problem, value: shortValue(v) });
    }
    if (problems.length === 0 && Object.keys(record).length === 0) {
      problems.push({ field: "(record)", code: "empty", problem: "no field has a value: the record would be empty" });
    }
    return { record, problems };
  }
}

/** One line for `msg.filtered.reason`: "2 problems: email: not a valid email address; firstName: required but empty: ...". */
export function problemsReason(problems: readonly Problem[]): string {
  const head = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
  return `${head}: ${problems.map((p) => `${p.field}: ${p.problem}`).join("; ")}`;
}

// ---------------------------------------------------------------------------------------------
// Preview (the admin route's input, checked)

export interface PreviewRequest {
  rows: unknown;
  targetFields: unknown;
  msg: Record<string, unknown>;
  id?: string;
}

/** Checks the preview route's body; returns the request or the reason for a 400. */
export function parsePreviewBody(body: unknown): { ok: true; request: PreviewRequest } | { ok: false; error: string } {
  if (!isRecord(body)) return { ok: false, error: "the body must be a JSON object {rows, targetFields, msg}" };
  if (!Array.isArray(body.rows)) return { ok: false, error: "rows must be an array of mapping rows" };
  if (body.targetFields !== undefined && body.targetFields !== null && !Array.isArray(body.targetFields)) {
    return { ok: false, error: "targetFields must be an array" };
  }
  let msg: unknown = body.msg;
  if (typeof msg === "string") {
    try {
      msg = JSON.parse(msg);
    } catch (err) {
      return { ok: false, error: `the sample message is not valid JSON: ${(err as Error).message}` };
    }
  }
  if (!isRecord(msg))
    return { ok: false, error: 'the sample message must be a JSON object, e.g. {"topic": ..., "payload": {...}}' };
  const id = typeof body.id === "string" && body.id !== "" ? body.id : undefined;
  return { ok: true, request: { rows: body.rows, targetFields: body.targetFields, msg, id } };
}
