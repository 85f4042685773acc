/**
 * The tag-filter's "Filters": rules on event, registration and profile fields and on
 * attendee-type tags, compiled once at deploy (paths, regexes, lists, numbers, dates) and then
 * evaluated per message with property reads and comparisons only. No Node-RED import.
 */
import {
  MAX_LIST,
  MAX_TEXT,
  asIsoDate,
  asNumber,
  formatPath,
  normTag,
  parsePath,
  readPath,
  show,
  showList,
  typeName,
  type PathSegment,
} from "./tag-filter-paths";

/** Where a rule reads: a field of the event, registration or profile, or the attendee-type tags. */
export const RULE_SCOPES = ["event", "registration", "profile", "attendeeTypeTags"] as const;
export type RuleScope = (typeof RULE_SCOPES)[number];

/**
 * equals, not equals, contains, does not contain, starts with, ends with, in list, not in list,
 * matches regex, does not match, exists, not exists, greater, less.
 */
export const RULE_OPERATORS = [
  "eq",
  "neq",
  "cont",
  "ncont",
  "starts",
  "ends",
  "in",
  "nin",
  "regex",
  "nregex",
  "exists",
  "nexists",
  "gt",
  "lt",
] as const;
export type RuleOperator = (typeof RULE_OPERATORS)[number];

/** One row of the Filters list as the editor saves it. */
export interface FilterRuleConfig {
  /** Which object the field is read from; default "event". */
  on?: RuleScope;
  /** Path relative to that object (`code`, `country`, `questions.marketoCampaignId`); unused for attendeeTypeTags. */
  field?: string;
  op?: RuleOperator;
  /** The value to compare with; a comma-separated list for "in". Unused for exists / nexists. */
  value?: string | number | boolean;
  /** Compare text ignoring case and surrounding spaces (always on for attendee-type tags). */
  ignoreCase?: boolean;
}

const OP_TEXT: Record<RuleOperator, string> = {
  eq: "equals",
  neq: "not equals",
  cont: "contains",
  ncont: "does not contain",
  starts: "starts with",
  ends: "ends with",
  in: "in list",
  nin: "not in list",
  regex: "matches regex",
  nregex: "does not match regex",
  exists: "exists",
  nexists: "does not exist",
  gt: "greater than",
  lt: "less than",
};

/** The objects a rule can read, already looked up for the message being evaluated. */
export interface RuleObjects {
  event: unknown;
  registration: unknown;
  profile: unknown;
}

/** A compiled rule: returns null when the message satisfies it, else the reason. */
export interface CompiledRule {
  readonly index: number;
  readonly description: string;
  test(objects: RuleObjects): string | null;
}

type Scalar = string | number | boolean;

/** A rule row read and checked: where it reads, how it compares, and the value it compares with. */
interface RuleShape {
  op: RuleOperator;
  scopeKey: keyof RuleObjects;
  fieldSegs: PathSegment[];
  /** The printable path of the field, used to name it in reasons. */
  label: string;
  /** Text compares ignoring case and surrounding spaces. */
  ci: boolean;
  /** The configured value as text ("" for exists / nexists). */
  text: string;
  needsValue: boolean;
}

/** What a compiled operator asks of each scalar, and how the expected value is shown in a reason. */
interface Comparison {
  holds: (s: Scalar) => boolean;
  expect: string;
}

/** Throws the Error that names the rule (1-based) and the problem. */
function ruleProblem(n: number, why: string): never {
  throw new Error(`filter rule ${n}: ${why}`);
}

/** Reads one row as the editor saves it, throwing for an unknown object, operator, bad field or missing value. */
function readRuleShape(raw: unknown, n: number, payloadPath: string): RuleShape {
  const fail = (why: string): never => ruleProblem(n, why);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) fail(`must be an object, not ${typeName(raw)}`);
  const r = raw as FilterRuleConfig;
  const on: RuleScope = r.on === undefined || r.on === null ? "event" : r.on;
  if (!(RULE_SCOPES as readonly string[]).includes(on))
    fail(`unknown object "${String(on)}" (use ${RULE_SCOPES.join(", ")})`);
  const op = r.op;
  if (typeof op !== "string" || !(RULE_OPERATORS as readonly string[]).includes(op)) {
    fail(`unknown operator "${String(op)}" (use ${RULE_OPERATORS.join(", ")})`);
  }
  const isTags = on === "attendeeTypeTags";
  const scopeKey: keyof RuleObjects = isTags ? "registration" : on;
  let fieldSegs: PathSegment[];
  if (isTags) fieldSegs = ["attendeeTypeTags"];
  else {
    try {
      fieldSegs = parsePath(r.field, "field");
    } catch (e) {
      return fail((e as Error).message);
    }
  }
  const label = `${payloadPath}.${scopeKey}.${formatPath(fieldSegs)}`;
  const ci = isTags || r.ignoreCase === true;

  const needsValue = op !== "exists" && op !== "nexists";
  let text = "";
  if (needsValue) {
    const v = r.value;
    if (typeof v === "number" || typeof v === "boolean") text = String(v);
    else if (typeof v === "string") text = v;
    else fail(`${OP_TEXT[op as RuleOperator]} needs a value`);
    if (text.length > MAX_TEXT) fail(`the value is longer than ${MAX_TEXT} characters`);
  }
  return { op: op as RuleOperator, scopeKey, fieldSegs, label, ci, text, needsValue };
}

/** Compiles the operator once (value list, regex, number or date), throwing for a value it cannot use. */
function compileComparison(shape: RuleShape, n: number): Comparison {
  const { op, ci, text } = shape;
  const fail = (why: string): never => ruleProblem(n, why);
  const cmp = ci ? normTag(text) : text;
  const norm = ci ? normTag : (s: string) => s;
  const expect = JSON.stringify(text);
  switch (op) {
    case "eq":
    case "neq": {
      const num = asNumber(text);
      return {
        holds: (s) => (typeof s === "number" && num !== undefined ? s === num : norm(String(s)) === cmp),
        expect,
      };
    }
    case "cont":
    case "ncont":
      if (cmp === "") fail(`${OP_TEXT[op]} needs a non-empty value`);
      return { holds: (s) => norm(String(s)).includes(cmp), expect };
    case "starts":
      if (cmp === "") fail(`starts with needs a non-empty value`);
      return { holds: (s) => norm(String(s)).startsWith(cmp), expect };
    case "ends":
      if (cmp === "") fail(`ends with needs a non-empty value`);
      return { holds: (s) => norm(String(s)).endsWith(cmp), expect };
    case "in":
    case "nin": {
      const items = text
        .split(",")
        .map((x) => (ci ? normTag(x) : x.trim()))
        .filter((x) => x !== "");
      if (items.length === 0) fail(`${OP_TEXT[op]} needs at least one comma-separated value`);
      const set = new Set(items);
      return { holds: (s) => set.has(norm(String(s))), expect: showList(items) };
    }
    case "regex":
    case "nregex": {
      if (text === "") fail(`${OP_TEXT[op]} needs a regular expression`);
      let re: RegExp;
      try {
        re = new RegExp(text, ci ? "i" : "");
      } catch (e) {
        return fail(`invalid regular expression ${JSON.stringify(text)}: ${(e as Error).message}`);
      }
      return { holds: (s) => re.test(String(s)), expect: String(re) };
    }
    case "gt":
    case "lt": {
      if (text.trim() === "") fail(`${OP_TEXT[op]} needs a value`);
      return { holds: orderedComparison(text, op === "gt" ? 1 : -1, cmp, norm), expect };
    }
    default:
      return { holds: () => true, expect };
  }
}

/** greater / less: as numbers when both are numbers, else as ISO dates when both are dates, else as text. */
function orderedComparison(
  text: string,
  sign: 1 | -1,
  cmp: string,
  norm: (s: string) => string,
): (s: Scalar) => boolean {
  const num = asNumber(text);
  const date = asIsoDate(text);
  return (s) => {
    if (num !== undefined) {
      const x = asNumber(s);
      if (x !== undefined) return (x - num) * sign > 0;
    }
    if (date !== undefined) {
      const t = asIsoDate(s);
      if (t !== undefined) return (t - date) * sign > 0;
    }
    const a = norm(String(s));
    return sign > 0 ? a > cmp : a < cmp;
  };
}

/**
 * Compiles one rule. `payloadPath` is the printable path of the payload (`msg.payload`), used to
 * name fields in reasons. Throws an Error naming the rule (1-based) and the problem.
 */
export function compileRule(raw: unknown, index: number, payloadPath: string): CompiledRule {
  const n = index + 1;
  const shape = readRuleShape(raw, n, payloadPath);
  const { op, label, text } = shape;
  const description = shape.needsValue ? `${label} ${OP_TEXT[op]} ${JSON.stringify(text)}` : `${label} ${OP_TEXT[op]}`;
  const comparison = compileComparison(shape, n);
  return { index: n, description, test: (objects) => testRule(shape, comparison, objects) };
}

/** Reads the rule's field from the message's objects: null when it holds, else the reason. */
function testRule(shape: RuleShape, comparison: Comparison, objects: RuleObjects): string | null {
  const { op, label } = shape;
  const { holds, expect } = comparison;
  const v = readPath(objects[shape.scopeKey], shape.fieldSegs);
  const present =
    v !== undefined &&
    v !== null &&
    !(typeof v === "string" && v.trim() === "") &&
    !(Array.isArray(v) && v.length === 0);
  if (op === "exists") return present ? null : `${label} is ${v === undefined ? "missing" : `empty (${show(v)})`}`;
  if (op === "nexists") return present ? `${label} has a value ${show(v)}` : null;
  if (v === undefined || v === null)
    return `${label} is ${v === undefined ? "missing" : "null"}; ${OP_TEXT[op]} ${expect} needs a value`;
  if (typeof v === "string") {
    if (v.length > MAX_TEXT) return `${label} is ${v.length} characters long (at most ${MAX_TEXT} are read)`;
    return explainVerdict(op, holds(v), v, label, expect);
  }
  if (typeof v === "number" || typeof v === "boolean") return explainVerdict(op, holds(v), v, label, expect);
  if (Array.isArray(v)) {
    if (op === "gt" || op === "lt") return `${label} is a list ${show(v)}; ${OP_TEXT[op]} compares one value`;
    if (v.length > MAX_LIST) return `${label} has ${v.length} entries (at most ${MAX_LIST} are read)`;
    let any = false;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === "string") {
        if (x.length > MAX_TEXT) return `${label}[${i}] is ${x.length} characters long (at most ${MAX_TEXT} are read)`;
      } else if (typeof x !== "number" && typeof x !== "boolean") {
        return `${label}[${i}] is ${typeName(x)}, not a text, number or true/false`;
      }
      if (!any && holds(x as Scalar)) any = true;
    }
    return explainVerdict(op, any, v, label, expect);
  }
  return `${label} is an object, not a value to compare`;
}

/**
 * null when the operator's outcome passes the message, else the reason, worded for one value or a
 * list. One table for every operator, so the wordings read side by side.
 */
function explainVerdict(op: RuleOperator, anyHolds: boolean, v: unknown, label: string, expect: string): string | null {
  const list = Array.isArray(v);
  switch (op) {
    case "eq":
      return anyHolds
        ? null
        : list
          ? `${label} ${show(v)} has no entry equal to ${expect}`
          : `${label} is ${show(v)}, not ${expect}`;
    case "neq":
      return anyHolds
        ? list
          ? `${label} ${show(v)} has an entry equal to ${expect}`
          : `${label} is ${show(v)}, which equals ${expect}`
        : null;
    case "cont":
      return anyHolds
        ? null
        : list
          ? `${label} ${show(v)} has no entry containing ${expect}`
          : `${label} ${show(v)} does not contain ${expect}`;
    case "ncont":
      return anyHolds
        ? list
          ? `${label} ${show(v)} has an entry containing ${expect}`
          : `${label} ${show(v)} contains ${expect}`
        : null;
    case "starts":
      return anyHolds
        ? null
        : list
          ? `${label} ${show(v)} has no entry starting with ${expect}`
          : `${label} ${show(v)} does not start with ${expect}`;
    case "ends":
      return anyHolds
        ? null
        : list
          ? `${label} ${show(v)} has no entry ending with ${expect}`
          : `${label} ${show(v)} does not end with ${expect}`;
    case "in":
      return anyHolds
        ? null
        : list
          ? `${label} ${show(v)} has no entry in ${expect}`
          : `${label} ${show(v)} is not in ${expect}`;
    case "nin":
      return anyHolds
        ? list
          ? `${label} ${show(v)} has an entry in ${expect}`
          : `${label} ${show(v)} is in ${expect}`
        : null;
    case "regex":
      return anyHolds
        ? null
        : list
          ? `${label} ${show(v)} has no entry matching ${expect}`
          : `${label} ${show(v)} does not match ${expect}`;
    case "nregex":
      return anyHolds
        ? list
          ? `${label} ${show(v)} has an entry matching ${expect}`
          : `${label} ${show(v)} matches ${expect}`
        : null;
    case "gt":
    case "lt":
      return anyHolds ? null : `${label} ${show(v)} is not ${OP_TEXT[op]} ${expect}`;
    default:
      return null;
  }
}
