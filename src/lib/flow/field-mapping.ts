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
 *
 * This file compiles rows; the other jobs live beside it: field-mapping-rows.ts (the settings'
 * shapes), field-paths.ts (msg paths), field-coercion.ts (transforms and types),
 * field-mapping-apply.ts (mapping a message), field-mapping-preview.ts (the dialog's preview).
 */

import { errorText, isRecord, UNSAFE_KEYS } from "../node-kit/guards";
import { typeName } from "./paths";
import { BLANK, CASE_FNS } from "./field-coercion";
import { Absent, Missing, parsePath, ShapeError, showPath, splitPaths, walker } from "./field-paths";
import { Mapping, type RowImpl } from "./field-mapping-apply";
import {
  CASES,
  MAX_ROWS,
  SOURCE_TYPES,
  UPDATE_POLICIES,
  type CaseTransform,
  type CompileResult,
  type SourceHooks,
  type SourceType,
  type TargetField,
  type UpdatePolicy,
} from "./field-mapping-rows";

const MAX_SOURCE_LENGTH = 10000;

/** Marketo REST field names: letters, digits, underscores (custom fields end in __c). */
const TARGET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

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
  const state: RowCompiler = { errors, warnings, fields, seen, policies, hooks };
  rowsInput.forEach((r, i) => {
    const row = compileRow(r, i, state);
    if (row) rows.push(row);
  });
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, mapping: new Mapping(rows, warnings, policies) };
}

/** What compiling the rows gathers as it goes: problems, remarks, and what rows have claimed. */
interface RowCompiler {
  errors: string[];
  warnings: string[];
  fields: Map<string, TargetField>;
  seen: Set<string>;
  policies: Record<string, Exclude<UpdatePolicy, "overwrite">>;
  hooks: SourceHooks;
}

/** Checks and compiles row `i`; a row that cannot work adds its error and gives undefined. */
function compileRow(r: unknown, i: number, state: RowCompiler): RowImpl | undefined {
  const { errors, warnings, fields, seen, policies, hooks } = state;
  const where = `row ${i + 1}`;
  if (!isRecord(r)) {
    errors.push(`${where} is not an object`);
    return undefined;
  }
  const target = r.target;
  if (typeof target !== "string" || target.trim() === "") {
    errors.push(`${where}: the target field is empty`);
    return undefined;
  }
  const at = `${where} (${target})`;
  if (UNSAFE_KEYS.has(target)) {
    errors.push(`${at}: "${target}" is not allowed as a field name`);
    return undefined;
  }
  if (!TARGET_NAME.test(target)) {
    errors.push(`${at}: a Marketo REST field name has only letters, digits and underscores`);
    return undefined;
  }
  if (seen.has(target)) errors.push(`${at}: the target field is mapped twice`);
  seen.add(target);
  const sourceType = r.sourceType ?? "msg";
  if (typeof sourceType !== "string" || !(SOURCE_TYPES as readonly string[]).includes(sourceType)) {
    errors.push(`${at}: unknown source type "${String(sourceType)}"`);
    return undefined;
  }
  const source = r.source ?? "";
  if (typeof source !== "string") {
    errors.push(`${at}: the source must be text`);
    return undefined;
  }
  if (source.length > MAX_SOURCE_LENGTH) {
    errors.push(`${at}: the source is longer than ${MAX_SOURCE_LENGTH} characters`);
    return undefined;
  }
  const kase = r.case ?? "none";
  if (typeof kase !== "string" || !(CASES as readonly string[]).includes(kase)) {
    errors.push(`${at}: case must be one of ${CASES.join(", ")}`);
    return undefined;
  }
  for (const b of ["trim", "required"] as const) {
    if (r[b] !== undefined && typeof r[b] !== "boolean") errors.push(`${at}: ${b} must be true or false`);
  }
  const dflt = r.default ?? "";
  if (typeof dflt !== "string" || dflt.length > MAX_SOURCE_LENGTH) {
    errors.push(`${at}: the default must be text (at most ${MAX_SOURCE_LENGTH} characters)`);
    return undefined;
  }
  const separator = r.separator ?? " ";
  if (typeof separator !== "string" || separator.length > 100) {
    errors.push(`${at}: the separator must be text (at most 100 characters)`);
    return undefined;
  }
  const update = r.update ?? "overwrite";
  if (typeof update !== "string" || !(UPDATE_POLICIES as readonly string[]).includes(update)) {
    errors.push(`${at}: update must be one of ${UPDATE_POLICIES.join(", ")}`);
    return undefined;
  }
  if (update !== "overwrite") {
    if (target === "email") {
      errors.push(`${at}: the email finds the lead, so it is always written`);
      return undefined;
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
    return undefined;
  }
  return row;
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
