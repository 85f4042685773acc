/**
 * marketo-custom-activity's logic without Node-RED: what Marketo's describe says a custom
 * activity type or custom object holds, which of the node's engagement fields that leaves to
 * send (and which are missing), and the record built from one engagement.
 */
import type { CustomActivity } from "../marketo";
import { coerceValue, isApiName, shown, type EngagementField } from "./engagement-fields";
import { isRecord } from "../node-kit/guards";

export * from "./engagement-fields";

export type Target = "activity" | "customObject";

export const DEFAULT_ACTIVITY_TYPE = "userSessionEngagement";
export const DEFAULT_CUSTOM_OBJECT = "kalturaUserSessionEngagement";
export const DEFAULT_LINK_FIELD = "personId";
/** Used when describe names no primary attribute. */
export const DEFAULT_PRIMARY = "entry_id";

/** One attribute or field as Marketo declares it. */
export interface DeclaredField {
  /** The name records use: the API name (custom activity attributes) or field name. */
  name: string;
  /** Also matched: an attribute's display name. */
  alias?: string;
  dataType: string;
  length?: number;
}

/** What describe says about the target. */
export interface TargetShape {
  target: Target;
  apiName: string;
  /** Custom activity type id. */
  typeId?: number;
  primary?: DeclaredField;
  /** Fields/attributes a record may carry (the primary attribute and the link field excluded). */
  fields: DeclaredField[];
  /** Custom object only. */
  dedupeFields?: string[];
  linkField?: string;
}

export type ShapeResult = { ok: true; shape: TargetShape } | { ok: false; message: string };

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

function declared(v: unknown): DeclaredField | undefined {
  if (!isRecord(v)) return undefined;
  const apiName = str(v.apiName);
  const name = apiName ?? str(v.name);
  if (!name) return undefined;
  // No declared type: the node's own (preset) type is used.
  const out: DeclaredField = { name, dataType: (str(v.dataType) ?? "").toLowerCase() };
  const display = str(v.displayName) ?? (apiName ? str(v.name) : undefined);
  if (display && display !== name) out.alias = display;
  if (typeof v.length === "number" && v.length > 0) out.length = v.length;
  return out;
}

const APPROVED = new Set(["approved", "approved with draft"]);

/**
 * A custom activity type from Describe Custom Activity Type (or one entry of List Custom
 * Activity Types with attributes). A type Marketo would refuse activities for is a problem here.
 */
export function activityShape(described: unknown, apiName: string): ShapeResult {
  if (!isRecord(described)) return { ok: false, message: `Marketo has no custom activity type ${apiName}` };
  const id =
    typeof described.id === "number"
      ? described.id
      : typeof described.id === "string" && /^\d+$/.test(described.id)
        ? Number(described.id)
        : undefined;
  if (!id || id <= 0) return { ok: false, message: `Marketo named no id for the custom activity type ${apiName}` };
  const status = str(described.status);
  if (status && !APPROVED.has(status.toLowerCase())) {
    return {
      ok: false,
      message: `the custom activity type ${apiName} is ${status}, not approved: approve it in Admin > Marketo Custom Activities`,
    };
  }
  const primary = declared(described.primaryAttribute);
  const attributes = Array.isArray(described.attributes)
    ? described.attributes.map(declared).filter((a): a is DeclaredField => a !== undefined)
    : [];
  return {
    ok: true,
    shape: {
      target: "activity",
      apiName,
      typeId: id,
      primary: primary ?? { name: DEFAULT_PRIMARY, dataType: "string" },
      fields: attributes.filter((a) => a.name !== primary?.name),
    },
  };
}

/** A custom object from Describe Custom Object: its updateable fields, dedupe fields and link field. */
export function customObjectShape(described: unknown, apiName: string, linkField: string): ShapeResult {
  if (!isRecord(described)) return { ok: false, message: `Marketo has no custom object ${apiName}` };
  const all = Array.isArray(described.fields) ? described.fields.filter(isRecord) : [];
  const link = all.find((x) => x.name === linkField);
  if (!link)
    return { ok: false, message: `the custom object ${apiName} has no field ${linkField} to link it to the lead` };
  const dedupeFields = Array.isArray(described.dedupeFields)
    ? described.dedupeFields.filter((x): x is string => typeof x === "string")
    : [];
  const fields = all
    .filter((x) => x.updateable !== false && x.name !== linkField)
    .map(declared)
    .filter((x): x is DeclaredField => x !== undefined);
  return { ok: true, shape: { target: "customObject", apiName, fields, dedupeFields, linkField } };
}

/** One field as it will be sent: the engagement property, the Marketo name and the declared type. */
export interface PlannedField {
  source: string;
  name: string;
  dataType: string;
  length?: number;
}

export interface Plan {
  shape: TargetShape;
  /** Fields the engagement supplies and the target holds (primary/dedupe fields included). */
  fields: PlannedField[];
  /** The primary attribute (activities): read from the engagement property of the same name. */
  primary?: PlannedField;
  /** Node fields the target lacks: left out of every record. */
  missing: string[];
  /** How many of the node's fields the target defines. */
  defined: number;
}

/** Which of `fields` the target holds; the rest are `missing`. The declared type wins over the preset's. */
export function planFields(fields: readonly EngagementField[], shape: TargetShape): Plan {
  const byName = new Map<string, DeclaredField>();
  for (const d of shape.fields) {
    byName.set(d.name, d);
    if (d.alias && !byName.has(d.alias)) byName.set(d.alias, d);
  }
  const planned: PlannedField[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  let defined = 0;
  const primaryName = shape.primary?.name;
  const add = (source: string, d: DeclaredField): void => {
    if (seen.has(d.name)) return;
    seen.add(d.name);
    const p: PlannedField = { source, name: d.name, dataType: d.dataType };
    if (d.length !== undefined) p.length = d.length;
    planned.push(p);
  };
  for (const field of fields) {
    if (field.name === primaryName || (shape.target === "customObject" && field.name === shape.linkField)) {
      defined++;
      continue;
    }
    const d = byName.get(field.name);
    if (!d) {
      missing.push(field.name);
      continue;
    }
    defined++;
    add(field.name, { ...d, dataType: d.dataType || field.type });
  }
  // A dedupe field is needed on every record even when the node's field list forgot it.
  for (const name of shape.dedupeFields ?? []) {
    if (name === shape.linkField) continue;
    const d = shape.fields.find((x) => x.name === name);
    if (d) add(name, { ...d, dataType: d.dataType || "string" });
  }
  const plan: Plan = { shape, fields: planned, missing, defined };
  if (shape.primary)
    plan.primary = {
      source: shape.primary.name,
      name: shape.primary.name,
      dataType: shape.primary.dataType || "string",
    };
  return plan;
}

/** The deploy-time warning about fields the target lacks, or undefined when it has them all. */
export function missingFieldsText(plan: Plan): string | undefined {
  if (plan.missing.length === 0) return undefined;
  const kind = plan.shape.target === "activity" ? "" : "custom object ";
  return `sent only the ${plan.defined} fields that ${kind}${plan.shape.apiName} defines; missing: ${plan.missing.join(", ")}`;
}

export type Built<T> = { ok: true; record: T } | { ok: false; message: string };

const MAX_REPORTED = 3;

/** The coerced values of one engagement; every field that cannot be coerced is named (up to 3). */
function valuesOf(plan: Plan, engagement: Record<string, unknown>): Built<Array<[string, unknown]>> {
  const out: Array<[string, unknown]> = [];
  const problems: string[] = [];
  for (const p of plan.fields) {
    const raw = Object.prototype.hasOwnProperty.call(engagement, p.source) ? engagement[p.source] : undefined;
    const c = coerceValue(p.name, p.dataType, raw, p.length);
    if (!c.ok) problems.push(c.message);
    else if (c.value !== undefined) out.push([p.name, c.value]);
  }
  if (problems.length > 0) {
    const more = problems.length > MAX_REPORTED ? ` (and ${problems.length - MAX_REPORTED} more)` : "";
    return { ok: false, message: problems.slice(0, MAX_REPORTED).join("; ") + more };
  }
  return { ok: true, record: out };
}

/** The engagement as an object, or why it is not one. */
export function engagementOf(value: unknown, where: string): Built<Record<string, unknown>> {
  if (isRecord(value)) return { ok: true, record: value };
  return {
    ok: false,
    message:
      value === undefined
        ? `no engagement at ${where}`
        : `the engagement at ${where} is not an object but ${shown(value)}`,
  };
}

/** One Add Custom Activities input record. */
export function buildActivity(
  plan: Plan,
  engagement: Record<string, unknown>,
  o: { leadId: number; activityDate: string },
): Built<CustomActivity> {
  const shape = plan.shape;
  const primary = plan.primary!;
  const raw = Object.prototype.hasOwnProperty.call(engagement, primary.source) ? engagement[primary.source] : undefined;
  const pv = coerceValue(primary.name, primary.dataType, raw);
  if (!pv.ok) return pv;
  if (pv.value === undefined || pv.value === "") {
    return { ok: false, message: `the engagement has no ${primary.name} (the primary attribute of ${shape.apiName})` };
  }
  const values = valuesOf(plan, engagement);
  if (!values.ok) return values;
  const activity: CustomActivity = {
    leadId: o.leadId,
    activityDate: o.activityDate,
    activityTypeId: shape.typeId!,
    primaryAttributeValue: String(pv.value),
  };
  if (values.record.length > 0) activity.attributes = values.record.map(([apiName, value]) => ({ apiName, value }));
  return { ok: true, record: activity };
}

/** One Sync Custom Objects input record, linked to the lead. */
export function buildCustomObject(
  plan: Plan,
  engagement: Record<string, unknown>,
  o: { leadId: number },
): Built<Record<string, unknown>> {
  const shape = plan.shape;
  const values = valuesOf(plan, engagement);
  if (!values.ok) return values;
  const record: Record<string, unknown> = Object.fromEntries(values.record);
  record[shape.linkField!] = o.leadId;
  const absent = (shape.dedupeFields ?? []).filter((f) => record[f] === undefined || record[f] === "");
  if (absent.length > 0) {
    return {
      ok: false,
      message: `the engagement has no ${absent.join(", ")} (dedupe field${absent.length > 1 ? "s" : ""} of ${shape.apiName})`,
    };
  }
  return { ok: true, record };
}

/** Checks the node's own settings; each problem is one short sentence. */
export function settingsProblems(s: {
  target: unknown;
  activityType: unknown;
  customObject: unknown;
  linkField: unknown;
}): string[] {
  const problems: string[] = [];
  if (s.target !== "activity" && s.target !== "customObject")
    problems.push(`unknown target ${shown(s.target)} (activity or customObject)`);
  else if (s.target === "activity" && !isApiName(s.activityType))
    problems.push(`the activity type ${shown(s.activityType)} is not an API name`);
  else if (s.target === "customObject") {
    if (!isApiName(s.customObject)) problems.push(`the custom object ${shown(s.customObject)} is not an API name`);
    if (!isApiName(s.linkField)) problems.push(`the link field ${shown(s.linkField)} is not an API name`);
  }
  return problems;
}
