/**
 * Applying a compiled mapping to one message: every row read, transformed, coerced to its
 * target field's type and checked, into a Marketo record and the list of its problems.
 */
import { errorText } from "../node-kit/guards";
import { typeName } from "./paths";
import { BLANK, coerceValue, MAX_TEXT_LENGTH } from "./field-coercion";
import { Absent, Missing, ShapeError, type Raw } from "./field-paths";
import type { CompiledMapping, CompiledRow, MapOutcome, Problem, UpdatePolicy } from "./field-mapping-rows";

/** A compiled row with what reading and checking it needs (set up once by compileMapping). */
export interface RowImpl extends CompiledRow {
  read?: (msg: unknown) => Raw;
  jsonata?: (msg: unknown) => Promise<unknown>;
  trim: boolean;
  caseFn: ((s: string) => string) | undefined;
  dflt: string | undefined;
  dataType: string | undefined;
  length: number | undefined;
  readOnly: boolean;
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

export class Mapping implements CompiledMapping {
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
