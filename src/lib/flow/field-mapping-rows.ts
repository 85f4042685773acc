/**
 * The field-mapper's settings: a mapping row as the node stores it (Marketo target field ←
 * source, transform, required flag, default, update policy), the target-field metadata cached
 * from Marketo, and the shapes a compiled mapping and its outcome take.
 */

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

export interface CompiledRow {
  readonly target: string;
  /** How the source reads in messages: "msg.payload.profile.email", "env FOO"... */
  readonly label: string;
  readonly required: boolean;
}

/** The most rows one mapping may have. */
export const MAX_ROWS = 500;
